"""``bench/bench_all.py --quick``: every row of issue 14's table, with times and a ratio.

These check the report's shape only; they never assert on a time's value.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench" / "bench_all.py"

#: issue 14's rows: KOS 10k, SR 500, SEG, tiny KOS, images --jobs 1, --jobs 2 / --jobs 1,
#: the machine's own 2-vs-1 process ceiling, KOS 100k (peak RSS), and the instruction counts
#: of the KOS and SR rows
ROWS = [
    "kos",
    "sr",
    "seg",
    "tiny",
    "images",
    "jobs",
    "ceiling",
    "big",
    "callgrind_kos",
    "callgrind_sr",
]


def _bench(tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), proc.stdout


def _positive(measure: dict[str, Any], what: str) -> None:
    assert "error" not in measure, f"{what}: {measure.get('error')}"
    if "instructions" in measure:
        assert measure["instructions"] > 0, what
        return
    assert measure["cpu_s"] > 0 and measure["wall_s"] > 0, what
    assert measure["cpu_runs_s"] and all(t > 0 for t in measure["cpu_runs_s"]), what


def _check_row(row: dict[str, Any]) -> None:
    _positive(row["measures"][row["subject"]], f"{row['key']} {row['subject']}")
    _positive(row["measures"][row["reference"]], f"{row['key']} {row['reference']}")
    assert row["ratio"] is not None and row["ratio"] > 0, row["key"]
    assert row["pass"] in (True, False), row["key"]
    assert row["target"].startswith(("<=", ">=")), row["key"]


@pytest.mark.slow
def test_quick_run_reports_every_row(tmp_path: Path) -> None:
    report, table = _bench(tmp_path)
    assert [r["key"] for r in report["rows"]] == ROWS
    for row in report["rows"]:
        _check_row(row)
        assert row["workload"] in table
    big = next(r for r in report["rows"] if r["key"] == "big")
    for name in (big["subject"], big["reference"]):
        assert big["measures"][name]["peak_rss_mb"] > 0
    for key, tool in (("kos", "dcmdump"), ("sr", "dsrdump"), ("seg", "dcmdump")):
        row = next(r for r in report["rows"] if r["key"] == key)
        assert row["native"] == tool
        # a missing DCMTK says so in its column, else it was measured
        measure = row["measures"][tool]
        if "error" in measure:
            assert "not installed" in measure["error"]
        else:
            _positive(measure, tool)
            assert row["dicomsel_over_native"] > 0


def test_compare_measures_the_other_tree_in_the_same_run(tmp_path: Path) -> None:
    report, table = _bench(tmp_path, "--rows", "tiny", "--compare", str(REPO))
    (row,) = report["rows"]
    _check_row(row)
    compare = row["compare"]
    assert compare["label"] == report["meta"]["compare"]["label"]
    _positive(row["measures"][compare["subject"]], compare["subject"])
    assert compare["ratio"] > 0 and compare["after_over_before_cpu"] > 0
    assert "before ratio" in table


def test_compare_leaves_the_machines_ceiling_without_a_before(tmp_path: Path) -> None:
    """The ceiling row measures no tree: under --compare its before cells are empty."""
    report, table = _bench(tmp_path, "--rows", "images", "--compare", str(REPO))
    assert [r["key"] for r in report["rows"]] == ["images", "jobs", "ceiling"]
    ceiling = report["rows"][-1]
    _check_row(ceiling)
    assert "compare" not in ceiling
    (line,) = [ln for ln in table.splitlines() if ln.startswith(f"| {ceiling['workload']} |")]
    head = next(ln for ln in table.splitlines() if ln.startswith("| workload |"))
    assert line.count("|") == head.count("|")  # a full row, its last four cells empty
    assert line.endswith("|  |  |  |  |")
    # a saved report prints the same table again
    saved = tmp_path / "bench.json"
    again = subprocess.run(
        [sys.executable, str(BENCH), "--render", str(saved)], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout == table
