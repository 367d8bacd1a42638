"""KOS -> ImagingSelection -> KOS keeps the title and the reference set, and reads back the same.

For every KOS in ../shared/realdata and sample_dicom/ (through the command
line, with the real validators on every KOS produced) and for Hypothesis-
generated KOS (in process: 500 examples for the round trip, 20 of them also
through dciodvfy and dsrdump). The produced KOS converts back to the same
ImagingSelections as the original, but for what names the new document
(resource ids, identifier).
"""

from __future__ import annotations

import io
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset

from dicomsel import terminology
from dicomsel.dicom import read_dataset, read_file
from dicomsel.dicom.context import ReadOptions, ReadResult
from dicomsel.fhir import from_imaging_selection, r5, read_fhir
from dicomsel.kos import Context, write_kos
from dicomsel.model import Identifier, Selection

from conftest import REALDATA, SAMPLES, realdata, realdata_files
from kosgen import Ref, make_kos, uid
from validators import assert_valid_kos

RefSet = set[tuple[str | None, str | None, str, str | None, tuple[int, ...], tuple[int, ...]]]


def reference_set(result: ReadResult) -> RefSet:
    """(study, series, instance, class, frames, segments) of every selected instance."""
    return {
        (s.study_instance_uid, s.series_instance_uid, i.uid, i.sop_class_uid, i.frames, i.segments)
        for s in result.selections
        for i in s.instances
    }


def title_of(result: ReadResult) -> tuple[str | None, str | None]:
    codes = {(s.code.value, s.code.scheme) for s in result.selections}
    assert len(codes) == 1
    return next(iter(codes))


def comparable(selections: list[Selection]) -> list[Selection]:
    """Selections without what names the document they were read from."""
    return sorted(
        (replace(s, key="", source_uid="2.25.1", identifiers=()) for s in selections),
        key=lambda s: (s.study_instance_uid or "", s.series_instance_uid or ""),
    )


# --- every real and sample KOS, through the command line -------------------------------

KOS_FILES = [
    pytest.param(REALDATA / n, id=n, marks=pytest.mark.realdata)
    for n in realdata_files("ko_") or ["ko_ihe_xdsi_manifest_mr_36inst.dcm"]
]
SAMPLE_FILES = [pytest.param(p, id=p.name) for p in sorted(SAMPLES.glob("kos_*.dcm"))]


def _context_for(path: Path) -> list[str]:
    """The KOS itself, and the images beside it when the real data has them."""
    images = path.with_name(path.stem + "_images")
    return [str(path)] + ([str(images)] if images.is_dir() else [])


@pytest.mark.parametrize("path", KOS_FILES + SAMPLE_FILES)
def test_kos_to_fhir_to_kos(path: Path, tmp_path: Path, run_cli: Any) -> None:
    if path.parent == REALDATA:
        realdata(path.name)
    code, out, err = run_cli("convert", path, "--format", "ndjson", "--timezone", "+00:00")
    assert code == 0, err
    fhir = tmp_path / "in.ndjson"
    fhir.write_text(out)
    (tmp_path / "out").mkdir()  # to-kos never creates the -o folder
    code, out, err = run_cli(
        "to-kos", fhir, "--context", *_context_for(path), "-o", f"{tmp_path}/out/"
    )
    assert code == 0, err
    (written,) = [Path(p) for p in out.split()]
    assert written.parent == tmp_path / "out"
    assert_valid_kos(written)

    before = read_file(path, ReadOptions(timezone="+00:00"))
    after = read_file(written)
    assert title_of(after) == title_of(before)
    assert reference_set(after) == reference_set(before)
    assert "warning" not in err  # nothing of a KOS is lost on the way back

    # the produced KOS converts back to the same ImagingSelections
    code, again, err = run_cli("convert", written, "--format", "ndjson")
    assert code == 0, err
    first = read_fhir("first", text=fhir.read_text()).selections
    second = read_fhir("second", text=again).selections
    assert comparable(second) == comparable(first)
    assert all(s.identifiers[0] == Identifier.dicom_uid(after.sop_instance_uid) for s in second)


@pytest.mark.realdata
def test_pet_manifest_with_its_images_as_the_only_context(tmp_path: Path, run_cli: Any) -> None:
    """Patient and study attributes from the referenced images themselves."""
    path = realdata("ko_ihe_xdsi_manifest_pet_10inst.dcm")
    images = path.with_name("ko_ihe_xdsi_manifest_pet_10inst_images")
    code, out, err = run_cli("convert", path, "--format", "ndjson", "--timezone", "+00:00")
    assert code == 0, err
    fhir = tmp_path / "in.ndjson"
    fhir.write_text(out)
    target = tmp_path / "kos.dcm"
    code, out, err = run_cli("to-kos", fhir, "--context", images, "-o", target)
    assert code == 0, err
    assert_valid_kos(target)
    kos = pydicom.dcmread(target)
    image = pydicom.dcmread(sorted(images.iterdir())[0], stop_before_pixels=True)
    for kw in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID"):
        assert kos.get(kw) == image.get(kw), kw
    for kw in ("StudyDate", "StudyTime", "StudyID", "AccessionNumber"):
        assert str(kos.get(kw)) == str(image.get(kw, "")), kw
    assert reference_set(read_file(target)) == reference_set(read_file(path))


# --- Hypothesis: generated KOS, in process ----------------------------------------------

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
ENH_MR = "1.2.840.10008.5.1.4.1.1.4.1"
US_MULTI = "1.2.840.10008.5.1.4.1.1.3.1"
SEG = "1.2.840.10008.5.1.4.1.1.66.4"
ECG = "1.2.840.10008.5.1.4.1.1.9.1.1"
SR = "1.2.840.10008.5.1.4.1.1.88.33"
PS = "1.2.840.10008.5.1.4.1.1.11.1"
PDF = "1.2.840.10008.5.1.4.1.1.104.1"
SINGLE = [CT, MR]
MULTI = [ENH_MR, US_MULTI]
WHOLE_ONLY = [ECG, SR, PS, PDF]
TITLES = sorted(terminology.key_object_titles().items())


@st.composite
def references(draw: st.DrawFn) -> list[Ref]:
    refs: list[Ref] = []
    n_studies = draw(st.integers(1, 3))
    serial = draw(st.integers(0, 10**6))
    for s in range(n_studies):
        study = uid("hyp-study", serial, s)
        for r in range(draw(st.integers(1, 3))):
            series = uid("hyp-series", serial, s, r)
            ae = draw(st.sampled_from([None, "PACS_A", "ARCHIVE"]))
            url = draw(st.sampled_from([None, f"https://pacs.example.org/dicomweb/series/{r}"]))
            for i in range(draw(st.integers(1, 4))):
                sop = uid("hyp-sop", serial, s, r, i)
                kind = draw(st.sampled_from(["single", "multi", "seg", "whole"]))
                frames: tuple[int, ...] = ()
                segments: tuple[int, ...] = ()
                if kind == "single":
                    cls = draw(st.sampled_from(SINGLE))
                elif kind == "multi":
                    cls = draw(st.sampled_from(MULTI))
                    frames = tuple(draw(st.sets(st.integers(1, 400), max_size=6)))
                elif kind == "seg":
                    cls = SEG
                    segments = tuple(draw(st.sets(st.integers(1, 60), max_size=5)))
                else:
                    cls = draw(st.sampled_from(WHOLE_ONLY))
                refs.append(
                    Ref(
                        study,
                        series,
                        cls,
                        sop,
                        frames=frames,
                        segments=segments,
                        retrieve_ae=ae,
                        retrieve_url=url,
                    )
                )
    return refs


_TEXT = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyz ABCDEFXYZ0123456789.,;:-()éüß\n"),
    min_size=1,
    max_size=80,
).map(str.strip)


@st.composite
def kos_documents(draw: st.DrawFn) -> Dataset:
    refs = draw(references())
    value, meaning = draw(st.sampled_from(TITLES))
    serial = draw(st.integers(0, 10**6))
    description = draw(st.one_of(st.none(), _TEXT.filter(bool)))
    observer = draw(st.sampled_from([None, "Doe^Jane", "Observer^Olivia^^Dr.", "Smith"]))
    ds = make_kos(
        refs,
        title=(value, "DCM", meaning),
        description=description,
        observer_name=observer,
        patient_id=draw(st.sampled_from(["PAT-1", "12345", "X-9"])),
        patient_name=draw(st.sampled_from(["Doe^John", "Müller^Jürgen", ""])),
        patient_birth_date=draw(st.sampled_from(["", "19700101"])),
        patient_sex=draw(st.sampled_from(["", "M", "F", "O"])),
        accession=draw(st.sampled_from([None, "ACC-1", "A2"])),
        tz_offset=draw(st.sampled_from([None, "+0100", "-0500", "+0000"])),
        content_time=draw(st.sampled_from(["101500", "235959.123456", "000000"])),
        uid=uid("hyp-kos", serial),
        series_uid=uid("hyp-kos-series", serial),
    )
    return _reparse(ds)


def _reparse(ds: Dataset) -> Dataset:
    """The dataset as another program would read it from a file."""
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    buf.seek(0)
    return pydicom.dcmread(buf)


def _to_fhir(result: ReadResult) -> list[Selection]:
    """Model -> R5 JSON (through a JSON text) -> model, as `to-kos` reads it."""
    out = r5.write(result.selections)
    resources = json.loads(json.dumps(out.resources + list(out.shared.values())))
    endpoints = {r["id"]: r for r in resources if r["resourceType"] == "Endpoint"}
    warnings: list[str] = []
    sels = [
        from_imaging_selection(r, endpoints=endpoints, warnings=warnings)
        for r in resources
        if r["resourceType"] == "ImagingSelection"
    ]
    assert not warnings
    return sels


def _round_trip(ds1: Dataset) -> tuple[ReadResult, Dataset, ReadResult]:
    opts = ReadOptions(timezone="+00:00")
    first = read_dataset(ds1, "kos1", opts)
    context = Context()
    context.add_dataset(ds1, "kos1")
    written = write_kos(_to_fhir(first), context)
    assert not written.warnings
    (ds2,) = written.datasets
    ds2 = _reparse(ds2)
    second = read_dataset(ds2, "kos2", opts)
    assert title_of(second) == title_of(first)
    assert reference_set(second) == reference_set(first)
    assert comparable(_to_fhir(second)) == comparable(_to_fhir(first))
    return first, ds2, second


@settings(
    max_examples=500,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(kos_documents())
def test_generated_kos_round_trip(ds1: Dataset) -> None:
    _, ds2, _ = _round_trip(ds1)
    # the source KOS is the context: the document keeps its study (and the study's
    # Type 2 attributes), with new UIDs
    assert ds2.StudyInstanceUID == ds1.StudyInstanceUID
    for kw in ("StudyDate", "StudyTime", "StudyID", "ReferringPhysicianName"):
        assert str(ds2.get(kw, "")) == str(ds1.get(kw, "")), kw
    assert ds2.SOPInstanceUID != ds1.SOPInstanceUID
    assert (ds2.PatientID, str(ds2.PatientName)) == (ds1.PatientID, str(ds1.PatientName))


@settings(
    max_examples=20,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(kos_documents())
def test_generated_kos_pass_the_validators(ds1: Dataset) -> None:
    _, ds2, _ = _round_trip(ds1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kos.dcm"
        ds2.save_as(path, enforce_file_format=True)
        assert_valid_kos(path)


def test_same_input_same_bytes() -> None:
    ds1 = _reparse(
        make_kos(
            [Ref(uid("s"), uid("se"), ENH_MR, uid("i"), frames=(3, 1))],
            tz_offset="+0100",
        )
    )
    blobs = []
    for _ in range(2):
        _, ds2, _ = _round_trip(ds1)
        buf = io.BytesIO()
        ds2.save_as(buf, enforce_file_format=True)
        blobs.append(buf.getvalue())
    assert blobs[0] == blobs[1]
