"""kill -9 at random points of a 2,000-file batch: the output is absent or complete, and the
next run into the same folder leaves no temporary file behind (issue 10)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from conftest import ROOT

FILES = 2000
KILLS = 10
_CLI = (sys.executable, "-m", "dicomsel", "convert")


def _batch(folder: Path) -> None:
    """2,000 header-only CT files in 8 series (copies of pydicom's CT_small, own UIDs)."""
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    folder.mkdir()
    series = [generate_uid(entropy_srcs=["kill-test", "series", str(s)]) for s in range(8)]
    for i in range(FILES):
        ds = template.copy()
        ds.SeriesInstanceUID = series[i % 8]
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["kill-test", "instance", str(i)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i
        ds.save_as(folder / f"ct{i:04}.dcm", enforce_file_format=True)


def _complete(path: Path, fmt: str) -> bool:
    text = path.read_text(encoding="utf-8")
    if fmt == "ndjson":
        lines = text.splitlines()
        return bool(lines) and all(json.loads(line)["resourceType"] for line in lines)
    bundle = json.loads(text)
    return bundle["resourceType"] == "Bundle" and len(bundle["entry"]) >= 8


@pytest.mark.slow
def test_kill_9_leaves_the_output_absent_or_complete(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _batch(src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    rng = random.Random(20261202)
    for k in range(KILLS):
        fmt = ("ndjson", "bundle", "transaction")[k % 3]
        out = out_dir / f"run{k}.{fmt}"
        proc = subprocess.Popen(
            [*_CLI, str(src), "-o", str(out), "--format", fmt, "--jobs", str(1 + k % 2)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.3, 4.0))
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers
        proc.wait()
        if out.exists():  # absent, or complete: never half-written
            assert _complete(out, fmt), f"run {k}: {out.name} is incomplete"
    final = out_dir / "final.ndjson"
    done = subprocess.run(
        [*_CLI, str(src), "-o", str(final), "--format", "ndjson"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _complete(final, "ndjson")
    left = sorted(p.name for p in out_dir.iterdir() if p.name.startswith(".dicomsel-"))
    assert left == [], f"temporary files left after the next run: {left}"
