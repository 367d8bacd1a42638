"""What every benchmark here shares: the baselines, the inputs, the child environment, timing.

Benchmarks time whole processes with the same interpreter, the repository's
``src`` first on ``PYTHONPATH`` so the working tree is what is measured.
The inputs are built with the project's own generators (``sample_dicom/kosgen.py``,
``tests/srfiles.py``, ``tests/segfiles.py``), imported on first use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _folder in (REPO / "tests", REPO / "sample_dicom"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

#: ``python -c BASELINE FILE``: read with pydicom and touch the value of every element.
BASELINE = """\
import sys
from pydicom import dcmread

def walk(ds):
    n = 0
    for elem in ds:
        elem.value
        n += 1
        if elem.VR == "SQ":
            for item in elem.value:
                n += walk(item)
    return n

walk(dcmread(sys.argv[1]))
"""


#: The start of a ``python -c`` script that prints the process's own peak RSS (``VmHWM``,
#: Linux) at exit as ``peak-rss-kb N`` on stderr. (The rusage of a child is no good here:
#: a vfork'ed child's maximum includes the parent's.)
PEAK_PRELUDE = """\
import atexit, runpy, sys

def peak():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                sys.stderr.write("peak-rss-kb " + line.split()[1] + "\\n")

atexit.register(peak)
"""


#: ``python -c IMAGES_BASELINE FOLDER N``: a bare loop of ``dcmread(stop_before_pixels=True)``
#: over the folder's files, sorted as dicomsel walks them; checks that there are N.
IMAGES_BASELINE = """\
import os, sys
from pydicom import dcmread

n = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for name in sorted(files):
        dcmread(os.path.join(root, name), stop_before_pixels=True)
        n += 1
assert n == int(sys.argv[2]), n
"""


#: ``python -c PARALLEL_CEILING P N``: 2 x N iterations of a pure-Python loop, in one process
#: (P = 1) or split over two forked ones (P = 2). Its 1-vs-2 wall ratio is what the machine
#: gives two processes that share nothing: on a VM with busy neighbours it is often well
#: under 2x, and bounds what ``--jobs 2`` can reach in the same run.
PARALLEL_CEILING = """\
import os, sys

def spin(n):
    x = 0
    for i in range(n):
        x += i
    return x

procs, n = int(sys.argv[1]), int(sys.argv[2])
if procs == 1:
    spin(2 * n)
else:
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            spin(n)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
"""


#: ``python -c PEAK_DICOMSEL ARGS``: ``python -m dicomsel ARGS`` that reports its own peak RSS
#: (see :data:`PEAK_PRELUDE`); ``--import-only`` only imports the CLI and the pipeline.
PEAK_DICOMSEL = (
    PEAK_PRELUDE
    + """\
sys.argv = ["dicomsel", *sys.argv[1:]]
if sys.argv[1:] == ["--import-only"]:
    import dicomsel.cli.main, dicomsel.pipeline  # noqa: E401
else:
    runpy.run_module("dicomsel", run_name="__main__")
"""
)


def peak_rss_kb(stderr: str) -> int | None:
    """The ``peak-rss-kb N`` that a :data:`PEAK_PRELUDE` process wrote last, if any."""
    kb = [line.split()[1] for line in stderr.splitlines() if line.startswith("peak-rss-kb ")]
    return int(kb[-1]) if kb else None


def child_env(src: Path | None = None) -> dict[str, str]:
    """The environment of a timed process: ``src`` (the working tree's) first on the path.

    Bytecode is written and read, as for an installed package (pip compiles a wheel's
    modules): under ``PYTHONDONTWRITEBYTECODE`` every run would compile the tree's
    modules again, which is no part of dicomsel's cost. :func:`compile_tree` compiles
    them beforehand.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    src = str(src or REPO / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def compile_tree(src: Path) -> None:
    """Compile every module under ``src`` to ``__pycache__`` (what installing a wheel does)."""
    import compileall

    if not compileall.compile_dir(str(src), quiet=1):
        raise SystemExit(f"error: compiling {src} failed")


def importable(module: str, env: dict[str, str]) -> bool:
    """Whether ``module`` can be found by a child process with ``env``."""
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    try:
        proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True)
    except OSError:
        return False
    return proc.returncode == 0


def run(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    """Wall time and stdout of a whole process; exit 1 with its stderr if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        sys.stderr.write(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
        raise SystemExit(1)
    return elapsed, proc.stdout


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall time of a whole process that must succeed."""
    return run(cmd, env)[0]


@dataclass(frozen=True)
class Sample:
    """One whole process: CPU time (user + system, its waited-for children included), wall time."""

    cpu: float
    wall: float
    peak_rss_kb: int | None = None


class CommandFailed(Exception):
    """A measured process exited with a status it should not have."""


def measure(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> Sample:
    """Run ``cmd`` to its end, its stdout discarded, and take its resource usage (``os.wait4``).

    Raises
    ------
    CommandFailed
        When the exit status is not in ``ok``; the message ends with its stderr's tail.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if proc.returncode not in ok:
        raise CommandFailed(f"exit {proc.returncode}: {' '.join(cmd)[:200]}\n{text[-2000:]}")
    return Sample(usage.ru_utime + usage.ru_stime, wall, peak_rss_kb(text))


# ---- the inputs


def build_kos(path: Path, refs: int, series: int = 20, studies: int = 2) -> None:
    """A KOS of ``refs`` Enhanced CT references in ``series`` series of ``studies`` studies.

    Every tenth reference has a frame number; every other series a Retrieve AE Title.
    """
    from kosgen import Ref, make_kos, save, uid

    if refs % series or series % studies:
        raise SystemExit("--refs must be a multiple of --series, --series of --studies")
    ns = "dicomsel-bench"
    enhanced_ct = "1.2.840.10008.5.1.4.1.1.2.1"  # multi-frame, so frame references are valid
    per_series = refs // series
    items = []
    for s in range(series):
        study_uid = uid(ns, "study", s % studies)
        series_uid = uid(ns, "series", s)
        ae = f"AE{s % studies}" if s % 2 == 0 else None
        for i in range(per_series):
            frames = (1 + i % 3,) if i % 10 == 0 else ()
            items.append(
                Ref(
                    study_uid,
                    series_uid,
                    enhanced_ct,
                    uid(ns, "instance", s, i),
                    frames=frames,
                    retrieve_ae=ae,
                )
            )
    ds = make_kos(
        items,
        description=f"Benchmark selection of {refs} instances",
        observer_name="Bench^Mark",
        uid=uid(ns, "kos"),
        series_uid=uid(ns, "kos-series"),
        accession="BENCH-1",
        study_date="20240102",
        study_time="100000",
        study_id="BENCH",
        tz_offset="+0000",
    )
    save(ds, path)


def build_sr(path: Path, groups: int) -> None:
    """A TID 1500 report of ``groups`` planar groups (``srfiles.bench_report``, highdicom)."""
    from srfiles import bench_report, save

    save(bench_report(groups), path)


def build_seg(path: Path, frames: int, segments: int = 50, undefined_length: bool = True) -> int:
    """A binary SEG of ``frames`` 64x64 frames over ``segments`` segments; return its size."""
    from segfiles import seg_header, write_seg

    return write_seg(seg_header(frames, segments, undefined_length=undefined_length), path)


def build_images(folder: Path, files: int, series: int) -> None:
    """``files`` single-frame 64x64 CT images (copies of CT_small) in ``series`` series."""
    from segfiles import ct_slices

    per_series = -(-files // series)
    written = 0
    for s in range(series):
        n = min(per_series, files - written)
        for i, ds in enumerate(ct_slices(n, name=f"bench-images-{s}", size=64)):
            ds.save_as(folder / f"s{s:03d}_{i:05d}.dcm", enforce_file_format=True)
        written += n
