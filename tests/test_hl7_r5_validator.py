"""The HL7 R5 validator (tests/hl7_r5.py) accepts valid R5 and rejects invalid R5, by path."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

import hl7_r5
from hl7_r5 import HL7_CACHE, Validator, assert_valid_r5, require_r5_validator

Resource = dict[str, Any]


@pytest.fixture(scope="module")
def validator() -> Validator:
    return require_r5_validator()


def imaging_selection() -> Resource:
    return {
        "resourceType": "ImagingSelection",
        "id": "sel-1",
        "status": "available",
        "code": {"text": "Key images"},
        "studyUid": "1.2.826.0.1.3680043.8.498.1",
        "seriesUid": "1.2.826.0.1.3680043.8.498.2",
        "instance": [
            {
                "uid": "1.2.826.0.1.3680043.8.498.3",
                "sopClass": {
                    "system": "urn:ietf:rfc:3986",
                    "code": "urn:oid:1.2.840.10008.5.1.4.1.1.2",
                },
                "subset": ["1", "2"],
            }
        ],
    }


def endpoint() -> Resource:
    return {
        "resourceType": "Endpoint",
        "id": "pacs",
        "status": "active",
        "connectionType": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type",
                        "code": "dicom-wado-rs",
                    }
                ]
            }
        ],
        "payload": [{"mimeType": ["application/dicom"]}],
        "address": "https://pacs.example.org/dicomweb",
    }


def bundle() -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:0c3e9a4e-44a6-4b4f-8f0e-2d7d2b6b9c11",
                "resource": imaging_selection(),
                "request": {"method": "POST", "url": "ImagingSelection"},
            },
            {
                "fullUrl": "urn:uuid:5b0f2c9e-1f0a-4a57-9d43-0b7c8f1e2a33",
                "resource": endpoint(),
                "request": {"method": "PUT", "url": "Endpoint/pacs"},
            },
        ],
    }


def observation() -> Resource:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Lesion diameter"},
        "effectiveDateTime": "2024-05-01T10:15:00+02:00",
        "valueQuantity": {"value": 12.5, "unit": "mm"},
    }


@pytest.mark.parametrize(
    "make", [imaging_selection, endpoint, bundle, observation], ids=lambda f: f.__name__
)
def test_valid_resources_pass(validator: Validator, make: Callable[[], Resource]) -> None:
    resource = make()
    assert validator.errors(resource) == []
    assert_valid_r5(resource)


def _set(path: list[str | int], value: Any) -> Callable[[Resource], None]:
    def mutate(resource: Resource) -> None:
        node: Any = resource
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _delete(path: list[str | int]) -> Callable[[Resource], None]:
    def mutate(resource: Resource) -> None:
        node: Any = resource
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


_REGION_2D = [{"regionType": "triangle", "coordinate": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}]
_REGION_3D = [{"regionType": "triangle", "coordinate": [1.0, 2.0, 3.0]}]

INVALID = [
    # (id, factory, mutation, path the error must name)
    ("missing-status", imaging_selection, _delete(["status"]), "ImagingSelection.status"),
    ("bogus-status", imaging_selection, _set(["status"], "bogus"), "ImagingSelection.status"),
    (
        "instance-without-uid",
        imaging_selection,
        _delete(["instance", 0, "uid"]),
        "ImagingSelection.instance[0].uid",
    ),
    (
        "region2d-triangle",
        imaging_selection,
        _set(["instance", 0, "imageRegion2D"], _REGION_2D),
        "ImagingSelection.instance[0].imageRegion2D[0].regionType",
    ),
    (
        "region3d-triangle",
        imaging_selection,
        _set(["instance", 0, "imageRegion3D"], _REGION_3D),
        "ImagingSelection.instance[0].imageRegion3D[0].regionType",
    ),
    ("id-too-long", imaging_selection, _set(["id"], "a" * 65), "ImagingSelection.id"),
    ("id-bad-char", imaging_selection, _set(["id"], "sel_1"), "ImagingSelection.id"),
    ("unknown-element", imaging_selection, _set(["foo"], "bar"), "ImagingSelection.foo"),
    (
        "uid-trailing-newline",
        imaging_selection,
        _set(["instance", 0, "uid"], "1.2.3\n"),
        "ImagingSelection.instance[0].uid",
    ),
    ("missing-code", imaging_selection, _delete(["code"]), "ImagingSelection.code"),
    (
        "empty-array",
        imaging_selection,
        _set(["instance", 0, "subset"], []),
        "ImagingSelection.instance[0].subset",
    ),
    (
        "negative-unsignedInt",
        imaging_selection,
        _set(["instance", 0, "number"], -1),
        "ImagingSelection.instance[0].number",
    ),
    (
        "issued-not-instant",
        imaging_selection,
        _set(["issued"], "2024-05-01"),
        "ImagingSelection.issued",
    ),
    (
        "narrative-bogus-status",
        imaging_selection,
        _set(["text"], {"status": "bogus", "div": '<div xmlns="http://www.w3.org/1999/xhtml"/>'}),
        "ImagingSelection.text.status",
    ),
    (
        "narrative-not-xhtml",
        imaging_selection,
        _set(["text"], {"status": "generated", "div": "<p>hi</p>"}),
        "ImagingSelection.text.div",
    ),
    (
        "identifier-bogus-use",
        imaging_selection,
        _set(["identifier"], [{"use": "bogus", "value": "x"}]),
        "ImagingSelection.identifier[0].use",
    ),
    (
        "extension-without-url",
        imaging_selection,
        _set(["extension"], [{"valueString": "x"}]),
        "ImagingSelection.extension[0].url",
    ),
    ("bundle-bogus-type", bundle, _set(["type"], "bogus"), "Bundle.type"),
    (
        "bundle-request-fetch",
        bundle,
        _set(["entry", 0, "request", "method"], "FETCH"),
        "Bundle.entry[0].request.method",
    ),
    (
        "bundle-entry-resource-invalid",
        bundle,
        _set(["entry", 0, "resource", "status"], "bogus"),
        "Bundle.entry[0].resource.status",
    ),
    (
        "bundle-entry-unknown-type",
        bundle,
        _set(["entry", 1, "resource", "resourceType"], "Nope"),
        "Bundle.entry[1].resource.resourceType",
    ),
    ("endpoint-bogus-status", endpoint, _set(["status"], "bogus"), "Endpoint.status"),
    ("endpoint-missing-address", endpoint, _delete(["address"]), "Endpoint.address"),
    (
        "endpoint-missing-connectionType",
        endpoint,
        _delete(["connectionType"]),
        "Endpoint.connectionType",
    ),
    (
        "endpoint-r4-payloadType",
        endpoint,
        _set(["payloadType"], [{"text": "DICOM"}]),
        "Endpoint.payloadType",
    ),
    ("observation-bogus-status", observation, _set(["status"], "bogus"), "Observation.status"),
    (
        "datetime-without-offset",
        observation,
        _set(["effectiveDateTime"], "2024-05-01T10:15:00"),
        "Observation.effectiveDateTime",
    ),
    (
        "datetime-impossible-date",
        observation,
        _set(["effectiveDateTime"], "2024-02-30"),
        "Observation.effectiveDateTime",
    ),
    (
        "contained-invalid",
        imaging_selection,
        _set(["contained"], [{**endpoint(), "status": "bogus"}]),
        "ImagingSelection.contained[0].status",
    ),
]


@pytest.mark.parametrize(
    ("make", "mutate", "path"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_resources_fail_naming_the_path(
    validator: Validator,
    make: Callable[[], Resource],
    mutate: Callable[[Resource], None],
    path: str,
) -> None:
    resource = make()
    mutate(resource)
    errors = validator.errors(resource)
    assert errors, "validator accepted an invalid resource"
    assert any(e.startswith(path + ":") or e.startswith(path + ".") for e in errors), errors
    with pytest.raises(AssertionError, match=path.replace("[", r"\[").replace("]", r"\]")):
        assert_valid_r5(resource)


def test_error_names_the_instance_index(validator: Validator) -> None:
    resource = imaging_selection()
    resource["instance"] = [copy.deepcopy(resource["instance"][0]) for _ in range(5)]
    del resource["instance"][3]["uid"]
    errors = validator.errors(resource)
    assert len(errors) == 1
    assert errors[0].startswith("ImagingSelection.instance[3].uid: "), errors


def test_codes_come_from_the_cached_code_systems(validator: Validator) -> None:
    for code_system in ("imagingselection-status", "bundle-type", "endpoint-connection-type"):
        path = HL7_CACHE / f"CodeSystem-{code_system}.json"
        if not path.is_file():
            path = HL7_CACHE / "tho" / f"CodeSystem-{code_system}.json"
        concepts = json.loads(path.read_text(encoding="utf-8"))["concept"]
        assert validator.codes(code_system) == {c["code"] for c in concepts}
    assert validator.codes("imagingselection-status") == {
        "available",
        "entered-in-error",
        "unknown",
    }
    assert "dicom-wado-rs" in validator.codes("endpoint-connection-type")


def _hl7_examples() -> list[str]:
    directory = HL7_CACHE / "examples"
    return sorted(p.name for p in directory.glob("*.json") if p.name != "package.json")


@pytest.mark.parametrize("name", _hl7_examples() or ["(cache absent)"])
def test_hl7_examples_are_valid(validator: Validator, name: str) -> None:
    resource = json.loads((HL7_CACHE / "examples" / name).read_text(encoding="utf-8"))
    assert validator.errors(resource) == []


def test_large_imaging_selection(validator: Validator) -> None:
    resource = imaging_selection()
    template = resource["instance"][0]
    resource["instance"] = [
        dict(template, uid=f"1.2.826.0.1.3680043.8.498.{i}") for i in range(500)
    ]
    assert validator.errors(resource) == []
    resource["instance"][499] = dict(template, uid="1.2 3")  # the last of 500 is checked too
    assert any("instance[499].uid" in e for e in validator.errors(resource))


def test_missing_cache_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hl7_r5, "r5_validator", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="fetch_hl7_r5"):
        assert_valid_r5(imaging_selection())


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_missing_cache_fails_in_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setattr(hl7_r5, "r5_validator", lambda: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="fetch_hl7_r5"):
        assert_valid_r5(imaging_selection())
