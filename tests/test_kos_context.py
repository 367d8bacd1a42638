"""Where the reverse path finds what the selections do not say (``dicomsel.kos.context``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicomsel.errors import InvalidInputError
from dicomsel.kos import Context
from dicomsel.model import ActorKind, Identifier, Reference

from kosfiles import basic_kos, write


def test_folders_are_walked_and_what_is_not_dicom_skipped(tmp_path: Path) -> None:
    write(basic_kos(), tmp_path / "a" / "b", "k.dcm")
    (tmp_path / "a" / "notes.txt").write_text("not DICOM")
    (tmp_path / "empty").mkdir()
    ctx = Context.from_paths([tmp_path / "a", tmp_path / "empty"])
    assert len(ctx.instances) == 1 and len(ctx.patients) == 1
    assert ctx.notes == [f"context: {tmp_path / 'a' / 'notes.txt'} skipped (not DICOM)"]


def test_named_paths_must_exist_and_be_dicom(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no such context file"):
        Context.from_paths([tmp_path / "nope"])
    (tmp_path / "notes.txt").write_text("not DICOM")
    with pytest.raises(InvalidInputError, match="context file cannot be used"):
        Context.from_paths([tmp_path / "notes.txt"])


def test_patient_resources_by_subject() -> None:
    ctx = Context()
    ctx.add_patient_resources(
        {"p1": {"resourceType": "Patient", "identifier": [{"value": "PAT-1"}], "gender": "male"}}
    )
    found = ctx.patient_resource(Reference(ActorKind.PATIENT, identifier=Identifier("PAT-1")))
    assert found is not None
    assert (found.patient_id, found.sex, found.source) == ("PAT-1", "M", "Patient/p1 in the input")
    assert (
        ctx.patient_resource(Reference(ActorKind.PATIENT, identifier=Identifier("PAT-2"))) is None
    )
