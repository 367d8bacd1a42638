"""Golden outputs of SR conversion: the R5 Bundle (ImagingSelections + Observations), byte for byte.

Regenerate after a deliberate mapping change with
``DICOMSEL_UPDATE_GOLDEN=1 python -m pytest tests/test_sr_golden.py`` and review the diff.
The generated report is built the same way on every run (tests/srfiles.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from test_sr import ALL_TYPES

from conftest import GOLDEN, realdata, resources_of
from srfiles import save, tid1500

REAL = [
    "sr_tid1500_dcmjs_small_scoord.dcm",
    "sr_tid1500_highdicom_scoord_scoord3d.dcm",
    "sr_comprehensive_dcmtk_dscope_nested.dcm",
]
# sr_enhanced_deflated_dcm4che.dcm gives one Observation and no ImagingSelection: it has
# no golden because every golden must read back as ImagingSelections (test_read_r5.py);
# tests/test_sr_realdata.py checks it


def _check(out: str, name: str) -> None:
    assert resources_of(out)  # valid against HL7's R5 package
    golden = GOLDEN / f"{name}.r5.json"
    if os.environ.get("DICOMSEL_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"{golden} missing: run with DICOMSEL_UPDATE_GOLDEN=1"
    assert out == golden.read_text(encoding="utf-8")


@pytest.mark.realdata
@pytest.mark.parametrize("name", REAL)
def test_golden_real_sr(name: str, run_cli: Any) -> None:
    code, out, err = run_cli("convert", realdata(name))
    assert code == 0, err
    _check(out, Path(name).stem)


def test_golden_generated_tid1500(tmp_path: Path, run_cli: Any) -> None:
    path = save(tid1500(ALL_TYPES, name="golden"), tmp_path / "sr_tid1500_all_types.dcm")
    code, out, err = run_cli("convert", path)
    assert code == 0, err
    _check(out, "sr_tid1500_generated_all_types")
