"""What every benchmark here shares: the pydicom baseline, the child environment, timing.

Benchmarks time whole processes with the same interpreter, the repository's
``src`` first on ``PYTHONPATH`` so the working tree is what is measured.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

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


def child_env() -> dict[str, str]:
    """The environment of a timed process: the working tree's ``src`` first on the path."""
    env = dict(os.environ)
    src = str(REPO / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


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
