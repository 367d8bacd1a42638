"""The real DICOM validators: dicom3tools' dciodvfy and dcmtk's dsrdump.

``make test`` installs them (Debian packages ``dicom3tools`` and ``dcmtk``)
when it can. Without them the tests that need them skip with a reason; in CI
(environment variable ``CI`` set) they fail instead: CI never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["assert_valid_kos", "dciodvfy_errors", "dsrdump_problems", "require"]

_PACKAGES = {"dciodvfy": "dicom3tools", "dsrdump": "dcmtk"}
#: dsrdump warnings that say nothing about the file: it checks no template constraints, and
#: its VR checker (dcmtk 3.6.7) cannot check UTF-8 (ISO_IR 192) text
_HARMLESS = (
    "Check for template constraints not yet supported",
    "VR checker does not support this Specific Character Set: ISO_IR 192",
)


def require(tool: str) -> str:
    """The path of ``tool``; skip without it (fail under CI)."""
    path = shutil.which(tool)
    if path is None:
        why = (
            f"{tool} is not installed (Debian package {_PACKAGES.get(tool, tool)}; "
            "`make dicomtools` installs it as root)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must have it")
        pytest.skip(why)
    return path


def dciodvfy_errors(path: str | Path) -> list[str]:
    """The ``Error`` lines dciodvfy prints for a file (it reports on stderr)."""
    proc = subprocess.run(
        [require("dciodvfy"), str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    lines = (proc.stdout + proc.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")]


def dsrdump_problems(path: str | Path) -> list[str]:
    """Why dsrdump is not happy with a file: a non-zero exit, error / fatal lines, or warnings.

    Its one warning for every SR (it checks no template constraints) is not counted.
    """
    proc = subprocess.run(
        [require("dsrdump"), str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    problems = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.startswith(("E:", "F:"))
        or (line.startswith("W:") and not any(ok in line for ok in _HARMLESS))
    ]
    if proc.returncode != 0:
        problems.insert(0, f"dsrdump exit code {proc.returncode}")
    if "Key Object Selection Document" not in proc.stdout:
        problems.append("dsrdump did not print a Key Object Selection Document")
    return problems


def assert_valid_kos(path: str | Path) -> None:
    """No ``Error`` line from dciodvfy, and dsrdump parses the document."""
    errors = dciodvfy_errors(path)
    assert not errors, f"dciodvfy on {path}:\n" + "\n".join(errors)
    problems = dsrdump_problems(path)
    assert not problems, f"dsrdump on {path}:\n" + "\n".join(problems)
