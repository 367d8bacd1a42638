"""The fuzzer (tools/fuzz.py): a smoke run, and every finding it made kept as a regression.

The smoke run converts 2,000 mutants of the real files and samples (those up to
1 MB; items repeated at most 1,000 times) in this process (``signal.alarm``
limits each); every one must convert, or fail with a
:class:`dicomsel.DicomselError`. ``make fuzz`` runs 100,000 in worker processes
under an address-space limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import fuzz_regressions  # tests/fuzz_regressions.py: it puts tools/ on sys.path

from conftest import REALDATA, SAMPLES

fuzz = fuzz_regressions.fuzz  # tools/fuzz.py

SMOKE_SEED = 2026
SMOKE_COUNT = 2000


def test_a_spec_regenerates_its_mutant() -> None:
    corpus = fuzz.Corpus()
    for index in range(50):
        spec = corpus.spec(SMOKE_SEED, index)
        assert spec == corpus.spec(SMOKE_SEED, index)  # (seed, index) fixes the mutant
        again = json.loads(json.dumps(spec))  # as printed by a FINDING line
        assert fuzz.apply(corpus.load(spec["source"])[0], again) == corpus.mutant(spec)


def test_every_kind_of_mutation_is_drawn() -> None:
    corpus = fuzz.Corpus()
    kinds = {corpus.spec(SMOKE_SEED, i)["kind"] for i in range(SMOKE_COUNT)}
    assert kinds == set(fuzz.KINDS)


@pytest.mark.slow
def test_fuzz_smoke_2000_mutants() -> None:
    findings = []
    counts: dict[str, int] = {}
    # the quick profile: source files up to 1 MB, items repeated at most 1,000 times
    corpus = fuzz.Corpus(max_bytes=1 << 20, max_repeat=1000)
    for index, res in fuzz.run_in_process(SMOKE_SEED, SMOKE_COUNT, timeout=60, corpus=corpus):
        counts[res.outcome] = counts.get(res.outcome, 0) + 1
        if res.outcome not in fuzz.ALLOWED:
            findings.append((index, res.outcome, res.detail))
    assert sum(counts.values()) == SMOKE_COUNT
    assert not findings, f"seed {SMOKE_SEED}: {findings[:5]} (regenerate: fuzz.py --show)"
    assert counts.get("error") and (counts.get("converted") or counts.get("warning"))


def _ids(entry: dict[str, Any]) -> str:
    return fuzz_regressions.name(entry)


@pytest.mark.parametrize("entry", fuzz_regressions.REGRESSIONS, ids=_ids)
def test_fuzz_regression_has_a_typed_outcome(tmp_path: Path, entry: dict[str, Any]) -> None:
    if not fuzz_regressions.available(entry):
        pytest.skip(f"{entry['spec']['source']} is missing (../shared/realdata not present)")
    path = tmp_path / fuzz_regressions.name(entry)
    path.write_bytes(fuzz_regressions.build(entry))
    res = fuzz.convert_file(str(path))
    assert res.outcome in fuzz.ALLOWED, f"{entry['found']} -> {res.outcome}: {res.detail}"


def _good_files() -> list[Path]:
    good = sorted(SAMPLES.glob("*.dcm"))
    if REALDATA.is_dir():
        kinds = ("ko_", "sr_", "seg_", "rtstruct_")
        good += sorted(p for p in REALDATA.glob("*.dcm") if p.name.startswith(kinds))
    return good


@pytest.mark.slow
def test_batch_of_every_regression_and_good_files(tmp_path: Path, run_cli: Any) -> None:
    bad = fuzz_regressions.generate(tmp_path / "bad")
    if not bad:
        pytest.skip("no regression's source file is present")
    good = _good_files()
    report = tmp_path / "report.json"
    out = tmp_path / "out.json"
    args = ("-o", out, "--report", report, "--jobs", "2")
    code, _, _err = run_cli("convert", *good, tmp_path / "bad", *args)
    assert code == 3
    entries = {e["path"]: e for e in json.loads(report.read_text())["inputs"]}
    for path in good:
        assert entries[str(path)]["status"] == "converted", entries[str(path)]
    for path in bad:
        entry = entries[str(path)]  # every bad file is reported
        assert entry["status"] in ("converted", "failed", "skipped")
        if entry["status"] == "failed":
            assert entry["reason"]
    assert any(entries[str(p)]["status"] == "failed" for p in bad)
    assert out.stat().st_size > 0
