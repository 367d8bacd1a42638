"""Person names, PS3.5 6.2.1 (VR PN) <-> FHIR HumanName, and their round trip through dicomsel.

The expected values are PS3.5's own: five components (family name complex, given
name complex, middle name, name prefix, name suffix) separated by ``^``, up to three
component groups (alphabetic, ideographic, phonetic) separated by ``=``, trailing
empty components and groups with their delimiters left out, leading and trailing
spaces not significant; the Table 6.2-1 example ``Adams^John Robert Quincy^^Rev.^B.A.
M.Div.`` reads "Rev. John Robert Quincy Adams, B.A. M.Div.".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydicom
import pytest

from dicomsel import read_file
from dicomsel.errors import InvalidInputError
from dicomsel.fhir import r5
from dicomsel.fhir.humanname import (
    EN_REPRESENTATION,
    human_name,
    human_names,
    person_name,
    person_name_of,
)
from dicomsel.model import ActorKind, Reference
from dicomsel.personname import normalise, parse, readable

from conftest import SAMPLES, realdata, realdata_files
from srfiles import content_items
from validators import assert_valid_kos

# PS3.5 Annex H, example 1 (Japanese): alphabetic, ideographic and phonetic groups
YAMADA = "Yamada^Tarou=山田^太郎=やまだ^たろう"


def test_ps35_table_6_2_1_example_all_five_components() -> None:
    pn = "Adams^John Robert Quincy^^Rev.^B.A. M.Div."
    assert human_name(pn) == {
        "text": "Rev. John Robert Quincy Adams, B.A. M.Div.",
        "family": "Adams",
        "given": ["John Robert Quincy"],  # a component is natural text: not split
        "prefix": ["Rev."],
        "suffix": ["B.A. M.Div."],
    }
    assert person_name(human_name(pn)) == pn


def test_all_five_components_given_and_middle() -> None:
    pn = "Observer^Olivia^Maria^Dr.^PhD"
    name = human_name(pn)
    assert name["given"] == ["Olivia", "Maria"]  # given name, then middle name
    assert name["text"] == "Dr. Olivia Maria Observer, PhD"
    assert person_name(name) == pn


def test_empty_middle_component_keeps_its_delimiter() -> None:
    """6.2.1: delimiters are required for interior null components."""
    name = human_name("Observer^Olivia^^Dr.")
    assert name == {
        "text": "Dr. Olivia Observer",
        "family": "Observer",
        "given": ["Olivia"],
        "prefix": ["Dr."],
    }
    assert person_name(name) == "Observer^Olivia^^Dr."
    assert person_name({"family": "Doe", "suffix": ["Jr."]}) == "Doe^^^^Jr."


@pytest.mark.parametrize(
    ("pn", "canonical"),
    [
        ("Observer^Olivia^^Dr.^", "Observer^Olivia^^Dr."),  # trailing null component
        ("Doe^Jane^^^", "Doe^Jane"),
        ("Doe^Jane==", "Doe^Jane"),  # trailing null component groups
        (" Doe ^ Jane ", "Doe^Jane"),  # leading / trailing spaces are not significant
        ("=山田^太郎", "=山田^太郎"),  # a leading "=" for an absent first group stays
    ],
)
def test_trailing_delimiters_and_spaces_trimmed(pn: str, canonical: str) -> None:
    assert normalise(pn) == canonical
    assert Reference(ActorKind.PERSON, person_name=pn).person_name == canonical


def test_three_component_groups_as_representations() -> None:
    names = human_names(YAMADA)
    assert [n["extension"] for n in names] == [
        [{"url": EN_REPRESENTATION, "valueCode": code}] for code in ("ABC", "IDE", "SYL")
    ]
    assert [(n["family"], n["given"], n["text"]) for n in names] == [
        ("Yamada", ["Tarou"], "Tarou Yamada"),
        ("山田", ["太郎"], "山田 太郎"),  # family name first, as in the PN
        ("やまだ", ["たろう"], "やまだ たろう"),
    ]
    assert human_name(YAMADA) == {"text": "Tarou Yamada", "family": "Yamada", "given": ["Tarou"]}
    assert person_name_of(names) == YAMADA
    assert person_name_of(list(reversed(names))) == YAMADA  # placed by representation
    assert readable("=山田^太郎") == "山田 太郎"
    assert human_names("=山田^太郎")[0]["extension"][0]["valueCode"] == "IDE"


def test_one_group_has_no_representation_extension() -> None:
    assert human_names("Doe^Jane") == [human_name("Doe^Jane")]


@pytest.mark.parametrize(
    "pn",
    [
        "a^b^c^d^e^f",  # six components
        "a=b=c=d",  # four groups
        "a\\b",  # a backslash separates values
        "a\nb",  # LF is excluded from PN
        "A" * 65,  # a group is at most 64 characters
    ],
)
def test_not_a_pn_value(pn: str) -> None:
    with pytest.raises(InvalidInputError):
        parse(pn)


@pytest.mark.parametrize("name", [{"family": "Doe^Jane"}, {"given": ["J=D"]}, {"family": "x" * 65}])
def test_humanname_that_cannot_be_a_pn(name: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        person_name(name)


def test_text_only_name_is_the_family_name_complex() -> None:
    assert person_name({"text": "Slicer"}) == "Slicer"


def _kos_with_observer(tmp_path: Path, pn: str) -> Path:
    ds = pydicom.dcmread(SAMPLES / "kos_single_frame.dcm")
    ds.SpecificCharacterSet = "ISO_IR 192"
    for _, item in content_items(ds):
        if item.get("ValueType") == "PNAME":
            item.PersonName = pn
    path = tmp_path / "observer.dcm"
    ds.save_as(path)
    return path


@pytest.mark.parametrize("pn", ["Observer^Olivia^^Dr.", "Adams^John^Quincy^Rev.^B.A.", YAMADA])
def test_kos_round_trip_keeps_person_observer_name(pn: str, run_cli: Any, tmp_path: Path) -> None:
    """KOS -> R5 (contained Practitioner) -> KOS: Person Observer's Name as it was."""
    src = _kos_with_observer(tmp_path, pn)
    code, out, err = run_cli("convert", src, "--format", "ndjson")
    assert code == 0, err
    resources = [json.loads(line) for line in out.splitlines() if line.strip()]
    for res in resources:
        (practitioner,) = res["contained"]
        assert practitioner["resourceType"] == "Practitioner"
        assert practitioner["name"] == human_names(pn)
        (perf,) = res["performer"]
        assert perf["actor"]["reference"] == "#" + practitioner["id"]
        assert perf["actor"]["display"] == readable(pn)
        assert "^" not in perf["actor"]["display"]
    fhir = tmp_path / "observer.ndjson"
    fhir.write_text(out)
    kos = tmp_path / "back.dcm"
    code, _, err = run_cli("to-kos", fhir, "--context", src, "-o", kos)
    assert code == 0, err
    assert_valid_kos(kos)
    names = [
        str(it.PersonName)
        for _, it in content_items(pydicom.dcmread(kos))
        if it.get("ValueType") == "PNAME"
    ]
    assert names == [pn]


def test_snapshot1_carries_the_contained_practitioner(run_cli: Any) -> None:
    code, out, err = run_cli(
        "convert", SAMPLES / "kos_single_frame.dcm", "--fhir", "r5-snapshot1", "--format", "ndjson"
    )
    assert code == 0, err
    for line in out.splitlines():
        res = json.loads(line)
        assert res["contained"][0]["name"] == human_names("Observer^Olivia^^Dr.")
        assert res["performer"][0]["actor"]["reference"] == "#person1"


def test_patient_name_components_restored(tmp_path: Path) -> None:
    from dicomsel.fhir.patient import patient_from_resource

    res = {
        "resourceType": "Patient",
        "identifier": [{"value": "P1"}],
        "name": human_names(YAMADA),
    }
    assert patient_from_resource(res, "p").name == YAMADA


def _observer_pns() -> list[tuple[str, str, bool]]:
    out = []
    for name in realdata_files("sr_") + realdata_files("ko_"):
        ds = pydicom.dcmread(realdata(name), stop_before_pixels=True)
        for path, item in content_items(ds):
            # the document's observer context (TID 1002 at the root), and every PN
            concept = item.get("ConceptNameCodeSequence") or [{}]
            root = (
                len(path) == 2
                and item.get("RelationshipType") == "HAS OBS CONTEXT"
                and concept[0].get("CodeValue") == "121008"  # DCM Person Observer Name
            )
            if item.get("ValueType") == "PNAME":
                out.append((name, str(item.PersonName), root))
    return out


def test_real_observer_names_round_trip() -> None:
    """Every person observer of the real SRs and KOS: the PN kept, through R5 and back."""
    from dicomsel.fhir.r5.read import from_imaging_selection

    pns = _observer_pns()
    if not pns:
        pytest.skip("no real file with a person observer")
    for name, pn, root in pns:
        # the PN itself, through HumanName and back (e.g. ``Packer^David M.^^^M. D.``)
        assert person_name_of(human_names(pn)) == normalise(pn), (name, pn)
        if not root:
            continue
        result = read_file(realdata(name))
        if not result.selections and not result.observations:
            continue  # a text-only SR converts to nothing
        people = {
            p.actor.person_name: p.actor
            for rec in (*result.selections, *result.observations)
            for p in rec.performers
            if p.actor.person_name
        }
        assert normalise(pn) in people, (name, pn)
        actor = people[normalise(pn)]
        assert actor.display == readable(pn)
        out = r5.write(result.selections)
        for res in out.resources:
            if res["resourceType"] != "ImagingSelection":
                continue
            back = from_imaging_selection(res)
            assert normalise(pn) in {p.actor.person_name for p in back.performers}, name
