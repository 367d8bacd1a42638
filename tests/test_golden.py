"""Golden outputs: the R5 Bundle of each sample and real KOS, byte for byte.

Regenerate after a deliberate mapping change with
``DICOMSEL_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conftest import GOLDEN, SAMPLES, realdata, resources_of

CASES = [
    ("sample", "kos_single_frame.dcm"),
    ("sample", "kos_frames_segments.dcm"),
    ("sample", "kos_two_studies.dcm"),
    ("real", "ko_ihe_xdsi_manifest_mr_36inst.dcm"),
    ("real", "ko_ihe_xdsi_manifest_pet_10inst.dcm"),
]


def _source(kind: str, name: str) -> Path:
    return SAMPLES / name if kind == "sample" else realdata(name)


@pytest.mark.parametrize(("kind", "name"), CASES)
@pytest.mark.parametrize("fmt", ["bundle", "ndjson"])
def test_golden(kind: str, name: str, fmt: str, run_cli: Any) -> None:
    src = _source(kind, name)
    code, out, err = run_cli("convert", src, "--format", fmt)
    assert code == 0, err
    assert resources_of(out)  # valid against HL7's R5 package
    golden = GOLDEN / f"{Path(name).stem}.r5.{'json' if fmt == 'bundle' else 'ndjson'}"
    if os.environ.get("DICOMSEL_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"{golden} missing: run with DICOMSEL_UPDATE_GOLDEN=1"
    assert out == golden.read_text(encoding="utf-8")
