"""A FHIR server as a sink: transaction Bundles of ``PUT Type/id``, retried, split and checked.

:class:`FhirServerSink` buffers the resources of a run and sends them as
transaction Bundles of conditional-free ``PUT Type/id`` entries, at most
``batch_size`` entries each. Resource ids are deterministic, so sending a
resource again is an idempotent update.

- 429 (``Retry-After`` honoured), 408, 5xx, dropped connections and timeouts are
  retried with exponential backoff and jitter, up to ``retries`` times; then
  :class:`~dicomsel.errors.FhirServerError`.
- 413: the batch is halved (and stays smaller for the rest of the run); a single
  entry still too large is a :class:`Rejection`.
- Another 4xx with an OperationOutcome fails a whole transaction; the failing
  entries are found from ``Bundle.entry[N]`` in the outcome's ``expression`` or
  ``location``, else by bisecting, and become :class:`Rejection` records with the
  server's diagnostics; the other entries are sent again and stored.
- 401/403: :class:`~dicomsel.errors.FhirServerError` at once. The bearer token is
  sent in the ``Authorization`` header only, never logged, never in a message or repr.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from dicomsel.errors import FhirServerError, InvalidInputError

__all__ = ["FhirServerSink", "Rejection"]

log = logging.getLogger(__name__)

#: failures that are retried: the server may answer later
_RETRIED_STATUS = frozenset({408, 429})
_CONNECTION_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
#: ``Bundle.entry[N]`` in an OperationOutcome's expression or location
_ENTRY_INDEX = re.compile(r"Bundle\.entry\[(\d+)\]")
_STATUS_CODE = re.compile(r"\s*(\d{3})")
_CONTENT_TYPE = "application/fhir+json"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A resource the server refused to store.

    Parameters
    ----------
    ref : str
        The resource, ``Type/id``.
    status : int
        The HTTP status the server gave it (the transaction's, or its entry's).
    diagnostics : str
        What the server said (its OperationOutcome's diagnostics).
    """

    ref: str
    status: int
    diagnostics: str


@dataclass(frozen=True, slots=True)
class _Entry:
    ref: str
    text: str  # the entry, serialised


class _Answer:
    """A final answer to one transaction (after the retries)."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


def _dumps(obj: Any) -> str:
    # the settings of dicomsel.fhir.serialise: compact, UTF-8, no NaN
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _parse_base(base: str) -> str:
    url = base[len("fhir+") :] if base.startswith("fhir+") else base
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError("not a FHIR server base URL (http(s)://HOST[:PORT]/PATH)", path=url)
    if parts.username is not None or parts.password is not None:
        raise InvalidInputError(
            "credentials in the URL are not accepted: give a bearer token instead",
            path=f"{parts.scheme}://{parts.hostname}",
        )
    if parts.query or parts.fragment:
        raise InvalidInputError("a FHIR base URL has no query or fragment", path=url)
    return url.rstrip("/")


def _diagnostics(outcome: Any) -> str:
    """The diagnostics of an OperationOutcome, one line."""
    texts: list[str] = []
    for issue in outcome.get("issue", ()) if isinstance(outcome, dict) else ():
        if not isinstance(issue, dict):
            continue
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
        if isinstance(text, str) and text and text not in texts:
            texts.append(text)
    return "; ".join(texts) or "no diagnostics"


def _named_entries(outcome: dict[str, Any], count: int) -> dict[int, str]:
    """Entry index -> diagnostics, for the entries an OperationOutcome names."""
    named: dict[int, list[str]] = {}
    for issue in outcome.get("issue", ()):
        if not isinstance(issue, dict):
            continue
        where = [*(issue.get("expression") or ()), *(issue.get("location") or ())]
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or ""
        for place in where:
            for m in _ENTRY_INDEX.finditer(str(place)) if isinstance(place, str) else ():
                index = int(m.group(1))
                if index < count:
                    texts = named.setdefault(index, [])
                    if text and text not in texts:
                        texts.append(str(text))
    return {i: "; ".join(t) or _diagnostics(outcome) for i, t in named.items()}


def _short(error: Exception, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_outcome(body: Any) -> bool:
    return isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"


class FhirServerSink:
    """Write resources to a FHIR server in transaction Bundles (a :class:`~dicomsel.io.Sink`).

    Parameters
    ----------
    base : str
        The server's base URL, ``http(s)://HOST[:PORT]/PATH`` (``fhir+`` in front is accepted).
    batch_size : int
        Entries per transaction at most (halved for the rest of the run on a 413).
    retries : int
        Retries of one transaction on 429, 408, 5xx, a dropped connection or a timeout.
    token : str or None
        A bearer token, sent as ``Authorization: Bearer ...``; never logged or shown.
    ca_bundle : str or None
        A CA bundle (file or folder) to verify the server's certificate; TLS is always
        verified, against the system's CAs without it.
    timeout : float
        Seconds to wait for the server to connect and to answer.
    backoff : float
        The first wait before a retry, in seconds; doubled each retry, with jitter.
    max_backoff : float
        The longest wait before a retry, ``Retry-After`` included.
    session : requests.Session or None
        The session to send with (its headers are left alone); a new one when None.
    sleep : callable
        Waits the given seconds (``time.sleep``; tests pass a recorder).
    clock : callable
        The time now, in seconds since the epoch (``time.time``), for an HTTP-date
        ``Retry-After``.
    seed : int
        Seed of the jitter: the same run waits the same times.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When ``base`` is not an http(s) URL or holds credentials, or the token cannot
        be sent in a header.
    ValueError
        When ``batch_size`` is below 1, or ``retries``, ``timeout`` or a backoff is negative.
    """

    def __init__(
        self,
        base: str,
        *,
        batch_size: int = 100,
        retries: int = 5,
        token: str | None = None,
        ca_bundle: str | None = None,
        timeout: float = 60.0,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        seed: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if retries < 0 or timeout <= 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("retries, backoff and max_backoff must be >= 0 and timeout > 0")
        self.base = _parse_base(base)
        if token is not None and (not token or any(c in token for c in "\r\n\0")):
            raise InvalidInputError("the bearer token is empty or holds a line break", path=base)
        self.batch_size = batch_size
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        #: every resource refused in this run, in the order of the refusals
        self.rejected: list[Rejection] = []
        #: how many resources the server stored (or kept unchanged) in this run
        self.stored = 0
        #: how many transactions were sent, retries and resends included
        self.requests = 0
        self._token = token
        self._verify: str | bool = ca_bundle or True
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random(seed)
        self._buffer: list[_Entry] = []
        self._refs: set[str] = set()
        self._since_flush: list[Rejection] = []
        self._batch_stored = 0
        self._batch_rejected: list[Rejection] = []
        self._closed = False

    def __repr__(self) -> str:
        token = "set" if self._token is not None else "none"
        return (
            f"FhirServerSink(base={self.base!r}, batch_size={self.batch_size}, "
            f"retries={self.retries}, token=<{token}>)"
        )

    # ---- the Sink protocol

    def write(self, resources: Sequence[dict[str, Any]]) -> None:
        """Buffer resources; send a transaction whenever ``batch_size`` are buffered.

        A resource whose ``Type/id`` is already in the buffer sends the buffer first
        (a transaction holds each resource once).

        Parameters
        ----------
        resources : sequence of dict
            FHIR resources with ``resourceType`` and ``id``; they are not changed.

        Raises
        ------
        dicomsel.errors.InvalidInputError
            When a resource has no ``resourceType`` or ``id``.
        dicomsel.errors.FhirServerError
            When the server cannot be reached or refuses after the retries, or refuses
            the token.
        """
        if self._closed:
            raise ValueError(f"{self!r} is closed")
        for i, res in enumerate(resources):
            rtype = res.get("resourceType") if isinstance(res, dict) else None
            rid = res.get("id") if isinstance(res, dict) else None
            if not isinstance(rtype, str) or not isinstance(rid, str) or not rtype or not rid:
                raise InvalidInputError(
                    f"resource {i} of the batch has no resourceType or id", path=self.base
                )
            ref = f"{rtype}/{rid}"
            if ref in self._refs:
                self._send_buffer(len(self._buffer))
            entry = {
                "fullUrl": f"{self.base}/{ref}",
                "resource": res,
                "request": {"method": "PUT", "url": ref},
            }
            self._buffer.append(_Entry(ref, _dumps(entry)))
            self._refs.add(ref)
            while len(self._buffer) >= self.batch_size:
                self._send_buffer(self.batch_size)

    def flush(self) -> list[Rejection]:
        """Send every buffered resource; return once each is stored or rejected.

        Returns
        -------
        list of Rejection
            The resources refused since the last flush (batches sent by
            :meth:`write` included), in the order of the refusals.

        Raises
        ------
        dicomsel.errors.FhirServerError
            When the server cannot be reached or refuses after the retries, or refuses
            the token; the entries not yet stored stay buffered.
        """
        while self._buffer:
            self._send_buffer(min(self.batch_size, len(self._buffer)))
        out, self._since_flush = self._since_flush, []
        return out

    def close(self, commit: bool = True) -> None:
        """End the run: flush when ``commit``, else drop what is buffered.

        Parameters
        ----------
        commit : bool
            Send the buffer (True) or drop it (False).

        Raises
        ------
        dicomsel.errors.FhirServerError
            As :meth:`flush`; the session is closed either way.
        """
        if self._closed:
            return
        try:
            if commit:
                self.flush()
        finally:
            self._buffer.clear()
            self._refs.clear()
            self._closed = True
            if self._own_session:
                self._session.close()

    # ---- sending

    def _send_buffer(self, count: int) -> None:
        """Send the first ``count`` buffered entries; they leave the buffer once all are settled.

        When the server fails for good, the entries stay buffered and nothing of the
        batch is counted: a later flush sends them again (idempotent PUTs).
        """
        self._batch_stored, self._batch_rejected = 0, []
        self._store(self._buffer[:count])
        del self._buffer[:count]
        self._refs = {e.ref for e in self._buffer}
        self.stored += self._batch_stored
        for r in self._batch_rejected:
            log.warning("%s refused %s (%d): %s", self.base, r.ref, r.status, r.diagnostics)
        self.rejected += self._batch_rejected
        self._since_flush += self._batch_rejected

    def _reject(self, entry: _Entry, status: int, diagnostics: str) -> None:
        self._batch_rejected.append(Rejection(entry.ref, status, diagnostics))

    def _store(self, batch: list[_Entry]) -> None:
        """Send ``batch`` until every entry is stored or rejected."""
        todo: list[list[_Entry]] = [batch]  # a stack: the first part is sent first
        while todo:
            chunk = todo.pop()
            answer = self._transaction(chunk)
            status, body = answer.status, answer.body
            if 200 <= status < 300:
                self._accepted(chunk, status, body)
            elif status == 413:
                if len(chunk) == 1:
                    self._reject(chunk[0], 413, "the entry alone is larger than the server takes")
                    continue
                half = math.ceil(len(chunk) / 2)
                if half < self.batch_size:
                    log.info("%s: payload too large, batch size now %d", self.base, half)
                    self.batch_size = half
                todo += [chunk[half:], chunk[:half]]
            elif len(chunk) == 1:
                self._reject(chunk[0], status, _diagnostics(body))
            else:
                named = _named_entries(body, len(chunk))
                if named:
                    for index in sorted(named):
                        self._reject(chunk[index], status, named[index])
                    rest = [e for i, e in enumerate(chunk) if i not in named]
                    if rest:
                        todo.append(rest)
                else:  # the outcome names no entry: find the bad ones by halves
                    half = len(chunk) // 2
                    todo += [chunk[half:], chunk[:half]]

    def _accepted(self, chunk: list[_Entry], status: int, body: Any) -> None:
        entries = body.get("entry") if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or body.get("resourceType") != "Bundle"
            or body.get("type") != "transaction-response"
            or not isinstance(entries, list)
            or len(entries) != len(chunk)
        ):
            raise FhirServerError(
                f"the server accepted a transaction of {len(chunk)} entries but did not answer "
                "a transaction-response Bundle with as many entries",
                path=self.base,
                status=status,
            )
        for entry, answer in zip(chunk, entries, strict=True):
            response = answer.get("response") if isinstance(answer, dict) else None
            text = response.get("status") if isinstance(response, dict) else None
            m = _STATUS_CODE.match(text) if isinstance(text, str) else None
            code = int(m.group(1)) if m else 0
            if 200 <= code < 300:
                self._batch_stored += 1
                continue
            outcome = response.get("outcome") if isinstance(response, dict) else None
            why = _diagnostics(outcome) if _is_outcome(outcome) else f"entry status {text!r}"
            self._reject(entry, code, why)

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": f"{_CONTENT_TYPE}; charset=utf-8",
            "Accept": _CONTENT_TYPE,
            "Prefer": "return=minimal",
        }
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    def _transaction(self, chunk: list[_Entry]) -> _Answer:
        """POST one transaction, retrying what may pass later; the final answer.

        Returns a 2xx, 413 or a 4xx with an OperationOutcome; raises on the rest.
        """
        body = (
            '{"resourceType":"Bundle","type":"transaction","entry":['
            + ",".join(e.text for e in chunk)
            + "]}"
        ).encode("utf-8")
        attempt = 0
        while True:
            self.requests += 1
            status: int | None = None
            retry_after: str | None = None
            try:
                response = self._session.post(
                    self.base,
                    data=body,
                    headers=self._headers(),
                    timeout=self.timeout,
                    verify=self._verify,
                    allow_redirects=False,
                )
            except requests.exceptions.SSLError as e:
                raise FhirServerError(
                    f"TLS failed ({_short(e)}); a server whose certificate is not signed by a "
                    "system CA needs its CA bundle (ca_bundle)",
                    path=self.base,
                ) from e
            except _CONNECTION_ERRORS as e:
                what = f"no answer ({type(e).__name__}: {_short(e)})"
            else:
                status = response.status_code
                answer = _Answer(status, self._json(response))
                if status in (401, 403):
                    said = "refused the bearer token" if self._token else "needs a bearer token"
                    raise FhirServerError(
                        f"the server {said} ({status}): {_diagnostics(answer.body)}",
                        path=self.base,
                        status=status,
                    )
                if 200 <= status < 300 or status == 413:
                    return answer
                if status < 400:
                    where = response.headers.get("Location")
                    raise FhirServerError(
                        f"the server answered {status}"
                        + (f" (to {where})" if where else "")
                        + ": a transaction is posted to the base URL itself, never redirected",
                        path=self.base,
                        status=status,
                    )
                if status < 500 and status not in _RETRIED_STATUS:
                    if not _is_outcome(answer.body):
                        raise FhirServerError(
                            f"the server answered {status} without an OperationOutcome",
                            path=self.base,
                            status=status,
                        )
                    return answer
                what = f"answered {status}" + (
                    f" ({_diagnostics(answer.body)})" if answer.body else ""
                )
                retry_after = response.headers.get("Retry-After")
            if attempt >= self.retries:
                raise FhirServerError(
                    f"gave up after {self.retries} retries of a transaction of "
                    f"{len(chunk)} entries: {what}",
                    path=self.base,
                    status=status,
                )
            wait = self._wait(attempt, retry_after)
            attempt += 1
            level = logging.INFO if status == 429 else logging.WARNING
            log.log(
                level,
                "%s: %s; retry %d/%d in %.3g s",
                self.base,
                what,
                attempt,
                self.retries,
                wait,
            )
            self._sleep(wait)

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before retry ``attempt + 1``: Retry-After, else backoff with jitter."""
        if retry_after is not None:
            text = retry_after.strip()
            seconds: float | None = None
            if text.isdigit():
                seconds = float(text)
            else:
                try:
                    when = email.utils.parsedate_to_datetime(text)
                except (TypeError, ValueError):
                    when = None
                if when is not None and when.tzinfo is not None:
                    seconds = max(0.0, when.timestamp() - self._clock())
            if seconds is not None:
                return min(seconds, self.max_backoff)
        delay = min(self.max_backoff, self.backoff * 2.0**attempt)
        return delay / 2 + self._random.uniform(0, delay / 2)

    @staticmethod
    def _json(response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None
