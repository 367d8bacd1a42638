"""The public API: exported from ``dicomsel``, each function documented the numpydoc way."""

from __future__ import annotations

import inspect

import pytest

import dicomsel

FUNCTIONS = [n for n in dicomsel.__all__ if inspect.isfunction(getattr(dicomsel, n))]


def test_the_issue_9_api_is_exported() -> None:
    for name in ("read_file", "read_dataset", "convert", "read_fhir", "write_kos", "Issue"):
        assert name in dicomsel.__all__ and hasattr(dicomsel, name), name
    assert all(hasattr(dicomsel, n) for n in dicomsel.__all__)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_functions_have_numpydoc_sections(name: str) -> None:
    doc = inspect.getdoc(getattr(dicomsel, name)) or ""
    for section in ("Parameters", "Returns", "Raises"):
        assert f"{section}\n{'-' * len(section)}" in doc, f"{name}: no {section} section"
    documented = doc.split("Parameters\n----------", 1)[1].split("\n\n", 1)[0]
    for param in inspect.signature(getattr(dicomsel, name)).parameters:
        assert param in documented or param in doc, f"{name}: parameter {param} undocumented"
