"""The serialisers' element tables (``dicomsel.fhir.models``) against fhir.resources' R5 models.

XML and Turtle walk the types dicomsel writes by HL7's R5 package
(``data/r5_structure.json``); fhir.resources is generated from the same
StructureDefinitions by other hands, so the two must agree on every element's
name, order, cardinality, choice and kind. Where they differ, HL7's package is
followed, and each difference is listed here with its reason:

* ``base64Binary`` and ``uuid`` are fhir.resources' ``encodedBytes`` and
  ``uuidVersion`` (its pydantic type names, not FHIR's);
* ``integer64`` is a JSON string in R5 (R5 datatypes: "integer64 ... represented
  as a JSON string"), a number in fhir.resources;
* a datatype's ``id`` has fhir-type ``id`` in the package's snapshots, ``string``
  in fhir.resources (the values are plain strings in XML and Turtle either way);
* the nested elements of datatypes (Timing.repeat, Dosage.doseAndRate, ...) are
  named by their path, as backbone elements are, where fhir.resources has a class.
"""

from __future__ import annotations

import sys

import pytest

from dicomsel.fhir import models
from dicomsel.fhir.r5.check import structure

_TYPES = sorted(structure()["types"])
_RENAMED = {"encodedBytes": "base64Binary", "uuidVersion": "uuid"}


def _class_name(type_name: str) -> str:
    return "".join(p[0].upper() + p[1:] for p in type_name.split("."))


@pytest.mark.parametrize("type_name", _TYPES)
def test_the_table_is_what_fhir_resources_says(type_name: str) -> None:
    table_order, table = models.elements(("t", type_name))
    cls = models.r5_model_class(_class_name(type_name))
    their_order, theirs = models.elements(("r5", cls))
    assert list(table_order) == list(their_order)
    for name in table_order:
        mine, other = table[name], theirs[name]
        assert (mine.many, mine.choice) == (other.many, other.choice), name
        if mine.kind == "backbone" and other.kind == "complex":
            assert "." not in type_name and type_name not in structure()["resources"], name
        else:
            assert mine.kind == other.kind, name
        if mine.kind == "primitive":
            theirs_type = _RENAMED.get(other.type, other.type)
            ids = name == "id" and {mine.type, theirs_type} == {"id", "string"}
            assert mine.type == theirs_type or ids, name
            assert mine.json == ("string" if mine.type == "integer64" else other.json), name
        if mine.node is not None and other.node is not None:
            assert _class_name(mine.node[1]) == other.node[1].__name__, name


def test_every_written_type_is_in_the_table() -> None:
    """What dicomsel writes is walked by the table: no fhir.resources on the XML path."""
    for rtype in structure()["resources"]:
        assert models.resource_node(rtype, "r5") == ("t", rtype)
    for name in ("Extension", "Element", "Meta", "Coding"):
        assert models.r5_node(name) == ("t", name)


def test_other_types_fall_back_to_fhir_resources() -> None:
    node = models.resource_node("Procedure", "r5")
    assert node[0] == "r5" and node[1].__name__ == "Procedure"
    with pytest.raises(models.InvalidInputError, match="unknown FHIR resource type"):
        models.resource_node("NoSuchResource", "r5")


def test_xml_and_turtle_of_what_dicomsel_writes_import_no_model(tmp_path: object) -> None:
    import subprocess

    from conftest import ROOT, SAMPLES

    probe = (
        "import sys\n"
        "from dicomsel.cli.main import main\n"
        "for fmt in (['--xml'], ['--format', 'turtle']):\n"
        "    assert main(['convert', sys.argv[1], '-o', sys.argv[2] + fmt[-1][-3:], *fmt]) == 0\n"
        "print(sorted(m for m in ('fhir.resources', 'pydantic') if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(SAMPLES), f"{tmp_path}/out."],
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
