"""A fresh clone: the README names every prerequisite; ../shared data skips outside CI (issue 10).

The data beside the repository (``../shared/realdata``, ``../shared/spec``) is
reached only through conftest's ``shared_data`` helper, which skips with a
reason when it is absent and fails under CI.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

TESTS = Path(__file__).resolve().parent


def test_readme_names_every_prerequisite() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("## Prerequisites") :]
    section = section[: section.index("\n## ", 1)]
    for needed in (
        "Python ≥ 3.11",
        "venv",
        "npm",
        "dicom3tools",
        "dcmtk",
        "../shared/realdata",
        "../shared/spec",
        "../shared/hl7-dicom-sr-ig",
        "CI=true",
    ):
        assert needed in section, needed


def test_only_conftest_knows_where_shared_data_is() -> None:
    for path in sorted(TESTS.glob("*.py")):
        if path.name in ("conftest.py", Path(__file__).name):
            continue
        text = path.read_text("utf-8")
        assert not re.search(
            r"ROOT\.parent|parent\.parent\s*/\s*\"shared\"|\"shared\"\s*/", text
        ), f"{path.name} reaches ../shared itself: use conftest.shared_data"


def _pytest(tmp_path: Path, ci: bool, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["DICOMSEL_REALDATA"] = str(tmp_path / "no-realdata")
    env["DICOMSEL_SPEC"] = str(tmp_path / "no-spec")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_missing_shared_data_skips_outside_ci_and_fails_in_ci(tmp_path: Path) -> None:
    argv = (
        "tests/test_snapshot1.py::test_schema_has_every_element_of_the_spec",
        "tests/test_realdata_kos.py",
    )
    outside = _pytest(tmp_path, False, *argv)
    assert outside.returncode == 0, outside.stdout
    assert "failed" not in outside.stdout and "skipped" in outside.stdout
    assert "../shared/spec not present" in outside.stdout
    assert "../shared/realdata not present" in outside.stdout
    inside = _pytest(tmp_path, True, *argv)
    assert inside.returncode == 1 and "CI must have ../shared/spec" in inside.stdout
    assert "CI must have ../shared/realdata" in inside.stdout
