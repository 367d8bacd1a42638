"""A FHIR R5 server of the project's own, on loopback, for the FHIR sink's tests.

No real R5 FHIR server can be installed on these machines: HAPI FHIR needs Maven,
which is not reachable, and Medplum and node-fhir-server-core are R4 servers. So
the sink (:mod:`dicomsel.io.fhirserver`) is tested against this one, built on the
standard library only (``http.server.ThreadingHTTPServer`` in a thread, on
127.0.0.1 and a free port). What it does, as a FHIR server does it:

- ``POST [base]`` with a ``transaction`` Bundle: every entry must be ``PUT Type/id``
  naming its resource; every resource is validated with fhir.resources R5
  (``get_fhir_model_class(resourceType).model_validate``) and with the project's
  own checks (``dicomsel.fhir.flavour("r5").validate``: required bindings, the id
  limit); ``request.ifMatch`` must name the current version (else 412). The
  transaction is all-or-nothing: the first failing entry fails it, nothing is
  stored, and the answer is an OperationOutcome whose issue has
  ``expression: ["Bundle.entry[N]"]`` (left out when ``locate`` is False, as
  servers that do not say which entry failed). Otherwise the answer is a
  ``transaction-response`` Bundle (``201 Created`` / ``200 OK``, ``location``
  ``Type/id/_history/V``, ``etag`` ``W/"V"``).
- Versions: a PUT equal to the stored resource (``meta.versionId`` and
  ``meta.lastUpdated`` aside) keeps its version; anything else makes a new one.
- ``GET [base]/Type/id`` and ``GET [base]/Type/id/_history``.
- Failures on demand: :meth:`FhirTestServer.fail_next` (a status, with
  ``Retry-After``; ``"drop"``: the connection closed without an answer),
  :attr:`max_entries` (413 above it), :meth:`reject` (a resource always fails),
  :meth:`entry_status` (a 200 transaction answering a non-2xx entry status),
  :meth:`require_token` (401 without it) and :meth:`flaky` (429 or 503 now and then).

Use it as a context manager (``with FhirTestServer() as server:``) or with
``start()`` / ``stop()``; ``server.base`` is its base URL. Given ``certfile`` and
``keyfile`` it speaks HTTPS.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FhirTestServer", "Received", "same_content"]

_PATH = "/fhir"
_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Received:
    """One request the server got: the Authorization header's value is never kept."""

    method: str
    path: str
    headers: dict[str, str]
    entries: int
    status: int
    body: bytes = field(repr=False)


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    out = dict(resource)
    meta = dict(out.pop("meta", None) or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        out["meta"] = meta
    return out


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two resources are equal, ``meta.versionId`` and ``meta.lastUpdated`` aside."""
    return _without_meta(a) == _without_meta(b)


def _outcome(diagnostics: str, code: str = "invalid", index: int | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if index is not None:
        issue["expression"] = [f"Bundle.entry[{index}]"]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


class _Failure(Exception):
    """An entry the transaction fails on."""

    def __init__(self, status: int, diagnostics: str, code: str = "invalid") -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code


def _validate(resource: dict[str, Any]) -> None:
    """Validate with fhir.resources R5 and the project's own R5 checks."""
    from fhir.resources import get_fhir_model_class
    from pydantic import ValidationError as PydanticError

    from dicomsel.errors import ValidationError
    from dicomsel.fhir import flavour

    rtype = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(rtype))
    except KeyError:
        raise _Failure(400, f"unknown resourceType {rtype!r}", "not-supported") from None
    try:
        model.model_validate(resource)
    except PydanticError as e:
        raise _Failure(
            422, f"fhir.resources: {e.errors()[0]['msg']} at {e.errors()[0]['loc']}"
        ) from None
    try:
        flavour("r5").validate(resource)
    except ValidationError as e:
        raise _Failure(422, e.reason) from None


class FhirTestServer:
    """The loopback FHIR R5 test server (see the module's text).

    Parameters
    ----------
    certfile, keyfile : str or None
        A PEM certificate and key: the server speaks HTTPS.

    Attributes
    ----------
    base : str
        ``http://127.0.0.1:PORT/fhir`` once started.
    max_entries : int or None
        Transactions with more entries get 413.
    locate : bool
        Whether a failed transaction's OperationOutcome names the entry.
    stall_seconds : float
        How long a ``"stall"`` answer keeps the client waiting.
    requests : list of Received
        Every request, in the order they arrived.
    """

    def __init__(self, *, certfile: str | None = None, keyfile: str | None = None) -> None:
        self._tls = (certfile, keyfile) if certfile else None
        self.base = ""
        self.max_entries: int | None = None
        self.locate = True
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._store: dict[str, list[dict[str, Any]]] = {}
        self._script: deque[tuple[int | str, dict[str, str], bool]] = deque()
        self.stall_seconds = 0.5
        self._rejects: dict[str, tuple[int, str]] = {}
        self._entry_status: dict[str, str] = {}
        self._token: str | None = None
        self._flaky: tuple[float, random.Random] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> FhirTestServer:
        """Listen on 127.0.0.1 and a free port, in a thread."""
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        scheme = "http"
        if self._tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self._tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            scheme = "https"
        self.base = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}{_PATH}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close the socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FhirTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- failures on demand

    def fail_next(
        self,
        what: int | str,
        *,
        retry_after: int | str | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        outcome: bool = True,
    ) -> None:
        """Answer the next ``times`` transactions with ``what`` instead of processing them.

        ``what`` is an HTTP status (with an OperationOutcome unless ``outcome`` is False,
        and ``Retry-After: retry_after``, seconds or an HTTP-date, and ``headers`` when
        given), ``"drop"``
        (the connection closed without an answer) or ``"stall"`` (no answer for
        :attr:`stall_seconds`, then the connection closed), or ``"ok"``: processed as
        usual (to place a failure after some transactions).
        """
        with self._lock:
            extra = dict(headers or {})
            if retry_after is not None:
                extra["Retry-After"] = str(retry_after)
            self._script.extend([(what, extra, outcome)] * times)

    def reject(self, ref: str, status: int = 422, diagnostics: str = "rejected") -> None:
        """Make the resource ``ref`` (``Type/id``) always fail validation."""
        with self._lock:
            self._rejects[ref] = (status, diagnostics)

    def accept(self, ref: str) -> None:
        """Undo :meth:`reject`: ``ref`` is validated as any resource again."""
        with self._lock:
            self._rejects.pop(ref, None)

    def entry_status(self, ref: str, status: str) -> None:
        """Answer ``status`` (e.g. ``"404 Not Found"``) for ``ref``'s entry, storing nothing."""
        with self._lock:
            self._entry_status[ref] = status

    def require_token(self, token: str) -> None:
        """Answer 401 to any request without ``Authorization: Bearer <token>``."""
        self._token = token

    def flaky(self, p: float, seed: int = 0) -> None:
        """Answer a transaction with 429 (``Retry-After: 0``) or 503 with probability ``p``."""
        with self._lock:
            self._flaky = (p, random.Random(seed))

    # ---- what is stored

    def resources(self) -> dict[str, dict[str, Any]]:
        """``Type/id`` -> the current version of every stored resource."""
        with self._lock:
            return {ref: copy.deepcopy(v[-1]) for ref, v in self._store.items()}

    def versions(self, ref: str) -> list[dict[str, Any]]:
        """Every version of ``ref``, oldest first (empty when it was never stored)."""
        with self._lock:
            return copy.deepcopy(self._store.get(ref, []))

    def transactions(self) -> list[Received]:
        """The ``POST`` requests."""
        return [r for r in self.requests if r.method == "POST"]

    # ---- answering (called by the handler threads)

    def _authorised(self, header: str | None) -> bool:
        return self._token is None or header == f"Bearer {self._token}"

    def _scripted(self) -> tuple[int | str, dict[str, str], bool] | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self._flaky is not None:
                p, rng = self._flaky
                if rng.random() < p:
                    return (
                        (429, {"Retry-After": "0"}, True) if rng.random() < 0.5 else (503, {}, True)
                    )
        return None

    def _transaction(self, bundle: Any) -> tuple[int, dict[str, Any]]:
        if not (
            isinstance(bundle, dict)
            and bundle.get("resourceType") == "Bundle"
            and bundle.get("type") == "transaction"
            and isinstance(bundle.get("entry", []), list)
        ):
            return 400, _outcome("not a transaction Bundle", "structure")
        entries = bundle.get("entry", [])
        if self.max_entries is not None and len(entries) > self.max_entries:
            return 413, _outcome(f"more than {self.max_entries} entries", "too-costly")
        with self._lock:
            try:
                plan = [self._check(i, e, entries) for i, e in enumerate(entries)]
            except _IndexedFailure as f:
                index = f.index if self.locate else None
                return f.status, _outcome(f.diagnostics, f.code, index)
            return 200, self._apply(plan)

    def _check(self, index: int, entry: Any, entries: list[Any]) -> tuple[str, dict[str, Any]]:
        try:
            if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
                raise _Failure(400, "entry without a resource", "structure")
            res, req = entry["resource"], entry.get("request") or {}
            ref = f"{res.get('resourceType')}/{res.get('id')}"
            if req.get("method") != "PUT":
                raise _Failure(400, f"{ref}: method {req.get('method')!r}, not PUT", "structure")
            if req.get("url") != ref:
                raise _Failure(400, f"request.url {req.get('url')!r} is not {ref!r}", "structure")
            full = entry.get("fullUrl")
            if full is not None and not str(full).endswith(f"/{ref}"):
                raise _Failure(400, f"fullUrl {full!r} does not name {ref}", "structure")
            if any(
                isinstance(o, dict) and o.get("request", {}).get("url") == ref
                for o in entries[:index]
            ):
                raise _Failure(400, f"{ref} is in the transaction twice", "duplicate")
            if ref in self._rejects:
                status, why = self._rejects[ref]
                raise _Failure(status, f"{ref}: {why}")
            _validate(res)
            if_match = req.get("ifMatch")
            if if_match is not None:
                current = self._store.get(ref)
                if current is None or if_match != f'W/"{len(current)}"':
                    have = f'W/"{len(current)}"' if current else "none"
                    raise _Failure(
                        412, f"{ref}: If-Match {if_match} but version {have}", "conflict"
                    )
            return ref, res
        except _Failure as f:
            raise _IndexedFailure(index, f) from None

    def _apply(self, plan: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        out: list[dict[str, Any]] = []
        for ref, res in plan:
            if ref in self._entry_status:
                out.append({"response": {"status": self._entry_status[ref]}})
                continue
            versions = self._store.setdefault(ref, [])
            if versions and same_content(versions[-1], res):
                status = "200 OK"
            else:
                stored = copy.deepcopy(res)
                stored["meta"] = {
                    **(res.get("meta") or {}),
                    "versionId": str(len(versions) + 1),
                    "lastUpdated": now,
                }
                status = "201 Created" if not versions else "200 OK"
                versions.append(stored)
            version = len(versions)
            out.append(
                {
                    "response": {
                        "status": status,
                        "location": f"{ref}/_history/{version}",
                        "etag": f'W/"{version}"',
                        "lastModified": versions[-1]["meta"]["lastUpdated"],
                    }
                }
            )
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": out}

    def _read(self, path: str) -> tuple[int, dict[str, Any]]:
        parts = path[len(_PATH) :].strip("/").split("/")
        with self._lock:
            if len(parts) >= 2:
                versions = self._store.get(f"{parts[0]}/{parts[1]}")
                if versions and len(parts) == 2:
                    return 200, copy.deepcopy(versions[-1])
                if versions and parts[2:] == ["_history"]:
                    return 200, {
                        "resourceType": "Bundle",
                        "type": "history",
                        "total": len(versions),
                        "entry": [{"resource": copy.deepcopy(v)} for v in reversed(versions)],
                    }
        return 404, _outcome(f"{path} not found", "not-found")


class _IndexedFailure(Exception):
    def __init__(self, index: int, failure: _Failure) -> None:
        super().__init__(failure.diagnostics)
        self.index = index
        self.status = failure.status
        self.diagnostics = failure.diagnostics
        self.code = failure.code


class _Handler(BaseHTTPRequestHandler):
    owner: FhirTestServer
    protocol_version = "HTTP/1.1"
    #: headers and body leave in one send (two small sends meet Nagle and delayed ACKs)
    wbufsize = 1 << 16

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the tests read FhirTestServer.requests

    def _log(self, status: int, body: bytes, entries: int) -> None:
        headers = {
            k: ("<redacted>" if k.lower() == "authorization" else v)
            for k, v in self.headers.items()
        }
        self.owner.requests.append(
            Received(self.command, self.path, headers, entries, status, body)
        )

    def _answer(
        self, status: int, doc: dict[str, Any], extra: dict[str, str] | None = None
    ) -> None:
        self._answer_raw(status, json.dumps(doc).encode("utf-8"), f"{_JSON}; charset=utf-8", extra)

    def _answer_raw(
        self, status: int, data: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)  # buffered (wbufsize): one send with the headers

    def _guarded(self, body: bytes, entries: int, then: Callable[[], None]) -> None:
        if not self.owner._authorised(self.headers.get("Authorization")):
            self._log(401, body, entries)
            self._answer(401, _outcome("unknown token", "login"), {"WWW-Authenticate": "Bearer"})
            return
        then()

    def do_GET(self) -> None:
        def read() -> None:
            status, doc = self.owner._read(self.path)
            self._log(status, b"", 0)
            self._answer(status, doc)

        self._guarded(b"", 0, read)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            bundle = json.loads(body)
        except ValueError:
            bundle = None
        entries = len(bundle.get("entry", [])) if isinstance(bundle, dict) else 0

        def transact() -> None:
            if self.path.rstrip("/") != _PATH:
                self._log(404, body, entries)
                self._answer(404, _outcome(f"no {self.path}", "not-found"))
                return
            scripted = self.owner._scripted()
            if scripted is not None and scripted[0] == "ok":
                scripted = None
            if scripted is not None and scripted[0] in ("drop", "stall"):
                if scripted[0] == "stall":
                    time.sleep(self.owner.stall_seconds)
                self._log(0, body, entries)
                self.close_connection = True
                return
            if scripted is not None:
                status = int(scripted[0])
                self._log(status, body, entries)
                extra = scripted[1]
                if scripted[2]:
                    self._answer(status, _outcome(f"scripted {status}", "transient"), extra)
                else:
                    self._answer_raw(status, b"<html>no</html>", "text/html", extra)
                return
            status, doc = self.owner._transaction(bundle)
            self._log(status, body, entries)
            self._answer(status, doc)

        self._guarded(body, entries, transact)
