"""Issue 10's reader bugs, one named test each, on real files cut or edited here.

Every input either converts (possibly with warnings) or raises a
:class:`dicomsel.DicomselError` naming the file, the element and the reason;
no other exception escapes a reader. Damaged files that still parse convert
with a warning, and fail under ``--strict``.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from dicomsel import ConvertOptions, InvalidInputError, convert, read_file
from dicomsel.errors import Validation

from conftest import ROOT, SAMPLES, realdata, resources_of

pytestmark = pytest.mark.realdata


def _at(data: bytes, group: int, element: int, vr: bytes) -> int:
    """Offset of the first explicit VR little endian header of (group,element) with ``vr``."""
    at = data.find(struct.pack("<HH", group, element) + vr)
    assert at > 0, f"({group:04X},{element:04X}) {vr!r} not in the file"
    return at


def _with_text(data: bytes, at: int, new: bytes) -> bytes:
    """Replace the short-VR value whose header is at ``at`` (top level) with ``new``."""
    (length,) = struct.unpack_from("<H", data, at + 6)
    return data[: at + 6] + struct.pack("<H", len(new)) + new + data[at + 8 + length :]


def _write(tmp_path: Path, data: bytes, name: str = "mutant.dcm") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _typed_error(path: Path) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as info:
        read_file(path)
    err = info.value
    assert err.path == str(path)
    return err


# ---- exceptions that escaped the readers (issue 10, first bullet)


def test_corrupt_deflated_stream_is_a_typed_error(tmp_path: Path) -> None:
    data = realdata("sr_enhanced_deflated_dcm4che.dcm").read_bytes()
    at = len(data) // 4 + 100  # inside the deflated dataset, past the file meta
    bad = data[:at] + bytes(b ^ 0x5A for b in data[at : at + 8]) + data[at + 8 :]
    err = _typed_error(_write(tmp_path, bad))
    assert "deflated" in err.reason


def test_a_uid_that_is_not_a_transfer_syntax_is_not_a_valueerror(tmp_path: Path) -> None:
    data = realdata("ko_ihe_xdsi_manifest_pet_10inst.dcm").read_bytes()
    bad = _with_text(data, _at(data, 0x0002, 0x0010, b"UI"), b"1.2.abc\x00")
    result = read_file(_write(tmp_path, bad))  # read with the encoding pydicom guessed
    (note,) = [i for i in result.issues if "TransferSyntaxUID (0002,0010)" in i.reason]
    assert "'1.2.abc" in note.reason and "not a transfer syntax" in note.reason


def test_bytes_length_exception_names_the_element(tmp_path: Path) -> None:
    data = (SAMPLES / "kos_two_studies.dcm").read_bytes()
    at = _at(data, 0x0008, 0x1155, b"UI")  # a Referenced SOP Instance UID, as FD
    bad = data[: at + 4] + b"FD" + data[at + 6 :]
    err = _typed_error(_write(tmp_path, bad))
    assert err.attribute is not None
    assert err.attribute.endswith("ReferencedSOPInstanceUID (0008,1155)")


def test_unknown_value_representation_is_a_typed_error(tmp_path: Path) -> None:
    data = realdata("ko_ihe_xdsi_manifest_mr_36inst.dcm").read_bytes()
    at = _at(data, 0x0008, 0x1155, b"UI")
    bad = data[: at + 4] + b"ZZ" + data[at + 6 :]
    err = _typed_error(_write(tmp_path, bad))
    assert err.attribute == "ReferencedSOPInstanceUID (0008,1155)"
    assert "Unknown Value Representation" in err.reason


def test_no_tag_to_read_is_a_typed_error(tmp_path: Path) -> None:
    data = realdata("ko_ihe_xdsi_manifest_mr_36inst.dcm").read_bytes()
    at = _at(data, 0x0008, 0x1155, b"UI")
    bad = data[: at + 4] + b"\x00\x00" + data[at + 6 :]  # no VR: read as implicit, 4-byte length
    err = _typed_error(_write(tmp_path, bad))
    assert "OSError" in err.reason or "truncated" in err.reason
    assert err.attribute


def test_an_is_of_inf_is_a_typed_error(tmp_path: Path) -> None:
    data = realdata("seg_dcmqi_5segments_overlap.dcm").read_bytes()
    bad = _with_text(data, _at(data, 0x0028, 0x0008, b"IS"), b"inf ")  # Number of Frames
    err = _typed_error(_write(tmp_path, bad))
    assert err.attribute == "NumberOfFrames (0028,0008)"
    assert "OverflowError" in err.reason


def test_struct_error_on_a_cut_item_is_a_typed_error(tmp_path: Path) -> None:
    data = (SAMPLES / "kos_frames_segments.dcm").read_bytes()
    for cut in range(len(data) // 2, len(data) - 1, 7):  # every kind of cut point
        path = _write(tmp_path, data[:cut], f"cut{cut}.dcm")
        with pytest.raises(InvalidInputError):
            read_file(path)


def _nested(data: bytes, levels: int) -> bytes:
    """The file with an item holding ``levels`` nested Content Sequences added to its root's.

    The root Content Sequence is re-encoded with undefined length (its value kept,
    a Sequence Delimitation Item after it), so no other length changes.
    """
    sq = b"\x40\x00\x30\xa7SQ\x00\x00\xff\xff\xff\xff"
    item = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    item_end = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
    seq_end = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    nest = (sq + item) * levels + (item_end + seq_end) * levels
    at = _at(data, 0x0040, 0xA730, b"SQ")  # the first is the root's: the others are inside it
    (length,) = struct.unpack_from("<I", data, at + 8)
    assert length != 0xFFFFFFFF
    end = at + 12 + length
    value = data[at + 12 : end] + item + nest + item_end + seq_end
    return data[: at + 8] + b"\xff\xff\xff\xff" + value + data[end:]


def test_deep_nesting_parsed_lazily_is_retried_on_the_deep_stack(tmp_path: Path) -> None:
    data = (SAMPLES / "kos_single_frame.dcm").read_bytes()
    # 1,000 levels: past the default recursion limit, parsed lazily by the reader
    result = read_file(_write(tmp_path, _nested(data, 1000), "deep.dcm"))
    assert result.selections
    # 5,000 levels: a clear error, quickly (the parse grows with the square of the depth)
    err = _typed_error(_write(tmp_path, _nested(data, 5000), "deeper.dcm"))
    assert "nested too deeply" in err.reason


_RLIMIT_SCRIPT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from dicomsel import read_file
from dicomsel.errors import DicomselError
try:
    read_file(sys.argv[1])
except DicomselError as e:
    print("typed", e.attribute, e.reason)
else:
    print("converted")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is Linux's")
def test_a_huge_declared_length_allocates_nothing(tmp_path: Path) -> None:
    data = realdata("sr_tid1500_dcmjs_small_scoord.dcm").read_bytes()
    at = _at(data, 0x0040, 0xA730, b"SQ")  # the Content Sequence: 4 GiB - 16 declared
    bad = data[: at + 8] + struct.pack("<I", 0xFFFFFFF0) + data[at + 12 :]
    path = _write(tmp_path, bad)
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", _RLIMIT_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr  # no MemoryError under a 1 GiB address space
    assert run.stdout.startswith("typed ContentSequence (0040,A730) truncated file")
    assert "truncated" in run.stdout


# ---- damaged but parseable (issue 10, fourth bullet)


def _strict(path: Path) -> str:
    """The warnings of a file that --strict failed, one a line."""
    (outcome,) = convert([str(path)], ConvertOptions(validation=Validation.RAISE)).outcomes
    assert outcome.status == "failed"
    assert outcome.reason is not None and outcome.reason.startswith("--strict")
    return "\n".join(outcome.warnings)


@pytest.mark.parametrize(
    "name",
    [
        "seg_dcmqi_5segments_overlap.dcm",
        "seg_tcia_tcga_gbm_3segments.dcm",
        "enhanced_mr_bruker_4frames.dcm",
    ],
)
def test_a_file_cut_in_its_pixel_data_warns_and_fails_under_strict(
    tmp_path: Path, name: str
) -> None:
    data = realdata(name).read_bytes()
    path = _write(tmp_path, data[: len(data) * 8 // 10], name)
    result = read_file(path)
    assert result.selections
    (note,) = [i for i in result.issues if i.reason.startswith("truncated file")]
    assert "PixelData (7FE0,0010)" in note.reason
    assert "truncated file" in _strict(path)
    # the whole file has no such warning
    assert not [i for i in read_file(realdata(name)).issues if "truncated" in i.reason]


def test_seg_cut_at_30000_bytes_warns(tmp_path: Path) -> None:
    data = realdata("seg_dcmqi_5segments_overlap.dcm").read_bytes()
    path = _write(tmp_path, data[:30_000])
    assert any("truncated" in i.reason for i in read_file(path).issues)


@pytest.mark.parametrize(
    "name",
    [
        "sr_tid1500_highdicom_scoord_scoord3d.dcm",
        "sr_enhanced_deflated_dcm4che.dcm",
        "ko_ihe_xdsi_manifest_mr_36inst.dcm",
        "seg_dcmqi_5segments_overlap.dcm",
        "rtstruct_dicompyler_10rois.dcm",
    ],
)
def test_a_file_cut_after_its_file_meta_is_an_error(tmp_path: Path, name: str) -> None:
    data = realdata(name).read_bytes()
    ds = pydicom.dcmread(realdata(name), stop_before_pixels=True)
    meta_end = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    for cut in (247, meta_end):
        if cut > meta_end:
            continue
        err = _typed_error(_write(tmp_path, data[:cut], f"cut{cut}.dcm"))
        assert "truncated" in err.reason


@pytest.mark.parametrize(
    "name",
    [
        "sr_tid1500_highdicom_scoord_scoord3d.dcm",
        "sr_tid1500_dcmjs_small_scoord.dcm",
        "sr_comprehensive_dcmtk_dscope_nested.dcm",
        "ko_ihe_xdsi_manifest_mr_36inst.dcm",
        "rtstruct_dicompyler_10rois.dcm",
    ],
)
def test_a_file_cut_in_its_header_is_an_error_for_every_kind(tmp_path: Path, name: str) -> None:
    data = realdata(name).read_bytes()
    for tenth in (3, 6, 9):
        cut = len(data) * tenth // 10
        _typed_error(_write(tmp_path, data[:cut], f"cut{cut}.dcm"))


def test_sr_without_content_sequence_warns(tmp_path: Path) -> None:
    ds = pydicom.dcmread(realdata("sr_tid1500_highdicom_scoord_scoord3d.dcm"))
    del ds.ContentSequence
    path = tmp_path / "no-content.dcm"
    ds.save_as(path)
    result = read_file(path)
    (issue,) = [i for i in result.issues if i.attribute == "ContentSequence (0040,A730)"]
    assert "missing or empty" in issue.reason
    assert not result.observations
    assert "ContentSequence (0040,A730)" in _strict(path)


def test_sr_with_content_sequence_has_no_such_warning() -> None:
    result = read_file(realdata("sr_tid1500_highdicom_scoord_scoord3d.dcm"))
    assert not [i for i in result.issues if i.attribute == "ContentSequence (0040,A730)"]


@pytest.mark.parametrize("seg_frames", [False, True])
def test_seg_frame_count_disagreeing_with_per_frame_groups_warns(
    tmp_path: Path, seg_frames: bool
) -> None:
    src = realdata("seg_dcmqi_5segments_overlap.dcm")
    ds = pydicom.dcmread(src)
    groups = len(ds.PerFrameFunctionalGroupsSequence)
    assert ds.NumberOfFrames == groups
    ds.NumberOfFrames = groups + 2
    path = tmp_path / "frames.dcm"
    ds.save_as(path)
    from dicomsel.dicom import ReadOptions

    result = read_file(path, ReadOptions(seg_frames=seg_frames))
    (issue,) = [i for i in result.issues if i.attribute == "NumberOfFrames (0028,0008)"]
    assert f"has {groups} items but NumberOfFrames (0028,0008) is {groups + 2}" in issue.reason
    assert "NumberOfFrames" in _strict(path)
    good = read_file(src, ReadOptions(seg_frames=seg_frames))
    assert not [i for i in good.issues if i.attribute == "NumberOfFrames (0028,0008)"]


def test_kos_cut_at_6500_bytes_in_a_folder_of_good_files(tmp_path: Path, run_cli: object) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    kos = realdata("ko_ihe_xdsi_manifest_mr_36inst.dcm")
    (folder / "cut.dcm").write_bytes(kos.read_bytes()[:6500])
    shutil.copy(kos, folder / "good.dcm")
    shutil.copy(SAMPLES / "kos_two_studies.dcm", folder / "good2.dcm")
    code, out, err = run_cli("convert", folder)  # type: ignore[operator]
    assert code == 3
    assert "cut.dcm" in err and "truncated" in err
    resources = resources_of(out)
    assert {r["resourceType"] for r in resources} >= {"ImagingSelection"}
    # both good KOS converted: the 36-instance manifest's studies and the sample's two
    assert len([r for r in resources if r["resourceType"] == "ImagingSelection"]) >= 3
