"""Every finding of ``tools/fuzz.py``, kept as a regression and regenerated here.

Not committed binaries: each entry names its source file (``realdata/...`` in
``../shared/realdata``, or ``sample_dicom/...``), the seed and mutant index the
fuzzer found it at, what it raised before the fix, and the mutation itself (the
fuzzer's spec: an operation with its offsets and bytes), which
:func:`tools.fuzz.apply` replays on the source file's bytes. Add every new
finding of ``make fuzz`` here (its ``FINDING`` line prints the spec).

Usage::

    python tests/fuzz_regressions.py OUTDIR     # writes OUTDIR/fuzz-<seed>-<index>.dcm
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import fuzz  # noqa: E402 - tools/fuzz.py, the mutator

__all__ = ["REGRESSIONS", "generate"]


def _r(index: int, found: str, spec: dict[str, Any], seed: int = 10) -> dict[str, Any]:
    return {"seed": seed, "index": index, "found": found, "spec": spec}


#: (seed, index, what it raised before the fix, the mutation) of every finding
REGRESSIONS: list[dict[str, Any]] = [
    # make fuzz, seed 10, mutants 0..791 (before the fix)
    _r(
        4,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/rtstruct_dicompyler_10rois.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 258,
            "n": 18,
            "hex": "25690be9a3225312cb48a4f83d859a20",
            "fix": [[256, 2]],
        },
    ),
    _r(
        39,
        "RecursionError: maximum recursion depth exceeded in comparison",
        {
            "source": "realdata/sr_tid1500_highdicom_scoord_scoord3d.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 7254,
            "depth": 12000,
            "explicit": True,
            "fix": [[1348, 4], [2444, 4], [2582, 4], [7082, 4], [7218, 4], [7226, 4]],
        },
    ),
    _r(
        66,
        "zlib.error: Error -5 while decompressing data: incomplete or truncated",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "truncate",
            "op": "cut",
            "at": 1962,
        },
    ),
    _r(
        73,
        "zlib.error: Error -5 while decompressing data: incomplete or truncated",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "truncate",
            "op": "cut",
            "at": 933,
        },
    ),
    _r(
        88,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 266,
            "n": 22,
            "hex": "2e312e32",
            "fix": [[264, 2]],
        },
    ),
    _r(
        115,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/ko_ihe_xdsi_manifest_pet_10inst_images/000003.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 258,
            "n": 20,
            "hex": "c3a974c3a920",
            "fix": [[256, 2]],
        },
    ),
    _r(
        128,
        "RecursionError: maximum recursion depth exceeded",
        {
            "source": "realdata/sr_tid1500_highdicom_scoord_scoord3d.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 4846,
            "depth": 1000,
            "explicit": True,
            "fix": [
                [1348, 4],
                [2444, 4],
                [2582, 4],
                [3786, 4],
                [3966, 4],
                [4676, 4],
                [4794, 4],
                [4802, 4],
            ],
        },
    ),
    _r(
        157,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/gsps_softneta_ellipse_measurement_image.dcm",
            "kind": "truncate",
            "op": "cut",
            "at": 262,
        },
    ),
    _r(
        222,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "remove_delimiter",
            "op": "cut",
            "at": 266,
        },
    ),
    _r(
        223,
        "RecursionError: maximum recursion depth exceeded in comparison",
        {
            "source": "realdata/sr_comprehensive_dcmtk_dscope_nested.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 6796,
            "depth": 300,
            "explicit": True,
            "fix": [[1642, 4], [5414, 4], [5640, 4], [6234, 4], [6430, 4], [6662, 4]],
        },
    ),
    _r(
        268,
        "OSError: No tag to read at file position 177E",
        {
            "source": "realdata/sr_tid1500_highdicom_scoord_scoord3d.dcm",
            "kind": "huge_length",
            "op": "set",
            "at": 7128,
            "hex": "ffffffff",
        },
    ),
    _r(
        285,
        "NotImplementedError: Unknown Value Representation '0x53 0xc0' in tag (",
        {
            "source": "sample_dicom/kos_single_frame.dcm",
            "kind": "flip",
            "op": "set",
            "at": 507,
            "hex": "c0",
        },
    ),
    _r(
        311,
        "RecursionError: maximum recursion depth exceeded while calling a Pytho",
        {
            "source": "sample_dicom/kos_frames_segments.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 1932,
            "depth": 12000,
            "explicit": True,
            "fix": [[1438, 4], [1808, 4], [1820, 4], [1828, 4]],
        },
    ),
    _r(
        318,
        "BytesLengthException: Expected total bytes to be an even multiple of b",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "huge_length",
            "op": "set",
            "at": 138,
            "hex": "ffff",
        },
    ),
    _r(
        334,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/gsps_softneta_ellipse_measurement.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 274,
            "n": 18,
            "hex": "323032342d31332d3435",
            "fix": [[272, 2]],
        },
    ),
    _r(
        366,
        "BytesLengthException: Expected total bytes to be an even multiple of b",
        {
            "source": "sample_dicom/kos_two_studies.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 2374,
            "hex": "5356",
        },
    ),
    _r(
        375,
        "BytesLengthException: Expected total bytes to be an even multiple of b",
        {
            "source": "realdata/sr_comprehensive_dcmtk_dscope_nested.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 6762,
            "hex": "5356",
        },
    ),
    _r(
        405,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 266,
            "n": 22,
            "hex": "83adc6d46adf1e8d424bd2c49d34cbfeaafe2e10efe97ac5823e44d3d37ff1358649f0fac9b489abf2c5442ec7bf8fbcd6518d594a050935d620",  # noqa: E501 - mutation bytes
            "fix": [[264, 2]],
        },
    ),
    _r(
        418,
        "BytesLengthException: Expected total bytes to be an even multiple of b",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 262,
            "hex": "5556",
        },
    ),
    _r(
        437,
        "RecursionError: maximum recursion depth exceeded while calling a Pytho",
        {
            "source": "sample_dicom/kos_single_frame.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 1978,
            "depth": 12000,
            "explicit": True,
            "fix": [[1370, 4], [1864, 4], [1876, 4], [1884, 4]],
        },
    ),
    _r(
        439,
        "BytesLengthException: Expected total bytes to be an even multiple of b",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "huge_length",
            "op": "set",
            "at": 138,
            "hex": "ffff",
        },
    ),
    _r(
        494,
        "BytesLengthException: Expected total bytes to be an even multiple of b",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "huge_length",
            "op": "set",
            "at": 138,
            "hex": "ffff",
        },
    ),
    _r(
        551,
        "BytesLengthException: Expected total bytes to be an even multiple of b",
        {
            "source": "sample_dicom/kos_single_frame.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 836,
            "hex": "5556",
        },
    ),
    _r(
        591,
        "RecursionError: maximum recursion depth exceeded in comparison",
        {
            "source": "realdata/sr_tid1500_highdicom_scoord_scoord3d.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 7954,
            "depth": 1000,
            "explicit": True,
            "fix": [
                [1348, 4],
                [2444, 4],
                [2582, 4],
                [7082, 4],
                [7262, 4],
                [7796, 4],
                [7898, 4],
                [7906, 4],
            ],
        },
    ),
    _r(
        638,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/ko_ihe_xdsi_manifest_pet_10inst_images/000003.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 258,
            "n": 20,
            "hex": "3939393939393939",
            "fix": [[256, 2]],
        },
    ),
    _r(
        672,
        "RecursionError: maximum recursion depth exceeded in comparison",
        {
            "source": "realdata/sr_tid1500_dcmjs_small_scoord.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 4456,
            "depth": 1000,
            "explicit": True,
            "fix": [
                [1668, 4],
                [2854, 4],
                [2990, 4],
                [2998, 4],
                [3132, 4],
                [3974, 4],
                [4186, 4],
                [4194, 4],
            ],
        },
    ),
    _r(
        692,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/gsps_softneta_ellipse_measurement.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 274,
            "n": 18,
            "hex": "46083e20",
            "fix": [[272, 2]],
        },
    ),
    _r(
        707,
        "RecursionError: maximum recursion depth exceeded while calling a Pytho",
        {
            "source": "sample_dicom/kos_single_frame.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 1546,
            "depth": 12000,
            "explicit": True,
            "fix": [[1370, 4], [1378, 4], [1494, 4], [1502, 4]],
        },
    ),
    _r(
        721,
        "ValueError: UID is not a transfer syntax.",
        {
            "source": "realdata/gsps_softneta_ellipse_measurement.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 274,
            "n": 18,
            "hex": "c3a974c3a920",
            "fix": [[272, 2]],
        },
    ),
    _r(
        787,
        "RecursionError: maximum recursion depth exceeded in comparison",
        {
            "source": "realdata/sr_tid1500_dcmjs_small_scoord.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 2850,
            "depth": 300,
            "explicit": True,
            "fix": [[1668, 4], [2408, 4], [2538, 4], [2546, 4], [2682, 4], [2690, 4]],
        },
    ),
    # make fuzz, seed 10, mutants 792..1999 (before the fix)
    _r(
        792,
        "untyped: zlib.error",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "flip",
            "op": "set",
            "at": 532,
            "hex": "97a33553dfecddaa",
        },
    ),
    _r(
        796,
        "hang over 10 s",
        {
            "source": "sample_dicom/kos_frames_segments.dcm",
            "kind": "repeat_item",
            "op": "repeat",
            "start": 874,
            "end": 1146,
            "at": 1146,
            "times": 20000,
            "fix": [[870, 4]],
        },
    ),
    _r(
        812,
        "untyped: BytesLengthException",
        {
            "source": "sample_dicom/kos_two_studies.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 1248,
            "hex": "4644",
        },
    ),
    _r(
        817,
        "untyped: BytesLengthException",
        {
            "source": "sample_dicom/seg_ct_small.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 2284,
            "hex": "4644",
        },
    ),
    _r(
        865,
        "untyped: ValueError UID is not a transfer syntax",
        {
            "source": "realdata/rtstruct_dicompyler_10rois.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 258,
            "n": 18,
            "hex": "546b4220",
            "fix": [[256, 2]],
        },
    ),
    _r(
        960,
        "untyped: ValueError UID is not a transfer syntax",
        {
            "source": "realdata/rtstruct_dicompyler_10rois.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 258,
            "n": 18,
            "hex": "2020",
            "fix": [[256, 2]],
        },
    ),
    _r(
        972,
        "untyped: BytesLengthException",
        {
            "source": "realdata/gsps_softneta_ellipse_measurement.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 136,
            "hex": "6162",
        },
    ),
    _r(
        990,
        "untyped: BytesLengthException",
        {
            "source": "sample_dicom/kos_single_frame.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 1754,
            "hex": "5356",
        },
    ),
    _r(
        1026,
        "untyped: ValueError UID is not a transfer syntax",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 266,
            "n": 22,
            "hex": "30783146",
            "fix": [[264, 2]],
        },
    ),
    _r(
        1037,
        "untyped: BytesLengthException",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 136,
            "hex": "5356",
        },
    ),
    _r(
        1095,
        "untyped: RecursionError",
        {
            "source": "realdata/sr_tid1500_highdicom_scoord_scoord3d.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 1992,
            "depth": 3000,
            "explicit": True,
            "fix": [[1348, 4], [1884, 4], [1932, 4], [1940, 4]],
        },
    ),
    _r(
        1097,
        "untyped: RecursionError",
        {
            "source": "sample_dicom/kos_single_frame.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 1266,
            "depth": 3000,
            "explicit": True,
            "fix": [[902, 4], [910, 4], [922, 4], [1102, 4]],
        },
    ),
    _r(
        1127,
        "untyped: RecursionError",
        {
            "source": "sample_dicom/kos_single_frame.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 1978,
            "depth": 3000,
            "explicit": True,
            "fix": [[1370, 4], [1864, 4], [1876, 4], [1884, 4]],
        },
    ),
    _r(
        1137,
        "untyped: ValueError UID is not a transfer syntax",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 266,
            "n": 22,
            "hex": "312e322e61626320",
            "fix": [[264, 2]],
        },
    ),
    _r(
        1151,
        "untyped: zlib.error",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "flip",
            "op": "set",
            "at": 647,
            "hex": "9b",
        },
    ),
    _r(
        1173,
        "untyped: ValueError UID is not a transfer syntax",
        {
            "source": "realdata/rtstruct_dicompyler_10rois.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 258,
            "n": 18,
            "hex": "3939393939393939",
            "fix": [[256, 2]],
        },
    ),
    _r(
        1192,
        "untyped: BytesLengthException",
        {
            "source": "realdata/gsps_softneta_ellipse_measurement.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 148,
            "hex": "504e",
        },
    ),
    _r(
        1219,
        "untyped: RecursionError",
        {
            "source": "realdata/sr_comprehensive_dcmtk_dscope_nested.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 4784,
            "depth": 12000,
            "explicit": True,
            "fix": [[1642, 4], [3962, 4], [4134, 4], [4532, 4], [4730, 4], [4738, 4]],
        },
    ),
    _r(
        1255,
        "untyped: ValueError UID is not a transfer syntax",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "truncate",
            "op": "cut",
            "at": 266,
        },
    ),
    _r(
        1312,
        "untyped: BytesLengthException",
        {
            "source": "realdata/ko_ihe_xdsi_manifest_mr_36inst.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 252,
            "hex": "5556",
        },
    ),
    _r(
        1328,
        "untyped: RecursionError",
        {
            "source": "sample_dicom/kos_frames_segments.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 1632,
            "depth": 1000,
            "explicit": True,
            "fix": [[1438, 4], [1446, 4]],
        },
    ),
    _r(
        1394,
        "untyped: ValueError UID is not a transfer syntax",
        {
            "source": "realdata/rtstruct_dicompyler_10rois.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 258,
            "n": 18,
            "hex": "000b1b20",
            "fix": [[256, 2]],
        },
    ),
    _r(
        1463,
        "untyped: RecursionError",
        {
            "source": "realdata/sr_tid1500_highdicom_scoord_scoord3d.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 5610,
            "depth": 300,
            "explicit": True,
            "fix": [[1348, 4], [2444, 4], [2582, 4], [3786, 4]],
        },
    ),
    _r(
        1518,
        "untyped: BytesLengthException",
        {
            "source": "realdata/enhanced_mr_bruker_4frames.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 3098,
            "hex": "5556",
        },
    ),
    _r(
        1530,
        "untyped: BytesLengthException",
        {
            "source": "sample_dicom/kos_frames_segments.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 148,
            "hex": "4c4f",
        },
    ),
    _r(
        1566,
        "untyped: ValueError UID is not a transfer syntax",
        {
            "source": "realdata/ko_ihe_xdsi_manifest_pet_10inst.dcm",
            "kind": "flip",
            "op": "set",
            "at": 262,
            "hex": "7dae9f0f",
        },
    ),
    _r(
        1631,
        "untyped: RecursionError",
        {
            "source": "sample_dicom/kos_two_studies.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 2224,
            "depth": 12000,
            "explicit": True,
            "fix": [[1956, 4], [2112, 4], [2124, 4], [2132, 4]],
        },
    ),
    _r(
        1658,
        "untyped: OSError No tag to read",
        {
            "source": "realdata/sr_tid1500_dcmjs_small_scoord.dcm",
            "kind": "huge_length",
            "op": "set",
            "at": 2340,
            "hex": "ffffffff",
        },
    ),
    _r(
        1677,
        "untyped: zlib.error",
        {
            "source": "realdata/sr_enhanced_deflated_dcm4che.dcm",
            "kind": "flip",
            "op": "set",
            "at": 845,
            "hex": "03b4",
        },
    ),
    _r(
        1701,
        "untyped: RecursionError",
        {
            "source": "sample_dicom/kos_single_frame.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 1666,
            "depth": 300,
            "explicit": True,
            "fix": [[1370, 4], [1550, 4], [1600, 4], [1608, 4]],
        },
    ),
    _r(
        1714,
        "untyped: RecursionError",
        {
            "source": "realdata/sr_tid1500_highdicom_scoord_scoord3d.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 2172,
            "depth": 300,
            "explicit": True,
            "fix": [[1348, 4], [2056, 4], [2106, 4], [2114, 4]],
        },
    ),
    _r(
        1769,
        "untyped: BytesLengthException",
        {
            "source": "sample_dicom/kos_frames_segments.dcm",
            "kind": "huge_length",
            "op": "set",
            "at": 138,
            "hex": "feff",
        },
    ),
    _r(
        1802,
        "untyped: OSError No tag to read",
        {
            "source": "sample_dicom/kos_two_studies.dcm",
            "kind": "huge_length",
            "op": "set",
            "at": 948,
            "hex": "ffffffff",
        },
    ),
    _r(
        1826,
        "untyped: RecursionError",
        {
            "source": "sample_dicom/seg_ct_small.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 2376,
            "depth": 3000,
            "explicit": True,
            "fix": [[2302, 4], [2310, 4], [2322, 4], [2330, 4]],
        },
    ),
    _r(
        1858,
        "untyped: struct.error",
        {
            "source": "sample_dicom/kos_frames_segments.dcm",
            "kind": "remove_delimiter",
            "op": "cut",
            "at": 870,
        },
    ),
    _r(
        1879,
        "untyped: RecursionError",
        {
            "source": "sample_dicom/seg_ct_small.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 2484,
            "depth": 12000,
            "explicit": True,
            "fix": [[2302, 4], [2310, 4], [2424, 4], [2432, 4]],
        },
    ),
    _r(
        1912,
        "untyped: OSError No tag to read",
        {
            "source": "sample_dicom/seg_ct_small.dcm",
            "kind": "huge_length",
            "op": "set",
            "at": 2732,
            "hex": "ffffffff",
        },
    ),
    _r(
        1920,
        "untyped: RecursionError",
        {
            "source": "sample_dicom/kos_two_studies.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 888,
            "depth": 12000,
            "explicit": True,
            "fix": [[834, 4], [842, 4]],
        },
    ),
    _r(
        1933,
        "untyped: RecursionError",
        {
            "source": "sample_dicom/kos_single_frame.dcm",
            "kind": "deep_nesting",
            "op": "nest",
            "at": 1806,
            "depth": 300,
            "explicit": True,
            "fix": [[1370, 4], [1698, 4], [1738, 4], [1746, 4]],
        },
    ),
    _r(
        1980,
        "untyped: ValueError UID is not a transfer syntax",
        {
            "source": "realdata/ko_ihe_xdsi_manifest_pet_10inst_images/000008.dcm",
            "kind": "garbage_value",
            "op": "replace",
            "at": 258,
            "n": 20,
            "hex": "316534303020",
            "fix": [[256, 2]],
        },
    ),
    # make fuzz, seed 10, 21,603 mutants after the fix: slow SR reads
    _r(
        597,
        "hang over 60 s (quadratic algorithm lookup per NUM)",
        {
            "source": "realdata/sr_tid1500_highdicom_scoord_scoord3d.dcm",
            "kind": "repeat_item",
            "op": "repeat",
            "start": 6482,
            "end": 6682,
            "at": 6682,
            "times": 20000,
            "fix": [[1348, 4], [2444, 4], [2582, 4], [5614, 4], [5794, 4]],
        },
    ),
    _r(
        7025,
        "hang over 60 s",
        {
            "source": "realdata/sr_comprehensive_dcmtk_dscope_nested.dcm",
            "kind": "repeat_item",
            "op": "repeat",
            "start": 1816,
            "end": 3958,
            "at": 3958,
            "times": 20000,
            "fix": [[1642, 4]],
        },
    ),
    # make fuzz, seed 10, mutants 21,603..64,046: SOP Class UID read outside the mapping
    _r(
        47978,
        "BytesLengthException (SOPClassUID with VR UL, converted by the dispatcher)",
        {
            "source": "realdata/gsps_softneta_ellipse_measurement_image.dcm",
            "kind": "vr_swap",
            "op": "set",
            "at": 370,
            "hex": "554c",
        },
    ),
]


def name(entry: dict[str, Any]) -> str:
    """The regression file's name."""
    return f"fuzz-{entry['seed']}-{entry['index']}.dcm"


def available(entry: dict[str, Any]) -> bool:
    """Whether the entry's source file is here (``../shared/realdata`` may be absent)."""
    return fuzz.source_path(entry["spec"]["source"]).is_file()


def build(entry: dict[str, Any]) -> bytes:
    """The regression file's bytes, from its source file and mutation."""
    spec = entry["spec"]
    return fuzz.apply(fuzz.source_path(spec["source"]).read_bytes(), spec)


def generate(dest: Path) -> list[Path]:
    """Write every regression whose source file is present into ``dest``; return the paths."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in REGRESSIONS:
        if available(entry):
            path = dest / name(entry)
            path.write_bytes(build(entry))
            paths.append(path)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    for p in generate(Path(sys.argv[1])):
        print(p)
