"""The FHIR server sink against the project's loopback R5 server (tests/fhir_server.py).

No R5 FHIR server installs on these machines (see fhir_server.py), so the server here
validates every resource itself (fhir.resources R5 and the project's checks), applies
transactions all-or-nothing and keeps versions. The resources are dicomsel's own, from
the sample files and from ../shared/realdata. Waits go to an injected ``sleep``.
"""

from __future__ import annotations

import copy
import email.utils
import json
import logging
import math
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import requests

import dicomsel
from dicomsel.errors import FhirServerError, InvalidInputError
from dicomsel.io.fhirserver import FhirServerSink, Rejection

from conftest import SAMPLES, realdata
from fhir_server import FhirTestServer, same_content

TOKEN = "tok-7f3a9c-NEVER-SHOWN"


@pytest.fixture(scope="module")
def samples() -> list[dict[str, Any]]:
    return dicomsel.convert([str(SAMPLES)]).resources


@pytest.fixture(scope="module")
def real() -> list[dict[str, Any]]:
    resources = dicomsel.convert([str(realdata(""))]).resources
    assert {r["resourceType"] for r in resources} >= {"ImagingSelection", "Observation"}
    return resources


@pytest.fixture
def server() -> Iterator[FhirTestServer]:
    with FhirTestServer() as s:
        yield s


class Waits(list[float]):
    """A ``sleep`` that records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_sink(server: FhirTestServer, waits: Waits | None = None, **kw: Any) -> FhirServerSink:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 10.0)
    return FhirServerSink(server.base, sleep=waits if waits is not None else Waits(), **kw)


def send(sink: FhirServerSink, resources: list[dict[str, Any]]) -> list[Rejection]:
    sink.write(resources)
    rejected = sink.flush()
    sink.close()
    return rejected


def ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def assert_stored_once(server: FhirTestServer, resources: list[dict[str, Any]]) -> None:
    stored = server.resources()
    assert sorted(stored) == sorted(ref(r) for r in resources)
    for r in resources:
        assert len(server.versions(ref(r))) == 1, ref(r)
        assert same_content(stored[ref(r)], r), ref(r)
        assert stored[ref(r)]["meta"]["versionId"] == "1"


# ---- storing and batching


@pytest.mark.parametrize("which", ["samples", "real"])
def test_every_resource_stored_once_and_equal_to_what_was_sent(
    server: FhirTestServer, which: str, request: pytest.FixtureRequest
) -> None:
    resources = request.getfixturevalue(which)
    before = copy.deepcopy(resources)
    sink = make_sink(server, batch_size=7)
    assert send(sink, resources) == []
    assert resources == before  # untouched
    assert sink.stored == len(resources) and sink.rejected == []
    assert_stored_once(server, resources)
    # and what the server answers over HTTP is the same
    got = requests.get(f"{server.base}/{ref(resources[0])}", timeout=10).json()
    assert same_content(got, resources[0])


@pytest.mark.parametrize("batch_size", [1, 3, 10, 100])
def test_n_entries_make_ceil_n_over_batch_transactions(
    server: FhirTestServer, real: list[dict[str, Any]], batch_size: int
) -> None:
    send(make_sink(server, batch_size=batch_size), real)
    sizes = [t.entries for t in server.transactions()]
    assert len(sizes) == math.ceil(len(real) / batch_size)
    assert sum(sizes) == len(real) and max(sizes) <= batch_size
    assert all(t.status == 200 for t in server.transactions())


def test_write_sends_full_batches_and_flush_the_rest(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    sink = make_sink(server, batch_size=4)
    sink.write(samples[:6])
    assert [t.entries for t in server.transactions()] == [4]
    sink.write(samples[6:])
    assert [t.entries for t in server.transactions()] == [4, 4]
    assert sink.flush() == []
    assert [t.entries for t in server.transactions()] == [4, 4, len(samples) - 8]
    sink.close()


def test_close_without_commit_drops_the_buffer(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    sink = make_sink(server, batch_size=100)
    sink.write(samples)
    sink.close(commit=False)
    assert server.requests == [] and server.resources() == {}
    with pytest.raises(ValueError, match="closed"):
        sink.write(samples)


def test_the_same_resource_twice_in_a_batch_goes_in_two_transactions(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    changed = {**samples[0], "status": "unknown"}
    send(make_sink(server), [samples[0], samples[1], changed])
    assert [t.entries for t in server.transactions()] == [2, 1]
    assert [v["status"] for v in server.versions(ref(samples[0]))] == ["available", "unknown"]


def test_bundle_is_deterministic_compact_and_names_each_entry(
    samples: list[dict[str, Any]],
) -> None:
    bodies, bases = [], []
    for _ in range(2):
        with FhirTestServer() as server:
            send(make_sink(server, batch_size=100), samples)
            [t] = server.transactions()
            bodies.append(t.body)
            bases.append(server.base)
    # two servers on two ports: the bodies differ by the base only
    assert bodies[0].replace(bases[0].encode(), b"BASE") == bodies[1].replace(
        bases[1].encode(), b"BASE"
    )
    a, b = (json.loads(body) for body in bodies)
    base = bases[1]
    assert [e["resource"] for e in a["entry"]] == [e["resource"] for e in b["entry"]] == samples
    text = bodies[1].decode("utf-8")
    assert text == json.dumps(b, ensure_ascii=False, separators=(",", ":"))
    assert b["resourceType"] == "Bundle" and b["type"] == "transaction"
    for entry, r in zip(b["entry"], samples, strict=True):
        assert entry["request"] == {"method": "PUT", "url": ref(r)}
        assert entry["fullUrl"] == f"{base}/{ref(r)}"
    # the same resources to the same server: byte-identical
    with FhirTestServer() as server:
        send(make_sink(server), samples)
        send(make_sink(server), samples)
        first, second = server.transactions()
        assert first.body == second.body


def test_bundle_is_valid_for_fhir_resources(
    server: FhirTestServer, real: list[dict[str, Any]]
) -> None:
    from fhir.resources import get_fhir_model_class

    send(make_sink(server, batch_size=100), real)
    [t] = server.transactions()
    get_fhir_model_class("Bundle").model_validate(json.loads(t.body))


def test_bundle_is_valid_for_hl7s_r5_schema(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    from hl7_r5 import assert_valid_r5

    send(make_sink(server), samples)
    [t] = server.transactions()
    assert_valid_r5(json.loads(t.body))


# ---- retries


def test_429_retry_after_seconds_is_honoured(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    server.fail_next(429, retry_after=2)
    waits = Waits()
    send(make_sink(server, waits, max_backoff=60), samples)
    assert waits == [2.0]
    assert [t.status for t in server.transactions()] == [429, 200]
    assert_stored_once(server, samples)


def test_429_retry_after_http_date_is_honoured_and_capped(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    now = 1_700_000_000.0
    server.fail_next(429, retry_after=email.utils.formatdate(now + 3, usegmt=True))
    server.fail_next(429, retry_after=3600)
    waits = Waits()
    send(make_sink(server, waits, max_backoff=5, clock=lambda: now), samples)
    assert waits == [3.0, 5.0]
    assert_stored_once(server, samples)


def test_503_and_a_dropped_connection_are_retried_with_growing_backoff(
    server: FhirTestServer, samples: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(503)
    server.fail_next("drop")
    server.fail_next(502, outcome=False)
    waits = Waits()
    with caplog.at_level(logging.INFO, logger="dicomsel"):
        send(make_sink(server, waits, backoff=0.5), samples)
    assert [t.status for t in server.transactions()] == [503, 0, 502, 200]
    assert len(waits) == 3
    for i, w in enumerate(waits):  # half the backoff plus up to half of it again (jitter)
        assert 0.5 * 2**i / 2 <= w <= 0.5 * 2**i
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 3 and "503" in retries[0].getMessage()
    assert "ConnectionError" in retries[1].getMessage()
    assert_stored_once(server, samples)


def test_a_timeout_is_retried(server: FhirTestServer, samples: list[dict[str, Any]]) -> None:
    server.stall_seconds = 0.5
    server.fail_next("stall")
    waits = Waits()
    send(make_sink(server, waits, timeout=0.05), samples[:2])
    assert len(waits) == 1
    assert_stored_once(server, samples[:2])


def test_the_jitter_is_the_same_run_after_run(
    samples: list[dict[str, Any]],
) -> None:
    runs = []
    for _ in range(2):
        with FhirTestServer() as server:
            server.fail_next(503, times=4)
            waits = Waits()
            send(make_sink(server, waits, backoff=1.0), samples)
            runs.append(list(waits))
    assert runs[0] == runs[1] and len(set(runs[0])) == 4


@pytest.mark.parametrize(("what", "status"), [(503, 503), ("drop", None), (429, 429)])
def test_retries_exhausted_raise_naming_the_base_and_status(
    server: FhirTestServer, samples: list[dict[str, Any]], what: int | str, status: int | None
) -> None:
    server.fail_next(what, times=10)
    waits = Waits()
    sink = make_sink(server, waits, retries=3)
    sink.write(samples)
    with pytest.raises(FhirServerError) as caught:
        sink.flush()
    assert caught.value.status == status and caught.value.path == server.base
    assert server.base in str(caught.value) and "3 retries" in str(caught.value)
    assert len(server.transactions()) == 4 and len(waits) == 3
    assert server.resources() == {}
    sink.close(commit=False)


def test_after_giving_up_the_entries_stay_buffered_and_a_later_flush_stores_them(
    server: FhirTestServer, real: list[dict[str, Any]]
) -> None:
    half = len(real) // 2  # the bisection's first half
    assert half <= 40 < len(real) <= 100
    bad = real[40]
    server.reject(ref(bad), 422, "bad")
    server.locate = False
    sink = make_sink(server, batch_size=100, retries=1)
    sink.write(real)
    # the whole batch fails (422), its first half is stored, then the server fails for good
    for what in ("ok", "ok", 503, 503):
        server.fail_next(what)
    with pytest.raises(FhirServerError):
        sink.flush()
    assert [t.status for t in server.transactions()] == [422, 200, 503, 503]
    assert len(server.resources()) == half
    assert sink.stored == 0 and sink.rejected == []  # nothing of the batch counted yet
    rejected = sink.flush()
    sink.close()
    assert [r.ref for r in rejected] == [ref(bad)] and sink.rejected == rejected
    assert sink.stored == len(real) - 1
    assert_stored_once(server, [r for r in real if r is not bad])


# ---- 413


def test_413_halves_the_batch_and_keeps_it_smaller(
    server: FhirTestServer, real: list[dict[str, Any]]
) -> None:
    server.max_entries = 3
    sink = make_sink(server, batch_size=10)
    sink.write(real)
    assert sink.flush() == []
    assert sink.batch_size <= 3
    done = server.transactions()
    assert all(t.entries > 3 for t in done if t.status == 413)
    assert all(t.entries <= 3 for t in done if t.status == 200)
    # the smaller batch holds for the rest of the run: no 413 any more
    n = len(done)
    sink.write(real)
    sink.close()
    assert all(t.status == 200 for t in server.transactions()[n:])
    assert_stored_once(server, real)


def test_an_entry_too_large_alone_is_a_rejection(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    server.max_entries = 0
    sink = make_sink(server, batch_size=4)
    rejected = send(sink, samples)
    assert [r.ref for r in rejected] == [ref(r) for r in samples]
    assert {r.status for r in rejected} == {413}
    assert sink.stored == 0 and server.resources() == {}


# ---- rejections


@pytest.mark.parametrize("locate", [True, False], ids=["entry-index", "bisect"])
def test_a_rejected_entry_fails_only_itself(
    server: FhirTestServer, real: list[dict[str, Any]], locate: bool
) -> None:
    server.locate = locate
    bad = [real[5], real[17]]
    server.reject(ref(bad[0]), 422, "the server dislikes this one")
    server.reject(ref(bad[1]), 400, "and this one")
    sink = make_sink(server, batch_size=25)
    rejected = send(sink, real)
    assert rejected == [
        Rejection(ref(bad[0]), 422, f"{ref(bad[0])}: the server dislikes this one"),
        Rejection(ref(bad[1]), 400, f"{ref(bad[1])}: and this one"),
    ]
    assert sink.rejected == rejected and sink.stored == len(real) - 2
    good = [r for r in real if r not in bad]
    assert_stored_once(server, good)
    failed = [t for t in server.transactions() if t.status != 200]
    if locate:  # each failure named its entry: one failed transaction per bad entry
        assert len(failed) == 2
    else:  # found by halves
        assert len(failed) > 2


def test_a_non_2xx_entry_in_a_transaction_response_is_a_rejection(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    server.entry_status(ref(samples[2]), "404 Not Found")
    rejected = send(make_sink(server), samples)
    assert [(r.ref, r.status) for r in rejected] == [(ref(samples[2]), 404)]
    assert "404 Not Found" in rejected[0].diagnostics


def test_a_4xx_without_an_operation_outcome_raises(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    server.fail_next(400, outcome=False)
    sink = make_sink(server)
    sink.write(samples)
    with pytest.raises(FhirServerError, match="without an OperationOutcome") as caught:
        sink.flush()
    assert caught.value.status == 400 and len(server.transactions()) == 1


def test_the_sink_reports_what_the_server_finds_invalid(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    invalid = {**samples[1], "status": "no-such-status"}
    rejected = send(make_sink(server), [samples[0], invalid, samples[2]])
    assert [(r.ref, r.status) for r in rejected] == [(ref(invalid), 422)]
    assert "no-such-status" in rejected[0].diagnostics
    assert_stored_once(server, [samples[0], samples[2]])


# ---- the server itself (the tests above rely on it)


def _transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def _put(resource: dict[str, Any], **request: str) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "PUT", "url": ref(resource), **request}}


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        ({"status": "bogus"}, 422, "status 'bogus'"),  # a required binding: the project's check
        ({"notAnElement": 1}, 422, "fhir.resources"),  # unknown element: fhir.resources
        ({"studyUid": 12}, 422, "fhir.resources"),  # a wrong type
        ({"id": "x" * 65}, 400, "request.url"),  # the url no longer names the resource
    ],
)
def test_the_server_refuses_an_invalid_resource_and_stores_nothing(
    server: FhirTestServer,
    samples: list[dict[str, Any]],
    change: dict[str, Any],
    status: int,
    says: str,
) -> None:
    bad = {**samples[1], **change}
    bundle = _transaction(_put(samples[0]), {**_put(bad), "request": _put(samples[1])["request"]})
    answer = requests.post(server.base, json=bundle, timeout=10)
    assert answer.status_code == status
    [issue] = answer.json()["issue"]
    assert issue["expression"] == ["Bundle.entry[1]"] and says in issue["diagnostics"]
    assert server.resources() == {}  # all or nothing: entry 0 was valid


def test_the_server_keeps_versions_and_honours_if_match(
    server: FhirTestServer, samples: list[dict[str, Any]]
) -> None:
    r = samples[0]
    first = requests.post(server.base, json=_transaction(_put(r)), timeout=10).json()
    assert first["entry"][0]["response"]["status"] == "201 Created"
    again = requests.post(server.base, json=_transaction(_put(r)), timeout=10).json()
    assert again["entry"][0]["response"] == {**first["entry"][0]["response"], "status": "200 OK"}
    changed = {**r, "status": "unknown"}
    stale = requests.post(
        server.base, json=_transaction(_put(changed, ifMatch='W/"2"')), timeout=10
    )
    assert stale.status_code == 412 and len(server.versions(ref(r))) == 1
    ok = requests.post(server.base, json=_transaction(_put(changed, ifMatch='W/"1"')), timeout=10)
    assert ok.json()["entry"][0]["response"]["etag"] == 'W/"2"'
    history = requests.get(f"{server.base}/{ref(r)}/_history", timeout=10).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]


# ---- idempotence and a flaky server


def test_a_second_send_creates_no_new_versions(
    server: FhirTestServer, real: list[dict[str, Any]]
) -> None:
    send(make_sink(server, batch_size=20), real)
    send(make_sink(server, batch_size=13), real)
    assert_stored_once(server, real)


def test_a_flaky_server_ends_with_every_resource_stored_once(
    server: FhirTestServer, real: list[dict[str, Any]]
) -> None:
    server.flaky(0.3, seed=11)
    waits = Waits()
    for _ in range(2):  # and the second run creates no new version
        sink = make_sink(server, waits, batch_size=5, retries=10)
        assert send(sink, real) == []
    statuses = [t.status for t in server.transactions()]
    assert (
        429 in statuses
        and 503 in statuses
        and len(waits) == statuses.count(429) + statuses.count(503)
    )
    assert_stored_once(server, real)


# ---- the token


def test_401_raises_at_once(server: FhirTestServer, samples: list[dict[str, Any]]) -> None:
    server.require_token(TOKEN)
    for token in (None, "wrong-token-value"):
        waits = Waits()
        sink = make_sink(server, waits, token=token)
        sink.write(samples)
        with pytest.raises(FhirServerError, match="401") as caught:
            sink.flush()
        assert caught.value.status == 401 and waits == []
        assert "wrong-token-value" not in str(caught.value)
        sink.close(commit=False)
    assert len(server.transactions()) == 2 and server.resources() == {}
    send(make_sink(server, token=TOKEN), samples)
    assert_stored_once(server, samples)
    assert server.transactions()[-1].headers["Authorization"] == "<redacted>"


def test_the_token_is_never_shown(
    server: FhirTestServer, samples: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    server.require_token(TOKEN)
    caplog.set_level(logging.DEBUG)
    sink = make_sink(server, token=TOKEN, retries=2)
    assert TOKEN not in repr(sink) and TOKEN not in str(sink)
    server.fail_next(503, times=5)
    sink.write(samples)
    with pytest.raises(FhirServerError) as caught:
        sink.flush()
    messages = [str(caught.value)]
    server.require_token("another")
    with pytest.raises(FhirServerError) as caught:
        sink.flush()
    messages.append(str(caught.value))
    sink.close(commit=False)
    assert "retry" in caplog.text and "refused the bearer token" in messages[1]
    for text in (*messages, caplog.text, repr(caught.value.args)):
        assert TOKEN not in text


# ---- settings


def test_base_url_forms(server: FhirTestServer) -> None:
    assert FhirServerSink("fhir+" + server.base + "/").base == server.base
    for bad in ("ftp://example.org/fhir", "https://user:pw@example.org/fhir", "example.org"):
        with pytest.raises(InvalidInputError) as caught:
            FhirServerSink(bad)
        assert "pw" not in str(caught.value)
    with pytest.raises(InvalidInputError):
        FhirServerSink(server.base, token="a\nb")
    with pytest.raises(ValueError, match="batch_size"):
        FhirServerSink(server.base, batch_size=0)


def test_a_resource_without_id_is_refused(server: FhirTestServer) -> None:
    sink = make_sink(server)
    with pytest.raises(InvalidInputError, match=r"resource 0 .* no resourceType or id"):
        sink.write([{"resourceType": "ImagingSelection"}])
    sink.close(commit=False)


# ---- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made by openssl."""
    from validators import require

    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [require("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_tls_is_verified_and_a_ca_bundle_trusts_the_server(
    certificate: tuple[str, str], samples: list[dict[str, Any]]
) -> None:
    cert, key = certificate
    with FhirTestServer(certfile=cert, keyfile=key) as server:
        assert server.base.startswith("https://")
        waits = Waits()
        sink = make_sink(server, waits)
        sink.write(samples)
        with pytest.raises(FhirServerError, match="TLS failed") as caught:
            sink.flush()
        assert "ca_bundle" in str(caught.value) and waits == []  # not retried
        sink.close(commit=False)
        assert server.requests == []  # never got past the handshake
        send(make_sink(server, ca_bundle=cert), samples)
        assert_stored_once(server, samples)


@pytest.mark.parametrize("status", [301, 307])
def test_a_redirect_is_not_followed(
    server: FhirTestServer, samples: list[dict[str, Any]], status: int
) -> None:
    server.fail_next(status, headers={"Location": f"{server.base}/elsewhere"})
    sink = make_sink(server, token=TOKEN)
    sink.write(samples)
    with pytest.raises(FhirServerError, match=f"answered {status}") as caught:
        sink.flush()
    assert caught.value.status == status and len(server.requests) == 1
    assert f"{server.base}/elsewhere" in str(caught.value)
    sink.close(commit=False)
