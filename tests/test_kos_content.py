"""The KOS content tree: the value type of each reference (``dicomsel.kos.content``)."""

from __future__ import annotations

import json

import pytest

from dicomsel.kos import writer
from dicomsel.kos.content import value_type

from conftest import ROOT

_CLASSES = sorted(
    {
        *json.loads((ROOT / "src/dicomsel/data/sop_classes.json").read_text("utf-8"))[
            "sop_classes"
        ],
        "1.2.840.10008.5.1.4.1.1.66.7",
        "1.2.840.10008.5.1.4.1.1.66.8",
        "1.2.840.10008.5.1.4.1.1.9.100.1",
        "1.2.840.10008.5.1.4.1.1.9.100.2",
        "1.2.3.4.5",
    }
)


@pytest.mark.parametrize("uid", _CLASSES)
def test_table_decides_as_highdicom_did(uid: str) -> None:
    assert value_type(uid) == writer.value_type(uid)
