"""``dicomsel export --sink fhir+http://...`` against the loopback FHIR R5 test server (issue 11).

No R5 FHIR server can be installed on these machines; tests/fhir_server.py validates
every resource, applies transactions all-or-nothing, keeps versions and injects
failures. Here: a server that answers 429/503 now and then ends with every
resource stored once; a second run creates no new versions; a refused resource
fails its instance only, and the next run with --state sends it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dicomsel

from conftest import SAMPLES
from fhir_server import FhirTestServer, same_content
from test_export import _images, _kos


@pytest.fixture
def server() -> Iterator[FhirTestServer]:
    with FhirTestServer() as s:
        yield s


def _expected(src: Path) -> dict[str, dict[str, Any]]:
    options = dicomsel.ConvertOptions(read=dicomsel.ReadOptions(timezone="+00:00"))
    batch = dicomsel.convert([str(src)], options)
    return {f"{r['resourceType']}/{r['id']}": r for r in batch.all_resources()}


def _sink(server: FhirTestServer) -> str:
    return "fhir+" + server.base


def test_a_flaky_server_ends_with_every_resource_once(
    server: FhirTestServer, run_cli: Any, tmp_path: Path
) -> None:
    server.flaky(0.3, seed=11)
    src = tmp_path / "in"
    _kos(src, 6)
    _images(src, 0, 6)
    argv = ("export", "--source", src, "--sink", _sink(server), "--timezone", "+00:00")
    code, _, err = run_cli(*argv, "--batch-size", "4", "--retries", "10")
    assert code == 0, err
    assert len(server.transactions()) > 1
    expected = _expected(src)
    stored = server.resources()
    assert set(stored) == set(expected)
    for ref, res in expected.items():
        assert same_content(stored[ref], res), ref
        assert len(server.versions(ref)) == 1
    # again, without a state: every PUT repeats an unchanged resource, no new version
    code, _, err = run_cli(*argv, "--retries", "10")
    assert code == 0, err
    assert all(len(server.versions(ref)) == 1 for ref in expected)


def test_a_refused_resource_fails_its_instance_and_is_sent_next_run(
    server: FhirTestServer, run_cli: Any, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    _kos(src, 3)
    expected = _expected(src)
    victim = sorted(r for r in expected if r.startswith("ImagingSelection/"))[0]
    server.reject(victim, diagnostics="refused by the test")
    state, report = tmp_path / "s.sqlite", tmp_path / "r.json"
    argv = ("export", "--source", src, "--sink", _sink(server), "--state", state)
    code, _, err = run_cli(*argv, "--timezone", "+00:00", "--report", report)
    assert code == 3, err
    rep = json.loads(report.read_text())
    failed = [i for i in rep["inputs"] if i["status"] == "failed"]
    assert len(failed) == 1 and "refused by the test" in failed[0]["reason"]
    assert victim not in server.resources()
    assert set(server.resources()) == set(expected) - {victim}
    server.accept(victim)  # the server takes it now
    code, _, err = run_cli(*argv, "--timezone", "+00:00", "--report", report)
    assert code == 0, err
    assert set(server.resources()) == set(expected)
    assert all(len(server.versions(ref)) == 1 for ref in expected)
    rep = json.loads(report.read_text())
    assert rep["summary"]["converted"] == 1 and rep["summary"]["earlier"] == 2


def test_snapshot1_cannot_go_to_a_fhir_server(run_cli: Any, server: FhirTestServer) -> None:
    code, _, err = run_cli(
        "export", "--source", SAMPLES, "--sink", _sink(server), "--fhir", "r5-snapshot1"
    )
    assert code == 2 and "R5 resources" in err
