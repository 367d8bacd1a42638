"""Turtle output (``--format turtle``): parsed back with rdflib, checked against the JSON.

The expected triples come from an independent walk of the JSON Bundle of the same
resources: every JSON leaf (a path and its value) must be in the graph, under the
predicates the flavour's RDF rules name, and the graph must hold nothing else.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import dicomsel
from dicomsel.fhir import serialise
from dicomsel.fhir.turtle import dumps, serialise_turtle

from conftest import realdata, spec

rdflib = pytest.importorskip("rdflib")
from rdflib import RDF, Literal, URIRef  # noqa: E402
from rdflib.collection import Collection  # noqa: E402

FHIR = "http://hl7.org/fhir/"
XSD = "http://www.w3.org/2001/XMLSchema#"
SAMPLES = Path(__file__).resolve().parent.parent / "sample_dicom"

INPUTS = [
    "sr_tid1500_highdicom_scoord_scoord3d.dcm",
    "sr_tid1500_dcmjs_small_scoord.dcm",
    "ko_ihe_xdsi_manifest_pet_10inst.dcm",
    "seg_dcmqi_5segments_overlap.dcm",
]


def _resources(name: str, flavour: str) -> list[dict[str, Any]]:
    path = realdata(name)
    opts = dicomsel.ConvertOptions(fhir=flavour)
    return dicomsel.convert([str(path)], opts).all_resources()


def _graph(text: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    # keep lexical forms as written (rdflib would canonicalise "45.0" and the like)
    monkeypatch.setattr(rdflib, "NORMALIZE_LITERALS", False)
    monkeypatch.setattr(rdflib.term, "_NORMALIZE_LITERALS", False, raising=False)
    g = rdflib.Graph()
    g.parse(data=text, format="turtle")
    return g


def _json_leaves(obj: Any, path: tuple[Any, ...], out: set[tuple[Any, ...]]) -> None:
    """(path, lexical value) of every JSON leaf; ``_x`` (id, extensions) belongs to ``x``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = k[1:] if k.startswith("_") else k
            _json_leaves(v, (*path, key), out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if v is not None:
                _json_leaves(v, (*path, i), out)
    elif isinstance(obj, bool):
        out.add((path, "true" if obj else "false"))
    elif isinstance(obj, int | float):
        out.add((path, json.dumps(obj)))
    else:
        out.add((path, obj))


def _list_items(g: Any, node: Any) -> list[Any]:
    return list(Collection(g, node))


class _Walk:
    """The graph as (path, lexical) leaves; every triple visited is counted."""

    def __init__(self, g: Any, snapshot1: bool) -> None:
        self.g = g
        self.s1 = snapshot1
        self.used: set[tuple[Any, Any, Any]] = set()
        self.leaves: set[tuple[Any, ...]] = set()
        self.links: list[tuple[tuple[Any, ...], Any]] = []
        self.predicates: set[str] = set()
        self.types: dict[tuple[Any, ...], str] = {}

    def node(self, n: Any, path: tuple[Any, ...], resource: bool = False) -> None:
        for p, o in sorted(self.g.predicate_objects(n)):
            self.used.add((n, p, o))
            if p == RDF.type:
                if resource:
                    self.leaves.add(((*path, "resourceType"), str(o)[len(FHIR) :]))
                continue
            local = str(p)[len(FHIR) :]
            self.predicates.add(local)
            if local == "nodeRole":
                continue
            if local == ("value" if self.s1 else "v"):
                assert isinstance(o, Literal)
                self.leaves.add((path, str(o)))
                self.types[path] = str(o.datatype or "")
                continue
            if local == "link":
                self.links.append((path, o))
                continue
            if local == "index":
                continue
            name = local.rsplit(".", 1)[-1] if self.s1 else local
            if isinstance(o, Literal):  # the narrative div
                self.leaves.add(((*path, name), str(o)))
                continue
            if not self.s1 and (o == RDF.nil or self.g.value(o, RDF.first) is not None):
                for sub in (o, *self._cells(o)):
                    for t in self.g.predicate_objects(sub):
                        self.used.add((sub, *t))
                for i, item in enumerate(_list_items(self.g, o)):
                    self.child(item, path, name, i)
                continue
            index = self.g.value(o, URIRef(FHIR + "index")) if self.s1 else None
            self.child(o, path, name, None if index is None else int(index))

    def _cells(self, o: Any) -> list[Any]:
        cells = []
        while o != RDF.nil:
            nxt = self.g.value(o, RDF.rest)
            if nxt != RDF.nil:
                cells.append(nxt)
            o = nxt
        return cells

    def child(self, o: Any, path: tuple[Any, ...], name: str, index: int | None) -> None:
        is_resource = name == "resource" or name == "contained"
        rtype = self.g.value(o, RDF.type)
        if rtype is not None and not is_resource and not self.s1:  # a choice: value[x]
            t = str(rtype)[len(FHIR) :]
            name += t[0].upper() + t[1:]
        sub = (*path, name) if index is None else (*path, name, index)
        self.node(o, sub, resource=is_resource)


def _check(resources: list[dict[str, Any]], flavour: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    bundle = json.loads(serialise(resources, "bundle"))
    text = serialise_turtle(resources, "bundle", flavour)
    g = _graph(text, monkeypatch)
    roots = list(g.subjects(URIRef(FHIR + "nodeRole"), URIRef(FHIR + "treeRoot")))
    assert len(roots) == 1
    walk = _Walk(g, flavour == "r5-snapshot1")
    walk.node(roots[0], (), resource=True)
    expected: set[tuple[Any, ...]] = set()
    _json_leaves(bundle, (), expected)
    assert walk.leaves == expected
    assert walk.used == set(g), "triples the JSON does not account for"
    # every reference between entries is a link to the entry's node
    subjects = set(g.subjects())
    refs = [v for p, v in expected if p[-1] == "reference" and v.startswith(("urn:", "http"))]
    assert len(walk.links) == len(refs)
    for _path, target in walk.links:
        assert isinstance(target, URIRef)
        if str(target).startswith("urn:uuid:"):
            assert target in subjects
    return walk, g, text


@pytest.mark.realdata
@pytest.mark.parametrize("name", INPUTS)
def test_r5_turtle_matches_the_json(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    walk, _g, text = _check(_resources(name, "r5"), "r5", monkeypatch)
    # R5 rules: short names, fhir:v, RDF lists, no fhir:index
    assert "index" not in walk.predicates
    assert not any("." in p for p in walk.predicates)
    assert "v" in walk.predicates and "link" in walk.predicates
    for path, dtype in walk.types.items():
        last = [p for p in path if isinstance(p, str)][-1]
        if last in ("system", "fullUrl", "url"):
            assert dtype == XSD + "anyURI", path
        if last == "coordinates" or (last == "value" and "valueQuantity" in path):
            assert dtype == XSD + "decimal", path
        if last in ("issued",):
            assert dtype == XSD + "dateTime", path
    assert text == serialise_turtle(_resources(name, "r5"), "bundle", "r5")


@pytest.mark.realdata
@pytest.mark.parametrize("name", INPUTS)
def test_snapshot1_turtle_follows_the_template(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    walk, _g, _ = _check(_resources(name, "r5-snapshot1"), "r5-snapshot1", monkeypatch)
    template = spec("ImagingSelection-R5-snapshot1.txt").read_text(encoding="utf-8")
    allowed = set(re.findall(r"fhir:(ImagingSelection\.[A-Za-z.]+[A-Za-z])", template))
    # the text of the template lost performer.actor's predicate name (its line reads
    # "Type of performer [ Reference(...) ]"); the element table lists ".... actor"
    assert ".... actor" in template and "ImagingSelection.performer.actor" not in allowed
    allowed.add("ImagingSelection.performer.actor")
    used = {p for p in walk.predicates if p.startswith("ImagingSelection.")}
    assert used, "no ImagingSelection predicates"
    assert used <= allowed, used - allowed
    assert "ImagingSelection.instance.uid" in used
    # every other predicate names the element where it is defined
    for p in walk.predicates - used:
        assert p in ("value", "index", "link", "nodeRole") or re.fullmatch(
            r"[A-Z][A-Za-z]*(\.[a-z][A-Za-z]*)+", p
        ), p
    # repeated elements carry their position
    assert "index" in walk.predicates
    assert "v" not in walk.predicates


@pytest.mark.realdata
def test_values_keep_their_datatypes(monkeypatch: pytest.MonkeyPatch) -> None:
    res = _resources("sr_tid1500_dcmjs_small_scoord.dcm", "r5")
    g = _graph(serialise_turtle(res), monkeypatch)
    decimals = [
        o for o in g.objects(None, URIRef(FHIR + "v")) if o.datatype == URIRef(XSD + "decimal")
    ]
    coords = [
        c
        for r in res
        if r["resourceType"] == "ImagingSelection"
        for i in r.get("instance", [])
        for reg in i.get("imageRegion2D", [])
        for c in reg["coordinate"]
    ]
    assert coords
    values = {Decimal(str(o)) for o in decimals}
    for c in coords:
        assert Decimal(json.dumps(c)) in values
        assert float(Decimal(json.dumps(c))) == c


def test_strings_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    odd = 'a "quoted" \\ back\nslash\ttab é \u2603'
    res = {
        "resourceType": "Endpoint",
        "id": "e1",
        "status": "active",
        "name": odd,
        "address": "https://example.org/dicomweb",
        "connectionType": [{"coding": [{"system": "http://x.org", "code": "c"}]}],
    }
    g = _graph(dumps(res), monkeypatch)
    assert Literal(odd) in set(g.objects(None, URIRef(FHIR + "v")))
    with pytest.raises(dicomsel.InvalidInputError):
        dumps({**res, "nosuch": 1})


def test_ndjson_has_no_turtle_form() -> None:
    with pytest.raises(ValueError):
        serialise_turtle([], "ndjson")


def test_cli_format_turtle(run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = SAMPLES / "kos_frames_segments.dcm"
    out = tmp_path / "out.ttl"
    code, _, _ = run_cli("convert", src, "--format", "turtle", "-o", out)
    assert code == 0
    g = _graph(out.read_text(encoding="utf-8"), monkeypatch)
    assert (None, RDF.type, URIRef(FHIR + "ImagingSelection")) in g
    first = out.read_bytes()
    run_cli("convert", src, "--format", "turtle", "-o", out)
    assert out.read_bytes() == first
    code, _, err = run_cli("convert", src, "--format", "turtle", "--xml", "-o", out)
    assert code == 2 and "turtle" in err
