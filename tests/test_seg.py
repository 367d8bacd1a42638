"""The SEG reader: segments, source images, frames; generated (highdicom) and real files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.sequence import Sequence as DicomSequence

from dicomsel import read_file
from dicomsel.dicom import load, read_dataset, segscan
from dicomsel.dicom.context import ReadOptions
from dicomsel.dicom.seg import SOURCE_IMAGE_CODE
from dicomsel.errors import InvalidInputError
from dicomsel.model import Selection

from conftest import SAMPLES, realdata, resources_of
from segfiles import (
    LABEL_MAP_CLASS,
    SEG_CLASS,
    check_golden,
    ct_slices,
    enhanced_ct,
    make_seg,
    save,
    seg_header,
    write_seg,
)

PLUS_1 = dt.timezone(dt.timedelta(hours=1))


def _segments(selections: list[Selection]) -> dict[int, Selection]:
    out = {}
    for s in selections:
        if s.key.startswith("seg|segment|"):
            out[int(s.key.rsplit("|", 1)[1])] = s
    return out


def _sources(selections: list[Selection]) -> list[Selection]:
    return [s for s in selections if s.key.startswith("seg|source|")]


def test_one_segment(tmp_path: Path) -> None:
    cts = ct_slices(3)
    seg = make_seg(cts, 1)
    result = read_file(save(seg, tmp_path / "seg.dcm"))
    (segment,) = _segments(result.selections).values()
    (source,) = _sources(result.selections)
    assert (segment.code.value, segment.code.scheme, segment.code.meaning) == (
        "272673000",
        "SCT",
        "Bone",
    )
    assert segment.code.text == "Segment 1"
    assert [(c.value, c.meaning) for c in segment.categories] == [("85756007", "Tissue")]
    (inst,) = segment.instances
    assert (inst.uid, inst.sop_class_uid, inst.segments, inst.frames) == (
        seg.SOPInstanceUID,
        SEG_CLASS,
        (1,),
        (),
    )
    assert segment.focus == (source.key,)
    assert segment.frame_of_reference_uid == seg.FrameOfReferenceUID
    assert segment.series_number == 300
    assert [i.value for i in segment.identifiers] == [
        seg.SOPInstanceUID,
        seg.SegmentSequence[0].TrackingUID,
    ]
    assert segment.description == "Tracking ID: finding-1"
    assert segment.issued == dt.datetime(2024, 1, 2, 10, 15, tzinfo=PLUS_1)
    assert [p.actor.display for p in segment.performers] == [
        "Tina Tester",
        "dicomsel tests/segfiles.py",
    ]
    assert source.code == SOURCE_IMAGE_CODE
    assert (source.study_instance_uid, source.series_instance_uid) == (
        cts[0].StudyInstanceUID,
        cts[0].SeriesInstanceUID,
    )
    # the SEG covers frame 1 only, but the Referenced Series Sequence lists all three images
    assert [i.uid for i in source.instances] == [c.SOPInstanceUID for c in cts]
    assert all(i.frames == () for i in source.instances)
    assert result.warnings == []


def test_many_segments_sorted_by_number(tmp_path: Path) -> None:
    seg = make_seg(ct_slices(4), 12, name="seg12")
    result = read_file(save(seg, tmp_path / "seg.dcm"))
    segments = _segments(result.selections)
    assert list(segments) == list(range(1, 13))
    assert [s.key for s in result.selections][:12] == [f"seg|segment|{n}" for n in range(1, 13)]
    assert len(_sources(result.selections)) == 1
    assert segments[6].code.meaning == "Bone"  # property types cycle through five


def test_segment_only_path_never_reads_the_per_frame_groups(tmp_path: Path) -> None:
    path = save(make_seg(ct_slices(3), 2), tmp_path / "seg.dcm")
    ds, _ = load(path)
    assert "PerFrameFunctionalGroupsSequence" not in ds
    result = read_dataset(ds, str(path))
    assert "PerFrameFunctionalGroupsSequence" not in ds  # still unread
    assert len(result.selections) == 3
    # asked for frames, the reader scans their bytes: still no Dataset for them
    read_dataset(ds, str(path), ReadOptions(seg_frames=True))
    assert "PerFrameFunctionalGroupsSequence" not in ds


def test_pydicom_reads_the_per_frame_groups_when_the_scanner_gives_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(make_seg(ct_slices(3), 2), tmp_path / "seg.dcm")
    monkeypatch.setattr(segscan, "scan_per_frame", lambda *a: None)
    ds, _ = load(path)
    read_dataset(ds, str(path), ReadOptions(seg_frames=True))
    assert len(ds.PerFrameFunctionalGroupsSequence) == 2


def _both_paths(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, Any]:
    """(scanner, pydicom) results of reading ``path`` with its frames mapped."""
    opts = ReadOptions(seg_frames=True, **kw)
    scanned = read_file(path, opts)
    with monkeypatch.context() as m:
        m.setattr(segscan, "scan_per_frame", lambda *a: None)
        parsed = read_file(path, opts)
    return scanned, parsed


@pytest.mark.parametrize("undefined_length", [True, False])
@pytest.mark.parametrize("syntax", ["explicit", "implicit"])
def test_scanner_reads_what_pydicom_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, undefined_length: bool, syntax: str
) -> None:
    from pydicom.uid import ImplicitVRLittleEndian

    ds = seg_header(60, 7, n_sources=60, rows=8, cols=8, undefined_length=undefined_length)
    # a multi-valued frame number, and a frame of another segment than its neighbours
    src = ds.PerFrameFunctionalGroupsSequence[4].DerivationImageSequence[0].SourceImageSequence[0]
    src.ReferencedFrameNumber = [2, 3]
    ds.PerFrameFunctionalGroupsSequence[5].SegmentIdentificationSequence[
        0
    ].ReferencedSegmentNumber = 9
    if syntax == "implicit":
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    path = tmp_path / "seg.dcm"
    write_seg(ds, path)
    scanned, parsed = _both_paths(path, monkeypatch)
    assert scanned.selections == parsed.selections
    assert scanned.warnings == parsed.warnings
    assert any("ReferencedSegmentNumber (0062,000B) 9" in w for w in scanned.warnings)
    (source,) = _sources(scanned.selections)
    assert {i.frames for i in source.instances} >= {(2, 3)}


def test_scanner_on_highdicom_segs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [
        save(make_seg(ct_slices(3), 3, name="scan-a"), tmp_path / "a.dcm"),
        save(make_seg([enhanced_ct(3, name="scan-mf")], 2, name="scan-b"), tmp_path / "b.dcm"),
        save(make_seg(ct_slices(2), 2, name="scan-c", label_map=True), tmp_path / "c.dcm"),
    ]
    for path in files:
        scanned, parsed = _both_paths(path, monkeypatch)
        assert scanned.selections == parsed.selections, path
        assert scanned.warnings == parsed.warnings, path


def test_scanner_gives_up_on_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.dcm"
    write_seg(seg_header(40, 4, n_sources=4, rows=8, cols=8), path, 0)
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"\x00\x52\x30\x92") + 900])
    # pydicom then reads the sequence and the truncation is reported
    with pytest.raises(InvalidInputError, match=r"truncated|cannot be parsed"):
        read_file(path, ReadOptions(seg_frames=True))


def test_seg_frames_lists_each_segments_frames(tmp_path: Path) -> None:
    cts = ct_slices(3)
    masks = np.zeros((3, 128, 128, 2), dtype=bool)
    masks[0, 2:6, 2:6, 0] = masks[2, 2:6, 2:6, 0] = True  # segment 1 in source frames 1 and 3
    masks[1, 9:12, 9:12, 1] = True  # segment 2 in source frame 2
    seg = make_seg(cts, 2, masks=masks)
    path = save(seg, tmp_path / "seg.dcm")
    result = read_file(path, ReadOptions(seg_frames=True))
    segments = _segments(result.selections)
    by_segment = {
        n: [
            i + 1
            for i, f in enumerate(seg.PerFrameFunctionalGroupsSequence)
            if f.SegmentIdentificationSequence[0].ReferencedSegmentNumber == n
        ]
        for n in (1, 2)
    }
    assert segments[1].instances[0].frames == tuple(by_segment[1])
    assert segments[2].instances[0].frames == tuple(by_segment[2])
    assert segments[1].instances[0].segments == (1,)
    # without --seg-frames, no frames
    plain = read_file(path)
    assert all(s.instances[0].frames == () for s in _segments(plain.selections).values())


def test_seg_frames_in_r5_are_reported_not_silently_dropped(tmp_path: Path, run_cli: Any) -> None:
    path = save(make_seg(ct_slices(2), 2), tmp_path / "seg.dcm")
    code, out, err = run_cli("convert", path, "--seg-frames", "--format", "ndjson")
    assert code == 0, err
    resources = resources_of(out)
    subsets = [
        r["instance"][0]["subset"] for r in resources if r["code"]["coding"][0]["code"] != "121233"
    ]
    assert subsets == [["1"], ["2"]]
    assert "frames [1] left out, segments kept" in err


def test_multiframe_source_frames_without_being_asked(tmp_path: Path) -> None:
    mf = enhanced_ct(3)
    masks = np.zeros((3, 128, 128, 2), dtype=bool)
    masks[1, 2:6, 2:6, 0] = True  # segment 1 in source frame 2
    masks[2, 2:6, 2:6, 1] = True  # segment 2 in source frame 3
    seg = make_seg([mf], 2, name="mf-seg", masks=masks)
    result = read_file(save(seg, tmp_path / "seg.dcm"))
    (source,) = _sources(result.selections)
    (inst,) = source.instances
    assert (inst.uid, inst.sop_class_uid, inst.frames) == (
        mf.SOPInstanceUID,
        mf.SOPClassUID,
        (2, 3),
    )
    assert source.series_instance_uid == mf.SeriesInstanceUID
    segments = _segments(result.selections)
    assert segments[1].focus == (source.key,)


def test_focus_names_only_the_series_a_segment_derives_from(tmp_path: Path) -> None:
    mf = enhanced_ct(2, name="mf-a")
    masks = np.zeros((2, 128, 128, 1), dtype=bool)
    masks[0, 2:6, 2:6, 0] = True
    seg = make_seg([mf], 1, name="focus-seg", masks=masks)
    # a second source series, listed but used by no frame
    extra = DicomSequence(list(seg.ReferencedSeriesSequence))
    item = type(extra[0])()
    item.SeriesInstanceUID = "1.2.3.4.5"
    ref = type(extra[0])()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ref.ReferencedSOPInstanceUID = "1.2.3.4.5.6"
    item.ReferencedInstanceSequence = DicomSequence([ref])
    extra.append(item)
    seg.ReferencedSeriesSequence = extra
    result = read_file(save(seg, tmp_path / "seg.dcm"))
    sources = {s.series_instance_uid: s.key for s in _sources(result.selections)}
    assert set(sources) == {mf.SeriesInstanceUID, "1.2.3.4.5"}
    assert _segments(result.selections)[1].focus == (sources[mf.SeriesInstanceUID],)


def test_label_map_keeps_segment_numbers_background_included(tmp_path: Path) -> None:
    seg = make_seg(ct_slices(2), 3, name="labelmap", label_map=True)
    assert seg.SOPClassUID == LABEL_MAP_CLASS
    path = save(seg, tmp_path / "lm.dcm")
    result = read_file(path)
    segments = _segments(result.selections)
    assert list(segments) == [0, 1, 2, 3]
    assert segments[0].code.meaning == "Background"
    assert segments[0].instances[0].segments == (0,)
    assert segments[0].instances[0].sop_class_uid == LABEL_MAP_CLASS
    (source,) = _sources(result.selections)
    assert all(s.focus == (source.key,) for s in segments.values())
    asked = read_file(path, ReadOptions(seg_frames=True))
    assert any("label map" in w for w in asked.warnings)
    assert all(s.instances[0].frames == () for s in _segments(asked.selections).values())


def test_label_map_cli_output_is_valid_r5(tmp_path: Path, run_cli: Any) -> None:
    path = save(make_seg(ct_slices(2), 2, name="labelmap2", label_map=True), tmp_path / "lm.dcm")
    code, out, err = run_cli("convert", path)
    assert code == 0, err
    resources = resources_of(out)
    subsets = [r["instance"][0].get("subset") for r in resources[:3]]
    assert subsets == [["0"], ["1"], ["2"]]


def test_frame_naming_a_segment_not_in_the_segment_sequence(tmp_path: Path) -> None:
    seg = make_seg(ct_slices(3), 3, name="bad-segment")
    seg.PerFrameFunctionalGroupsSequence[1].SegmentIdentificationSequence[
        0
    ].ReferencedSegmentNumber = 9
    path = save(seg, tmp_path / "seg.dcm")
    result = read_file(path, ReadOptions(seg_frames=True))
    assert any(
        "frame(s) 2: ReferencedSegmentNumber (0062,000B) 9 is not in SegmentSequence" in w
        for w in result.warnings
    )
    segments = _segments(result.selections)
    assert segments[1].instances[0].frames == (1,)
    assert segments[3].instances[0].frames == (3,)
    assert segments[2].instances[0].frames == ()  # its only frame named segment 9


def test_bad_segment_number_fails_that_file_only(tmp_path: Path, run_cli: Any) -> None:
    good = save(make_seg(ct_slices(2), 2, name="good"), tmp_path / "a_good.dcm")
    bad = make_seg(ct_slices(2), 2, name="dup")
    bad.SegmentSequence[1].SegmentNumber = 1
    save(bad, tmp_path / "b_bad.dcm")
    code, out, err = run_cli("convert", tmp_path)
    assert code == 3
    assert "SegmentNumber (0062,0004): segment number 1 is used twice" in err
    assert len(resources_of(out)) == 3
    assert str(good) not in err


def test_missing_segment_sequence_is_an_error(tmp_path: Path) -> None:
    seg = make_seg(ct_slices(1), 1, name="no-segments")
    del seg.SegmentSequence
    with pytest.raises(InvalidInputError, match="SegmentSequence"):
        read_file(save(seg, tmp_path / "seg.dcm"))


def test_in_memory_dataset_is_read_without_the_loader() -> None:
    seg = make_seg(ct_slices(2), 2, name="in-memory")
    result = read_dataset(seg, None, ReadOptions(seg_frames=True))
    assert _segments(result.selections)[2].instances[0].frames == (2,)


def test_big_header_segment_only_and_frames(tmp_path: Path) -> None:
    ds = seg_header(200, 10, n_sources=20, rows=16, cols=16)
    path = tmp_path / "big.dcm"
    write_seg(ds, path)
    plain = read_file(path)
    segments = _segments(plain.selections)
    assert len(segments) == 10 and len(_sources(plain.selections)) == 1
    assert len(_sources(plain.selections)[0].instances) == 20
    framed = read_file(path, ReadOptions(seg_frames=True))
    seg3 = _segments(framed.selections)[3]
    assert seg3.instances[0].frames == tuple(range(3, 201, 10))
    assert framed.warnings == []


def test_defined_length_header_reads_the_same(tmp_path: Path) -> None:
    a, b = tmp_path / "undefined.dcm", tmp_path / "defined.dcm"
    write_seg(seg_header(30, 3, n_sources=5, rows=8, cols=8), a)
    write_seg(seg_header(30, 3, n_sources=5, rows=8, cols=8, undefined_length=False), b)
    for opts in (ReadOptions(), ReadOptions(seg_frames=True)):
        ra, rb = read_file(a, opts), read_file(b, opts)
        assert ra.selections == rb.selections


def test_truncated_per_frame_groups_fail_when_read(tmp_path: Path) -> None:
    path = tmp_path / "cut.dcm"
    write_seg(seg_header(40, 4, n_sources=4, rows=8, cols=8, undefined_length=False), path, 0)
    data = path.read_bytes()
    marker = data.index(b"\x00\x52\x30\x92")
    path.write_bytes(data[: marker + 400])
    with pytest.raises(InvalidInputError, match="truncated"):
        read_file(path, ReadOptions(seg_frames=True))


def test_sample_seg_in_the_demo(run_cli: Any) -> None:
    code, out, err = run_cli("convert", SAMPLES / "seg_ct_small.dcm", "--timezone", "+00:00")
    assert code == 0, err
    resources = resources_of(out)
    assert [r["code"]["coding"][0]["display"] for r in resources] == [
        "Soft tissue",
        "Bone",
        "Source image for segmentation",
    ]


# ---- real files


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "segments", "frames"),
    [("seg_dcmqi_5segments_overlap.dcm", 5, 7), ("seg_tcia_tcga_gbm_3segments.dcm", 3, 96)],
)
def test_real_segs(name: str, segments: int, frames: int) -> None:
    path = realdata(name)
    result = read_file(path)
    found = _segments(result.selections)
    assert list(found) == list(range(1, segments + 1))
    sources = _sources(result.selections)
    ds = dcmread(path, stop_before_pixels=True)
    listed = {
        r.ReferencedSOPInstanceUID
        for s in ds.ReferencedSeriesSequence
        for r in s.ReferencedInstanceSequence
    }
    assert {i.uid for s in sources for i in s.instances} == listed
    for n, sel in found.items():
        item = next(i for i in ds.SegmentSequence if i.SegmentNumber == n)
        assert sel.code.value == item.SegmentedPropertyTypeCodeSequence[0].CodeValue
        assert sel.code.text == item.SegmentLabel
    framed = read_file(path, ReadOptions(seg_frames=True))
    assert sum(len(s.instances[0].frames) for s in _segments(framed.selections).values()) == frames


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name", ["seg_dcmqi_5segments_overlap.dcm", "seg_tcia_tcga_gbm_3segments.dcm"]
)
def test_scanner_on_real_segs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scanned, parsed = _both_paths(realdata(name), monkeypatch)
    assert scanned.selections == parsed.selections
    assert scanned.warnings == parsed.warnings


@pytest.mark.realdata
def test_real_seg_anatomic_region_is_the_body_site() -> None:
    result = read_file(realdata("seg_tcia_tcga_gbm_3segments.dcm"))
    site = _segments(result.selections)[1].body_site
    assert site is not None
    assert (site.value, site.scheme, site.meaning) == ("T-A0100", "SRT", "Brain")


# ---- golden outputs

GOLDEN_CASES = [
    ("seg_ct_small", SAMPLES / "seg_ct_small.dcm", ()),
    ("seg_dcmqi_5segments_overlap", "real:seg_dcmqi_5segments_overlap.dcm", ()),
    ("seg_tcia_tcga_gbm_3segments", "real:seg_tcia_tcga_gbm_3segments.dcm", ()),
    # R5 cannot carry a SEG's frames: the same resources, and the loss reported
    ("seg_tcia_tcga_gbm_3segments", "real:seg_tcia_tcga_gbm_3segments.dcm", ("--seg-frames",)),
]


@pytest.mark.parametrize(("name", "source", "extra"), GOLDEN_CASES)
def test_golden(name: str, source: Path | str, extra: tuple[str, ...], run_cli: Any) -> None:
    if isinstance(source, str):
        source = realdata(source.removeprefix("real:"))
    code, out, err = run_cli("convert", source, "--timezone", "+00:00", *extra)
    assert code == 0, err
    assert resources_of(out)
    check_golden(name, out)


def test_deflated_seg_reads_its_frames(tmp_path: Path) -> None:
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = seg_header(12, 3, n_sources=4, rows=8, cols=8)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.PixelData = bytes(12 * 8)
    path = save(ds, tmp_path / "deflated.dcm")
    framed = read_file(path, ReadOptions(seg_frames=True))
    assert _segments(framed.selections)[2].instances[0].frames == (2, 5, 8, 11)
    assert all(s.instances[0].frames == () for s in _segments(read_file(path).selections).values())
