"""What a cheap command imports: no FHIR models, no validators, no highdicom (issue 14).

``dicomsel --help`` and ``dicomsel convert`` of a tiny KOS under the default
``--validate fast`` run in a fresh interpreter; afterwards ``sys.modules`` must
hold none of the heavy packages. numpy is not in the list: pydicom 3's
``pydicom/config.py`` imports it whenever it is installed (``have_numpy``), so
``import pydicom`` alone loads it; nor is importlib.metadata, which
``import pydicom`` loads through pydicom.data -> requests -> urllib3. dicomsel's
own ``__version__`` is read only when asked for (:func:`test_version_is_lazy`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, SAMPLES

HEAVY = ("fhir.resources", "fhir_core", "pydantic", "jsonschema", "highdicom")

_PROBE = """
import contextlib, io, json, sys
from dicomsel.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _probe(source: str, *argv: str, drop: tuple[str, ...] = (), **env: str) -> dict[str, Any]:
    """Run ``source`` in a new interpreter on this tree; what it printed last, as JSON.

    ``drop`` are environment variables it runs without; ``env`` are set for it.
    """
    base = {k: v for k, v in os.environ.items() if k not in drop}
    proc = subprocess.run(
        [sys.executable, "-c", source, *argv],
        env={**base, "PYTHONPATH": str(ROOT / "src"), **env},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    seen: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return seen


def _modules(*argv: str, validate: str | None = None) -> tuple[int, set[str]]:
    env = {"DICOMSEL_VALIDATE": validate} if validate else {}
    doc = _probe(_PROBE, *argv, drop=("DICOMSEL_VALIDATE",), **env)
    return doc["code"], set(doc["modules"])


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_nothing_heavy() -> None:
    code, modules = _modules("--help")
    assert code == 0
    assert _heavy(modules) == []


def test_tiny_kos_conversion_imports_nothing_heavy(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    code, modules = _modules("convert", str(SAMPLES / "kos_single_frame.dcm"), "-o", str(out))
    assert code == 0
    assert json.loads(out.read_text())["resourceType"] == "Bundle"
    assert _heavy(modules) == []
    assert "dicomsel.fhir.r5.check" in modules  # validated all the same, by the fast check
    assert sorted(m for m in modules if m.startswith("dicomsel.kos")) == []  # to-kos's writer
    others = ("sr", "seg", "rtstruct", "pstate", "bulkann", "graphics")  # the other readers
    assert sorted(m for m in modules if m.split(".")[2:3] in ([o] for o in others)) == []


@pytest.mark.parametrize("how", ["option", "env"])
def test_full_validation_imports_the_models(tmp_path: Path, how: str) -> None:
    """The probe can see them: under full the models are imported."""
    out = tmp_path / "out.json"
    argv = ["convert", str(SAMPLES / "kos_single_frame.dcm"), "-o", str(out)]
    if how == "option":
        code, modules = _modules(*argv, "--validate", "full")
    else:
        code, modules = _modules(*argv, validate="full")
    assert code == 0
    assert "fhir.resources" in modules and "pydantic" in modules


def test_version_is_lazy() -> None:
    """``import dicomsel`` does not read the metadata; ``dicomsel.__version__`` does."""
    src = (ROOT / "src" / "dicomsel" / "__init__.py").read_text(encoding="utf-8")
    assert "importlib.metadata" not in src  # dicomsel.exports reads it when asked
    probe = "import dicomsel; print(dicomsel.__version__)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() not in ("", "None")
    code, _ = _modules("--version")
    assert code == 0


def test_bad_env_value_is_a_usage_error(tmp_path: Path) -> None:
    code, _ = _modules(
        "convert",
        str(SAMPLES / "kos_single_frame.dcm"),
        "-o",
        str(tmp_path / "o.json"),
        validate="thorough",
    )
    assert code == 2


#: What a tiny R5 JSON conversion has no use for (issue 14: each was tens of ms of start-up).
NOT_FOR_A_TINY_CONVERSION = (
    "dicomsel.fhir.snapshot1",  # the other flavour
    "dicomsel.fhir.xml",  # --xml / Turtle
    "dicomsel.fhir.models",
    "dicomsel.fhir.dicomsr",  # --profile dicom-sr
    "dicomsel.export.dask",  # --dask
    "dicomsel.io.memory",
    "multiprocessing",  # --jobs > 1
    "concurrent.futures.process",
)


def test_tiny_kos_conversion_imports_no_other_flavour_or_format(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    code, modules = _modules("convert", str(SAMPLES / "kos_single_frame.dcm"), "-o", str(out))
    assert code == 0
    loaded = [m for m in NOT_FOR_A_TINY_CONVERSION if m in modules]
    assert loaded == []
    assert "dicomsel.fhir.r5.write" in modules


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["--fhir", "r5-snapshot1"], "dicomsel.fhir.snapshot1.write"),
        (["--xml"], "dicomsel.fhir.xml"),
        (["--jobs", "2"], "concurrent.futures.process"),
    ],
)
def test_what_an_option_needs_is_imported_when_asked(
    tmp_path: Path, argv: list[str], module: str
) -> None:
    out = tmp_path / ("out.xml" if "--xml" in argv else "out.json")
    code, modules = _modules("convert", str(SAMPLES), "-o", str(out), *argv)
    assert code in (0, 3)
    assert module in modules
    assert out.stat().st_size > 0


def test_flavour_names_are_their_packages_names() -> None:
    from dicomsel.fhir import FLAVOURS

    assert sorted(FLAVOURS) == ["r5", "r5-snapshot1"]
    for name, package in FLAVOURS.items():
        assert name == package.NAME


_GC_PROBE = """
import atexit, gc, json, sys
from dicomsel.cli import main as m

seen = {}
done = m._start_up_done

def spy():
    seen["paused during start-up"] = not gc.isenabled()
    done()
    seen["enabled after"] = gc.isenabled()
    seen["frozen"] = gc.get_freeze_count()

m._start_up_done = spy
atexit.register(lambda: print(json.dumps(seen)))
sys.argv = ["dicomsel", *sys.argv[1:]]
m.run()
"""


def test_the_console_script_pauses_the_collector_only_for_its_start_up(tmp_path: Path) -> None:
    """``run()`` pauses the cyclic GC while it imports, then freezes what was imported."""
    argv = ["convert", str(SAMPLES / "kos_single_frame.dcm"), "-o", str(tmp_path / "o.json")]
    seen = _probe(_GC_PROBE, *argv)
    assert seen["paused during start-up"] and seen["enabled after"]
    assert seen["frozen"] > 10_000  # pydicom's, numpy's and dicomsel's objects


def test_main_leaves_the_collector_to_its_caller(tmp_path: Path) -> None:
    """A library caller of ``main()`` keeps its own collector settings."""
    import gc

    from dicomsel.cli.main import main

    before = gc.get_freeze_count()
    out = tmp_path / "o.json"
    assert main(["convert", str(SAMPLES / "kos_single_frame.dcm"), "-o", str(out)]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == before


_LAZY_PROBE = """
import atexit, json, sys

def after():
    from dicomsel.cli import startup
    seen = {
        "urllib3 imported": "urllib3" in sys.modules,
        "requests": type(sys.modules.get("requests")).__name__,
        "tqdm": type(sys.modules.get("tqdm")).__name__,
        "urllib.request": type(sys.modules.get("urllib.request")).__name__,
        "ssl imported": "ssl" in sys.modules,
        "finder left": any(isinstance(f, startup._Deferring) for f in sys.meta_path),
    }
    # what uses requests gets all of it: dicomweb-client's session, the FHIR sink's errors
    import dicomweb_client
    import dicomsel.io.fhirserver as fhirserver

    client = dicomweb_client.DICOMwebClient(url="http://127.0.0.1:9/dicom-web")
    import requests

    seen["session"] = type(client._session).__name__
    seen["errors"] = [e.__name__ for e in fhirserver._CONNECTION_ERRORS][:1]
    seen["requests after use"] = type(requests).__name__
    seen["urllib3 after use"] = "urllib3" in sys.modules
    seen["urllib.request after use"] = type(sys.modules["urllib.request"]).__name__
    print(json.dumps(seen))

atexit.register(after)
sys.argv = ["dicomsel", *sys.argv[1:]]
from dicomsel.cli.main import run
run()
"""


def test_pydicoms_download_helpers_load_only_when_used(tmp_path: Path) -> None:
    """The console script defers requests, tqdm, urllib.request (pydicom's downloads) until used."""
    argv = ["convert", str(SAMPLES / "kos_single_frame.dcm"), "-o", str(tmp_path / "o.json")]
    seen = _probe(_LAZY_PROBE, *argv)
    assert seen["urllib3 imported"] is False
    assert seen["requests"] == seen["tqdm"] == seen["urllib.request"] == "_LazyModule"
    assert seen["ssl imported"] is False  # urllib.request's http.client, ssl, email
    assert seen["finder left"] is False
    assert seen["session"] == "Session" and seen["errors"] == ["ConnectionError"]
    assert seen["requests after use"] == "module" and seen["urllib3 after use"] is True
    assert seen["urllib.request after use"] == "module"  # requests.compat imports from it


def test_deferring_is_not_for_a_package_already_imported() -> None:
    """In a process that has requests already (the tests' own), nothing is deferred."""
    import requests

    from dicomsel.cli import startup

    startup.defer_imports()
    try:
        assert not any(isinstance(f, startup._Deferring) for f in sys.meta_path)
        assert type(requests).__name__ == "module"
    finally:
        startup.resume_imports()


_THREADS_PROBE = """
import atexit, json, os, sys

def after():
    tasks = len(os.listdir("/proc/self/task"))  # the process's threads, native ones included
    seen = {"threads": tasks, "numpy": "numpy" in sys.modules}
    seen["OPENBLAS_NUM_THREADS"] = os.environ.get("OPENBLAS_NUM_THREADS")
    print(json.dumps(seen))

atexit.register(after)
if sys.argv[1] == "plain":
    import numpy
else:
    sys.argv = ["dicomsel", *sys.argv[2:]]
    from dicomsel.cli.main import run
    run()
"""


#: what OpenBLAS reads for its thread count (Dask's LocalCluster sets them in its parent's
#: environment, so a test run that started one has them)
_BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def _threads(*argv: str, **env: str) -> dict[str, Any]:
    return _probe(_THREADS_PROBE, *argv, drop=_BLAS_THREAD_VARS, **env)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="no /proc/self/task here")
def test_the_console_script_starts_no_blas_threads(tmp_path: Path) -> None:
    """numpy (imported by pydicom) would start OpenBLAS's thread pool; dicomsel does no BLAS.

    The console script asks for one BLAS thread unless the user set OPENBLAS_NUM_THREADS:
    the process stays single-threaded, so its forked workers copy no thread pool.
    """
    argv = ["convert", str(SAMPLES / "kos_single_frame.dcm"), "-o", str(tmp_path / "o.json")]
    seen = _threads("cli", *argv)
    assert seen["numpy"] is True  # pydicom imports it: the pool would exist
    assert seen["threads"] == 1 and seen["OPENBLAS_NUM_THREADS"] == "1"
    kept = _threads("cli", *argv, OPENBLAS_NUM_THREADS="2")
    assert kept["OPENBLAS_NUM_THREADS"] == "2"
    if (os.cpu_count() or 1) > 1:  # the check can fail: plain numpy starts the pool here
        assert _threads("plain")["threads"] > 1
        assert kept["threads"] == 2  # (OpenBLAS starts no more threads than CPUs)
