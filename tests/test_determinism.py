"""Issue 10 item 9: the same input gives the same bytes whatever --jobs, TZ, locale or hash seed.

The CLI runs in subprocesses (``python -m dicomsel convert sample_dicom ...``) so
that ``TZ`` and ``LC_ALL`` reach the interpreter from its start, as they do for a user.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES

BASE = {"TZ": "UTC", "LC_ALL": "C", "PYTHONHASHSEED": "0"}
#: one setting changed at a time, then all of them
VARIANTS = {
    "tz": ({"TZ": "Asia/Kolkata"}, "1"),
    "locale": ({"LC_ALL": "C.UTF-8"}, "1"),
    "jobs": ({}, "2"),
    "all": ({"TZ": "Asia/Kolkata", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "12345"}, "2"),
}


def _installed(locale_name: str) -> bool:
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout
    wanted = locale_name.lower().replace("-", "")
    return any(line.strip().lower().replace("-", "") == wanted for line in out.splitlines())


def _convert(tmp: Path, fmt: str, env_over: dict[str, str], jobs: str) -> tuple[int, bytes, bytes]:
    env = dict(os.environ)
    env.update(BASE)
    env.update(env_over)
    env.pop("LANG", None)
    env.pop("LANGUAGE", None)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    out, report = tmp / "out", tmp / "report.json"
    for p in (out, report):
        p.unlink(missing_ok=True)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "dicomsel", "convert", str(SAMPLES), "--format", fmt),
            *("-o", str(out), "--report", str(report), "--jobs", jobs),
        ],
        env=env,
        capture_output=True,
        check=False,
    )
    assert out.exists(), proc.stderr.decode()
    return proc.returncode, out.read_bytes(), report.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["bundle", "ndjson"])
def test_output_is_byte_identical_across_jobs_tz_and_locale(fmt: str, tmp_path: Path) -> None:
    if not _installed("C.UTF-8"):
        pytest.skip("the C.UTF-8 locale is not installed")
    base = _convert(tmp_path, fmt, {}, "1")
    assert base[0] == 0 and base[1]
    for name, (env, jobs) in VARIANTS.items():
        assert _convert(tmp_path, fmt, env, jobs) == base, f"{name} changed the output"


def test_the_settings_reach_the_child(tmp_path: Path) -> None:
    """The variants are real: the child sees a different local time and locale."""
    probe = (
        "import locale, time; locale.setlocale(locale.LC_ALL, '');"
        "print(time.strftime('%z', time.localtime(0)), locale.getlocale()[1])"
    )
    outs = set()
    for env_over in ({}, VARIANTS["all"][0]):
        env = {**os.environ, **BASE, **env_over}
        outs.add(
            subprocess.run(
                [sys.executable, "-c", probe], env=env, capture_output=True, text=True
            ).stdout
        )
    assert len(outs) == 2, outs
