"""Shared fixtures: real data location, sample generator, CLI runner."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the data beside the repository that some tests read (README, "Prerequisites"); each
#: folder can be moved with an environment variable
SHARED = ROOT.parent / "shared"
REALDATA = Path(os.environ.get("DICOMSEL_REALDATA", SHARED / "realdata"))
SPEC = Path(os.environ.get("DICOMSEL_SPEC", SHARED / "spec"))
SAMPLES = ROOT / "sample_dicom"
GOLDEN = Path(__file__).resolve().parent / "golden"

# every resource a test makes also gets the full validation (fhir.resources, jsonschema);
# the CLI's default is the fast check alone (docs/validation.md)
os.environ["DICOMSEL_VALIDATE"] = "full"

# the sample generator's KOS builder (sample_dicom/kosgen.py) is used by tests too
sys.path.insert(0, str(SAMPLES))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def shared_data(path: Path, what: str) -> Path:
    """``path``, in the data beside the repository, or skip when it is absent (fail under CI).

    Parameters
    ----------
    path : Path
        The file or folder a test reads.
    what : str
        The folder it comes from, as the README names it (``../shared/realdata``).
    """
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI must have {what}")
        pytest.skip(f"{path} is missing ({what} not present; see README, Prerequisites)")
    return path


def realdata(name: str) -> Path:
    """A file of ../shared/realdata, or skip (fail under CI) when the folder is absent."""
    return shared_data(REALDATA / name, "../shared/realdata")


def spec(name: str) -> Path:
    """A file of ../shared/spec (the project's specification texts), or skip (fail under CI)."""
    return shared_data(SPEC / name, "../shared/spec")


def realdata_files(prefix: str) -> list[str]:
    """Names of real files starting with ``prefix`` (empty when the folder is absent)."""
    if not REALDATA.is_dir():
        return []
    return sorted(
        p.name for p in REALDATA.iterdir() if p.name.startswith(prefix) and p.suffix == ".dcm"
    )


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Call ``dicomsel.cli.main.main(argv)``; return (exit code, stdout, stderr)."""
    from dicomsel.cli.main import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def resources_of(text: str) -> list[dict[str, Any]]:
    """The resources of a Bundle or NDJSON text, each checked against HL7's R5 package.

    The Bundle itself is validated too. Outside CI this skips when HL7's package
    is not cached (``make test`` fetches it); in CI it fails instead.
    """
    from hl7_r5 import assert_valid_r5

    resources = _parse(text)
    for r in resources:
        assert_valid_r5(r)
    return resources


def _parse(text: str) -> list[dict[str, Any]]:
    text = text.strip()
    if not text:
        return []
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:  # NDJSON: one resource a line
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if doc.get("resourceType") == "Bundle":
        from hl7_r5 import assert_valid_r5

        assert_valid_r5(doc)
        return [e["resource"] for e in doc.get("entry", ())]
    return [doc]


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real Orthanc with DICOMweb on loopback for the whole session (:mod:`pacs`).

    Tests that need a known content call ``orthanc.clear()`` then ``orthanc.upload(paths)``.
    Skips without Orthanc (fails under CI).
    """
    from pacs import start_orthanc

    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        yield server
    finally:
        server.stop()
