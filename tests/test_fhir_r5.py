"""The R5 writer: its own checks (those fhir.resources skips) and what it reports as lost."""

from __future__ import annotations

from typing import Any

import pytest

from dicomsel.errors import ValidationError
from dicomsel.fhir import r5
from dicomsel.model import Code, Instance, Region2D, Selection

OF_INTEREST = Code("113000", "DCM", "Of Interest")
SEG = "1.2.840.10008.5.1.4.1.1.66.4"
CT = "1.2.840.10008.5.1.4.1.1.2"


def _sel(*instances: Instance, **kw: Any) -> Selection:
    return Selection("k", "1.2.3", OF_INTEREST, "1.2.4", "1.2.5", instances=instances, **kw)


def _valid() -> dict[str, Any]:
    out = r5.write([_sel(Instance("1.2.6", CT))])
    return out.resources[0]


def test_a_written_resource_is_valid() -> None:
    r5.validate_r5(_valid())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "done"}, "status 'done'"),
        ({"id": "x" * 65}, "is not a FHIR id"),
        ({"id": "a_b"}, "is not a FHIR id"),
        (
            {
                "instance": [
                    {
                        "uid": "1.2.6",
                        "imageRegion2D": [{"regionType": "triangle", "coordinate": [1, 2]}],
                    }
                ]
            },
            "not a 2D graphic type",
        ),
        (
            {
                "instance": [
                    {
                        "uid": "1.2.6",
                        "imageRegion3D": [{"regionType": "circle", "coordinate": [1, 2, 3]}],
                    }
                ]
            },
            "not a 3D graphic type",
        ),
        ({"code": None}, "code"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_validation_catches(change: dict[str, Any], message: str) -> None:
    res = {**_valid(), **change}
    res = {k: v for k, v in res.items() if v is not None}
    with pytest.raises(ValidationError, match=message):
        r5.validate_r5(res)


def test_subset_by_sop_class_and_loss_reported() -> None:
    inst = Instance("1.2.6", SEG, frames=(3,), segments=(2, 1))
    out = r5.write([_sel(inst)])
    assert out.resources[0]["instance"][0]["subset"] == ["1", "2"]
    assert any("frames [3] left out" in w for w in out.warnings)


def test_multipoint_becomes_points_with_a_warning() -> None:
    inst = Instance("1.2.6", CT, regions_2d=(Region2D("multipoint", (1.5, 2, 3, 4.25)),))  # type: ignore[arg-type]
    out = r5.write([_sel(inst)])
    regions = out.resources[0]["instance"][0]["imageRegion2D"]
    assert regions == [
        {"regionType": "point", "coordinate": [1.5, 2]},
        {"regionType": "point", "coordinate": [3, 4.25]},
    ]
    assert any("no 2D multipoint" in w for w in out.warnings)
    r5.validate_r5(out.resources[0])


def test_coordinates_read_back_to_the_same_float() -> None:
    values = (0.1, 1 / 3, 1e-7, 123456.789012345, 2.0)
    inst = Instance("1.2.6", CT, regions_2d=(Region2D("polyline", (*values, 5.0)),))  # type: ignore[arg-type]
    import json

    text = json.dumps(r5.write([_sel(inst)]).resources[0])
    coords = json.loads(text)["instance"][0]["imageRegion2D"][0]["coordinate"]
    assert tuple(float(c) for c in coords) == (*values, 5.0)


def test_description_is_escaped_narrative() -> None:
    res = r5.write([_sel(Instance("1.2.6", CT), description="a < b & c\nnext")]).resources[0]
    assert res["text"]["status"] == "additional"
    assert "a &lt; b &amp; c<br/>next" in res["text"]["div"]
    r5.validate_r5(res)


def test_ids_are_stable_and_distinct() -> None:
    a = r5.write([_sel(Instance("1.2.6", CT))]).resources[0]["id"]
    b = r5.write([_sel(Instance("1.2.6", CT))]).resources[0]["id"]
    other = Selection("k2", "1.2.3", OF_INTEREST, instances=(Instance("1.2.6"),))
    c = r5.write([other]).resources[0]["id"]
    assert a == b != c and len(a) == 36


def test_unknown_coding_scheme_is_reported() -> None:
    sel = Selection("k", "1.2.3", Code("X1", "99PRIVATE", "Private"))
    out = r5.write([sel])
    assert "system" not in out.resources[0]["code"]["coding"][0]
    assert any("99PRIVATE" in w for w in out.warnings)
