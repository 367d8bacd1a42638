"""R5 JSON -> model: the writer's output reads back to the same resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dicomsel.errors import InvalidInputError
from dicomsel.fhir import load_resources, r5, read_fhir

from conftest import GOLDEN

CT = "1.2.840.10008.5.1.4.1.1.2"
GOLDEN_FILES = sorted(GOLDEN.glob("*.r5.ndjson")) + sorted(GOLDEN.glob("*.r5.json"))


def _comparable(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resources without ids: endpoint references replaced by the Endpoint's content,
    focus references by the position of their target among the ImagingSelections."""
    by_id = {r["id"]: r for r in resources if r["resourceType"] == "Endpoint"}
    position = {
        r["id"]: n
        for n, r in enumerate(x for x in resources if x["resourceType"] == "ImagingSelection")
    }
    out = []
    for r in resources:
        if r["resourceType"] != "ImagingSelection":
            continue
        c = {k: v for k, v in r.items() if k != "id"}
        if "endpoint" in c:
            c["endpoint"] = [
                {
                    k: v
                    for k, v in by_id[
                        e["reference"].rsplit("/", 1)[-1].removeprefix("urn:uuid:")
                    ].items()
                    if k != "id"
                }
                for e in c["endpoint"]
            ]
        if "focus" in c:
            c["focus"] = [
                position[f["reference"].rsplit("/", 1)[-1].removeprefix("urn:uuid:")]
                for f in c["focus"]
            ]
        out.append(c)
    return out


@pytest.mark.parametrize("golden", GOLDEN_FILES, ids=lambda p: p.name)
def test_writer_output_reads_back(golden: Path) -> None:
    original = load_resources(golden)
    fhir_input = read_fhir(golden)
    out = r5.write(fhir_input.selections)
    again = out.resources + list(out.shared.values())
    assert _comparable(again) == _comparable(original)
    assert not fhir_input.warnings


def _selection(**kw: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "ImagingSelection",
        "id": "x",
        "status": "available",
        "code": {
            "coding": [
                {
                    "system": "http://dicom.nema.org/resources/ontology/DCM",
                    "code": "113000",
                    "display": "Of Interest",
                }
            ]
        },
        "studyUid": "1.2.3",
        "seriesUid": "1.2.3.4",
        "instance": [
            {
                "uid": "1.2.3.4.5",
                "sopClass": {
                    "system": "urn:ietf:rfc:3986",
                    "code": "urn:oid:1.2.840.10008.5.1.4.1.1.2",
                },
            }
        ],
    }
    res.update(kw)
    return res


def _read(res: dict[str, Any], tmp_path: Path) -> Any:
    import json

    f = tmp_path / "in.json"
    f.write_text(json.dumps(res))
    return read_fhir(f)


def test_subset_meaning_follows_the_sop_class(tmp_path: Path) -> None:
    seg = {
        "uid": "1.2.9",
        "sopClass": {"code": "urn:oid:1.2.840.10008.5.1.4.1.1.66.4"},
        "subset": ["2", "1"],
    }
    rt = {"uid": "1.2.10", "sopClass": {"code": "1.2.840.10008.5.1.4.1.1.481.3"}, "subset": ["7"]}
    sr = {
        "uid": "1.2.11",
        "sopClass": {"code": "urn:oid:1.2.840.10008.5.1.4.1.1.88.34"},
        "subset": ["1.2.840.99.1"],
    }
    mf = {
        "uid": "1.2.12",
        "sopClass": {"code": "urn:oid:1.2.840.10008.5.1.4.1.1.4.1"},
        "subset": ["3", "1"],
    }
    sel = _read(_selection(instance=[seg, rt, sr, mf]), tmp_path).selections[0]
    a, b, c, d = sel.instances
    assert (a.segments, b.rois, c.observation_uids, d.frames) == (
        (1, 2),
        (7,),
        ("1.2.840.99.1",),
        (1, 3),
    )


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"instance": [{"uid": "1.2.03"}]}, "instance[0].uid"),
        ({"instance": [{"uid": "urn:oid:1.2.3"}]}, "instance[0].uid"),
        ({"studyUid": "abc"}, "studyUid"),
        ({"instance": [{"uid": "1.2.3", "subset": ["1", "1"]}]}, "instance[0].subset"),
        ({"instance": [{"uid": "1.2.3", "subset": ["a"]}]}, "instance[0].subset"),
        ({"instance": [{"uid": "1.2.3", "sopClass": {"code": "CT"}}]}, "instance[0].sopClass"),
        (
            {
                "instance": [
                    {
                        "uid": "1.2.3",
                        "imageRegion2D": [{"regionType": "circle", "coordinate": [1, 2]}],
                    }
                ]
            },
            "instance[0].imageRegion2D[0]",
        ),
        ({"code": None}, "code"),
    ],
)
def test_bad_elements_are_named(change: dict[str, Any], where: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as info:
        _read(_selection(**change), tmp_path)
    assert f"ImagingSelection/x.{where}" in str(info.value)
    assert str(tmp_path / "in.json") in str(info.value)


def test_empty_bundle_and_no_selection(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no ImagingSelection"):
        _read({"resourceType": "Bundle", "type": "collection", "entry": []}, tmp_path)
    with pytest.raises(InvalidInputError, match="no ImagingSelection"):
        _read({"resourceType": "Patient", "id": "p"}, tmp_path)
    f = tmp_path / "bad.json"
    f.write_text("{not json")
    with pytest.raises(InvalidInputError, match="not JSON"):
        read_fhir(f)
    f.write_text("")
    with pytest.raises(InvalidInputError, match="empty"):
        read_fhir(f)
