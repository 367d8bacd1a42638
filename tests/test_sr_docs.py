"""docs/sr.md against its sources: the IG's ConceptMaps row by row, and the UMLS system URI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dicomsel import terminology
from dicomsel.fhir.datatypes import coding
from dicomsel.model import Code

from conftest import SHARED

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "sr.md"
IG = SHARED / "hl7-dicom-sr-ig"
SECTION = "## The IG's ConceptMaps, row by row"


def _short(cm_id: str) -> str:
    return cm_id.removeprefix("dicom-").removesuffix("-to-fhir")


def _ig_rows() -> set[tuple[str, str]]:
    files = sorted(IG.glob("ConceptMap-*.json"))
    if not files:
        pytest.skip(f"no ConceptMap in {IG}")
    rows = set()
    for f in files:
        cm = json.loads(f.read_text())
        for group in cm.get("group") or []:
            for el in group.get("element") or []:
                rows.add((_short(cm["id"]), el["code"]))
    return rows


def _doc_rows() -> set[tuple[str, str]]:
    text = DOC.read_text()
    assert SECTION in text, f"{DOC} has no section {SECTION!r}"
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in body.splitlines():
        m = re.match(r"\| ([a-z-]+) \| `([^`]+)` \|", line)
        if m:
            rows.add((m.group(1), m.group(2)))
    return rows


def test_every_conceptmap_source_concept_has_a_row() -> None:
    ig, doc = _ig_rows(), _doc_rows()
    assert not ig - doc, f"ConceptMap rows missing from docs/sr.md: {sorted(ig - doc)}"
    assert not doc - ig, f"docs/sr.md rows no ConceptMap has: {sorted(doc - ig)}"


def test_umls_system_the_doc_states_is_the_one_written() -> None:
    """The UMLS URI of docs/sr.md is what dicomsel writes, the IG's (and HL7 THO's) URI."""
    written = coding(Code(value="C0034375", scheme="UMLS"))
    assert written is not None
    system = written["system"]
    assert system == terminology.system_for_scheme("UMLS")
    text = DOC.read_text()
    stated = set(re.findall(r"UMLS is written `([^`]+)`", text))
    assert stated == {system}
    ig_systems = set(re.findall(r'"system"\s*:\s*"([^"]*umls[^"]*)"', _ig_text()))
    assert ig_systems == {system}


def _ig_text() -> str:
    files = sorted(IG.glob("*.json"))
    if not files:
        pytest.skip(f"{IG} is absent")
    return "".join(f.read_text() for f in files)


def test_profile_placeholder_points_to_its_page() -> None:
    text = DOC.read_text()
    body = text.split("## `--profile dicom-sr`", 1)
    assert len(body) == 2, "docs/sr.md has no --profile dicom-sr section"
    assert "profile-dicom-sr.md" in body[1].split("\n## ", 1)[0]
