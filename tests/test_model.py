"""The neutral model: UID rules (PS3.5 9.1), subsets, regions."""

from __future__ import annotations

import pytest

from dicomsel.errors import InvalidInputError, InvalidUIDError
from dicomsel.model import (
    ActorKind,
    Code,
    Instance,
    Reference,
    Region2D,
    Region3D,
    Selection,
)
from dicomsel.uid import check_uid, is_valid_uid


@pytest.mark.parametrize(
    "uid",
    [
        "1.2.840.10008.5.1.4.1.1.88.59",
        "0",
        "2.25.0",
        "2.25.329800735698586629295641978511506172918",  # 44 characters (PS3.5 B.2)
        "1." + "2" * 62,  # 64 characters
    ],
)
def test_valid_uids(uid: str) -> None:
    assert is_valid_uid(uid)
    assert check_uid(uid) == uid


@pytest.mark.parametrize(
    ("uid", "why"),
    [
        ("", "empty"),
        ("1." + "2" * 63, "more than 64"),
        ("1.2.840.abc", "characters other than digits"),
        ("1.2..3", "empty component"),
        (".1.2", "empty component"),
        ("1.2.", "empty component"),
        ("1.02.3", "leading zero"),
        ("1.2.3 ", "characters other than digits"),
    ],
)
def test_invalid_uids(uid: str, why: str) -> None:
    assert not is_valid_uid(uid)
    with pytest.raises(InvalidUIDError, match=why):
        check_uid(uid, "SOPInstanceUID")


def test_invalid_uid_is_a_value_error_naming_the_attribute() -> None:
    with pytest.raises(ValueError, match=r"ReferencedSOPInstanceUID: '1\.02' is not a valid UID"):
        check_uid("1.02", "ReferencedSOPInstanceUID")


def test_subsets_are_sorted() -> None:
    inst = Instance("1.2.3", frames=(7, 2, 5), segments=(3, 1), rois=(10, 2))
    assert inst.frames == (2, 5, 7)
    assert inst.segments == (1, 3)
    assert inst.rois == (2, 10)


@pytest.mark.parametrize("field", ["frames", "segments", "rois"])
def test_duplicate_subset_items_are_rejected(field: str) -> None:
    with pytest.raises(InvalidInputError, match=r"duplicate number\(s\) \[2\]"):
        Instance("1.2.3", **{field: (2, 1, 2)})


def test_frames_start_at_one_and_segment_zero_is_allowed() -> None:
    with pytest.raises(InvalidInputError, match="out of range"):
        Instance("1.2.3", frames=(0,))
    assert Instance("1.2.3", segments=(0, 1)).segments == (0, 1)  # label map background


def test_observation_uids_checked_and_sorted() -> None:
    inst = Instance("1.2.3", observation_uids=("1.2.9", "1.2.10"))
    assert inst.observation_uids == ("1.2.10", "1.2.9")
    with pytest.raises(InvalidUIDError):
        Instance("1.2.3", observation_uids=("1.2.09",))


def test_merge_is_a_union() -> None:
    a = Instance("1.2.3", "1.2.840.10008.5.1.4.1.1.4", frames=(1, 3))
    b = Instance("1.2.3", frames=(3, 4))
    m = a.merged(b)
    assert m.frames == (1, 3, 4)
    assert m.sop_class_uid == "1.2.840.10008.5.1.4.1.1.4"


@pytest.mark.parametrize(
    ("kind", "coords", "ok"),
    [
        ("point", (1.0, 2.0), True),
        ("point", (1.0, 2.0, 3.0, 4.0), False),
        ("circle", (1.0, 2.0, 3.0, 4.0), True),
        ("circle", (1.0, 2.0), False),
        ("ellipse", (0, 0, 1, 1, 2, 2, 3, 3), True),
        ("ellipse", (0, 0, 1, 1), False),
        ("polyline", (0, 0, 1, 1, 2, 2), True),
        ("polyline", (0, 0), False),
        ("multipoint", (0, 0, 1, 1), True),
        ("point", (1.0,), False),
    ],
)
def test_region2d_point_counts(kind: str, coords: tuple[float, ...], ok: bool) -> None:
    if ok:
        assert Region2D(kind, coords).coordinates == tuple(float(c) for c in coords)  # type: ignore[arg-type]
    else:
        with pytest.raises(InvalidInputError):
            Region2D(kind, coords)  # type: ignore[arg-type]


def test_region2d_unknown_type() -> None:
    with pytest.raises(ValueError):
        Region2D("triangle", (0, 0))  # type: ignore[arg-type]


def test_region3d_needs_triples_and_a_frame_of_reference() -> None:
    r = Region3D("ellipsoid", tuple(range(18)), "1.2.3")  # type: ignore[arg-type]
    assert len(r.coordinates) == 18
    with pytest.raises(InvalidInputError, match="multiple of 3"):
        Region3D("point", (1, 2), "1.2.3")  # type: ignore[arg-type]
    with pytest.raises(InvalidUIDError):
        Region3D("point", (1, 2, 3), "1.2.03")  # type: ignore[arg-type]


def test_selection_rejects_an_instance_twice_and_bad_uids() -> None:
    code = Code("113000", "DCM", "Of Interest")
    with pytest.raises(InvalidInputError, match="listed twice"):
        Selection("k", "1.2.3", code, instances=(Instance("1.2.4"), Instance("1.2.4")))
    with pytest.raises(InvalidUIDError):
        Selection("k", "1.2.3", code, study_instance_uid="1.2.03")
    with pytest.raises(InvalidInputError, match="status"):
        Selection("k", "1.2.3", code, status="done")


def test_models_are_frozen() -> None:
    inst = Instance("1.2.3")
    with pytest.raises(AttributeError):
        inst.uid = "1.2.4"  # type: ignore[misc]


def test_reference_needs_identifier_or_display() -> None:
    with pytest.raises(InvalidInputError):
        Reference(ActorKind.PATIENT)
