"""The header read from element headers equals pydicom's, and falls back where it should.

:mod:`dicomsel.dicom.rawheader` builds the dataset ``dcmread`` would (raw
elements that pydicom converts on access); pydicom is the reference here: every
real and sample file, and the same files in the other encodings PS3.5 allows
(Implicit VR Little Endian, undefined-length sequences and items, 7.5), must read
to the same elements, values, encoding and character set, and convert to the
same bytes. Whatever it does not read exactly (big endian, deflated, a Command
Set, a wrong File Meta Information Group Length, truncation ...) must fall back
to pydicom, which reports it.
"""

from __future__ import annotations

import copy
import json
import struct
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

from dicomsel import ConvertOptions, convert
from dicomsel.dicom import ReadOptions, filereader, rawheader
from dicomsel.dicom.items import pydicom_only

from conftest import REALDATA, SAMPLES, realdata


def _files() -> list[Path]:
    real = sorted(REALDATA.glob("*.dcm")) if REALDATA.is_dir() else []
    return real + sorted(SAMPLES.glob("*.dcm"))


FILES = _files()


def _pydicom_header(path: Path) -> filereader.HeaderFile:
    with pydicom_only():
        return filereader.read_header_file(path)


def _same_dataset(fast: Dataset, ref: Dataset, where: str) -> None:
    assert list(fast._dict) == list(ref._dict), f"{where}: other elements"
    for tag in ref._dict:
        a, b = fast._dict[tag], ref._dict[tag]
        if isinstance(a, RawDataElement) and isinstance(b, RawDataElement):
            assert tuple(a) == tuple(b), f"{where} {tag}"
        else:  # pydicom parses undefined-length sequences at once; compare values
            assert fast[tag].VR == ref[tag].VR, f"{where} {tag}"
            assert fast[tag].value == ref[tag].value, f"{where} {tag}"
            assert fast[tag].is_undefined_length == ref[tag].is_undefined_length


def _check_same(path: Path) -> None:
    header = rawheader.read_raw_header(str(path))
    assert header is not None, f"{path.name}: not read by the element-header reader"
    ref = _pydicom_header(path)
    fast, want = header.dataset, ref.dataset
    _same_dataset(fast, want, path.name)
    _same_dataset(fast.file_meta, want.file_meta, f"{path.name} meta")
    for attr in ("original_encoding", "original_character_set", "_character_set", "preamble"):
        assert getattr(fast, attr) == getattr(want, attr), f"{path.name}: {attr}"
    assert fast.filename == want.filename
    got = filereader.read_header_file(path)
    assert got.notes == ref.notes
    assert (got.deferred is None) == (ref.deferred is None)
    if ref.deferred is not None and got.deferred is not None:
        assert (got.deferred.offset, got.deferred.implicit) == (
            ref.deferred.offset,
            ref.deferred.implicit,
        )


def _convert_bytes(paths: list[Path], fast: bool) -> tuple[str, list[Any]]:
    opts = ConvertOptions(read=ReadOptions(timezone="+00:00"))
    with nullcontext() if fast else pydicom_only():
        batch = convert([str(p) for p in paths], opts)
    text = json.dumps(batch.resources, sort_keys=True)
    outcomes = [o.as_json() for o in batch.outcomes]
    return text, outcomes


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_real_and_sample_files_read_as_pydicom_reads_them(path: Path) -> None:
    if rawheader.read_raw_header(str(path)) is None:
        ts = str(_pydicom_header(path).dataset.file_meta.get("TransferSyntaxUID", ""))
        # deflated (PS3.5 A.5) is pydicom's; every other real file takes the fast path
        assert pydicom.uid.UID(ts).is_deflated, f"{path.name} ({ts}) fell back"
        return
    _check_same(path)


def _rewritten(path: Path, folder: Path, implicit: bool, undefined: bool) -> Path:
    ds = pydicom.dcmread(path)
    if ds.file_meta.TransferSyntaxUID.is_compressed or ds.file_meta.TransferSyntaxUID.is_deflated:
        pytest.skip("compressed or deflated: not rewritten in another encoding")
    if undefined:
        for elem in _sequences(ds):
            elem.is_undefined_length = True
            for item in elem.value:
                item.is_undefined_length_sequence_item = True
    out = folder / f"{path.stem}-{'i' if implicit else 'e'}{'u' if undefined else 'd'}.dcm"
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(out, implicit_vr=implicit, little_endian=True, enforce_file_format=True)
    return out


def _sequences(ds: Dataset) -> Iterator[Any]:
    for elem in ds:
        if elem.VR == "SQ":
            yield elem
            for item in elem.value:
                yield from _sequences(item)


ENCODINGS = [(True, False), (False, True), (True, True)]


@pytest.mark.parametrize(("implicit", "undefined"), ENCODINGS, ids=["implicit", "undef", "both"])
def test_other_little_endian_encodings_read_and_convert_the_same(
    tmp_path: Path, implicit: bool, undefined: bool
) -> None:
    """PS3.5 7.1.3 (implicit VR) and 7.5 (undefined lengths): same dataset, same output."""
    names = ["kos_frames_segments.dcm", "seg_ct_small.dcm"]
    sources = [SAMPLES / n for n in names]
    real = [p for p in FILES if p.parent == REALDATA and p.name.startswith(("sr_", "kos_"))][:6]
    written = []
    for p in sources + real:
        try:
            written.append(_rewritten(p, tmp_path, implicit, undefined))
        except pytest.skip.Exception:
            continue
    assert len(written) >= 4
    for p in written:
        _check_same(p)
    assert _convert_bytes(written, True) == _convert_bytes(written, False)


def test_the_conversions_of_every_file_are_the_same_bytes() -> None:
    assert _convert_bytes(FILES, True) == _convert_bytes(FILES, False)


def _sample_bytes() -> bytes:
    return (SAMPLES / "kos_single_frame.dcm").read_bytes()


def _write(tmp_path: Path, data: bytes, name: str = "x.dcm") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _meta_end(data: bytes) -> int:
    (length,) = struct.unpack_from("<I", data, 140)
    return 144 + length


def test_falls_back_on_big_endian_and_deflated(tmp_path: Path) -> None:
    ds = pydicom.dcmread(SAMPLES / "kos_single_frame.dcm")
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    p = tmp_path / "big.dcm"
    pydicom.dcmwrite(p, ds, implicit_vr=False, little_endian=False, force_encoding=True)
    assert rawheader.read_raw_header(str(p)) is None
    assert filereader.read_header_file(p).dataset.SOPInstanceUID == ds.SOPInstanceUID
    deflated = realdata("sr_enhanced_deflated_dcm4che.dcm")
    assert rawheader.read_raw_header(str(deflated)) is None


def test_falls_back_without_the_part10_prefix(tmp_path: Path) -> None:
    data = _sample_bytes()
    assert (
        rawheader.read_raw_header(str(_write(tmp_path, data[:128] + b"XXXX" + data[132:]))) is None
    )
    assert rawheader.read_raw_header(str(_write(tmp_path, data[:100], "short.dcm"))) is None


def test_falls_back_on_a_wrong_group_length(tmp_path: Path) -> None:
    data = bytearray(_sample_bytes())
    struct.pack_into("<I", data, 140, struct.unpack_from("<I", data, 140)[0] + 2)
    assert rawheader.read_raw_header(str(_write(tmp_path, bytes(data)))) is None


def test_a_truncated_file_is_pydicoms_error(tmp_path: Path) -> None:
    data = _sample_bytes()
    p = _write(tmp_path, data[: len(data) - 5])
    assert rawheader.read_raw_header(str(p)) is None
    with pytest.raises(filereader.InvalidInputError, match="truncated"):
        filereader.read_header_file(p)


def test_falls_back_on_a_vr_it_does_not_know(tmp_path: Path) -> None:
    data = bytearray(_sample_bytes())
    start = _meta_end(bytes(data))
    data[start + 4 : start + 6] = b"ZZ"
    assert rawheader.read_raw_header(str(_write(tmp_path, bytes(data)))) is None


def test_falls_back_when_the_bytes_contradict_the_transfer_syntax(tmp_path: Path) -> None:
    data = _sample_bytes()
    meta = data[: _meta_end(data)]
    explicit = b"1.2.840.10008.1.2.1\x00"
    assert explicit in meta
    liar = meta.replace(explicit, b"1.2.840.10008.1.2\x00\x00\x00") + data[len(meta) :]
    p = _write(tmp_path, liar)  # says Implicit VR Little Endian, is explicit
    assert rawheader.read_raw_header(str(p)) is None
    notes = filereader.read_header_file(p).notes  # pydicom reads it, and says so
    assert any("found explicit VR" in n for n in notes), notes


def test_pixel_data_cut_short_gives_pydicoms_note(tmp_path: Path) -> None:
    from segfiles import ct_slices

    ds = copy.deepcopy(next(iter(ct_slices(1, name="rawheader-cut", size=16))))
    whole = tmp_path / "whole.dcm"
    ds.save_as(whole, enforce_file_format=True)
    cut = _write(tmp_path, whole.read_bytes()[:-100], "cut.dcm")
    header = rawheader.read_raw_header(str(cut))
    assert header is not None and header.unread_cut is not None
    assert filereader.read_header_file(cut).notes == _pydicom_header(cut).notes
    assert any("bulk data is cut" in n for n in filereader.read_header_file(cut).notes)


def test_per_frame_groups_are_left_unread_as_pydicom_leaves_them(tmp_path: Path) -> None:
    from segfiles import enhanced_ct, save

    p = save(enhanced_ct(4, name="rawheader-mf"), tmp_path / "mf.dcm")
    _check_same(p)
    header = filereader.read_header_file(p)
    assert header.deferred is not None
    assert "PerFrameFunctionalGroupsSequence" not in header.dataset


def test_switched_off_reads_with_pydicom() -> None:
    with pydicom_only():
        assert rawheader.read_raw_header(str(SAMPLES / "kos_single_frame.dcm")) is None


@pytest.mark.parametrize("undefined", [True, False])
def test_the_per_frame_items_are_walked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, undefined: bool
) -> None:
    """The cut check's walk keeps the per-frame items' spans; the SEG reader uses them.

    The spans are the items' own (PS3.5 7.5: each item's content after its 8-byte
    header), and the SEG converts as pydicom's path converts it without walking
    the sequence again.
    """
    from dicomsel.dicom import segscan
    from dicomsel.dicom.scanner import Scanner

    from segfiles import seg_header, write_seg

    path = tmp_path / "seg.dcm"
    frames = 30
    write_seg(seg_header(frames, 3, n_sources=5, undefined_length=undefined), path)
    header = rawheader.read_raw_header(str(path))
    assert header is not None and header.stopped_at is not None
    spans = header.per_frame_items
    assert spans is not None and len(spans) == frames
    data = path.read_bytes()
    for pos, length in spans:
        assert struct.unpack_from("<HHI", data, pos - 8) == (0xFFFE, 0xE000, length)
    scanner = Scanner(data, header.implicit)
    _, length, vpos = scanner.header(header.stopped_at)
    assert spans == scanner.items(vpos, length)
    deferred = filereader.read_header_file(path).deferred
    assert deferred is not None and deferred.items == spans

    def walked_again(*args: object) -> None:
        raise AssertionError("the per-frame groups were walked again")

    monkeypatch.setattr(segscan, "count_items", walked_again)
    scanned = _convert_bytes([path], fast=True)
    monkeypatch.undo()
    assert scanned == _convert_bytes([path], fast=False)
    # one selection per segment, one for the source series
    assert scanned[0].count('"resourceType": "ImagingSelection"') == 3 + 1


def test_no_spans_when_the_per_frame_groups_are_cut(tmp_path: Path) -> None:
    from segfiles import seg_header, write_seg

    whole = tmp_path / "seg.dcm"
    write_seg(seg_header(20, 2, n_sources=4), whole)
    header = rawheader.read_raw_header(str(whole))
    assert header is not None and header.stopped_at is not None
    cut = _write(tmp_path, whole.read_bytes()[: header.stopped_at + 400], "cut.dcm")
    short = rawheader.read_raw_header(str(cut))
    assert short is not None
    assert short.unread_cut == 0x52009230 and short.per_frame_items is None
