"""The DICOMweb source: QIDO-RS to list an archive's instances, WADO-RS to read them.

:class:`DicomwebSource` lists studies, then each study's series, then each
series' instances (QIDO-RS, ``limit``/``offset`` paging until a page comes back
short), sorted by UID (instances by Instance Number, then UID) so that the order
does not depend on the server's. It reads an instance of a class whose reader
needs the content (KOS, SR, SEG, RTSTRUCT, ...) whole by WADO-RS, in the transfer
syntax it is stored in (``transfer-syntax=*``), through the same file reader as
``convert`` (so the same checks: truncation, deferred per-frame groups); a plain
image from its WADO-RS metadata only (``application/dicom+json``, never pixel
data) through :mod:`dicomsel.dicom.dicomjson`; an instance of a class no reader
handles not at all. The protocol is ``dicomweb-client``'s; this module only
drives it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pydicom
import requests
from dicomweb_client import DICOMwebClient

from dicomsel.dicom import ReadOptions, ReadResult, read_file
from dicomsel.dicom.dicomjson import read_json_dataset
from dicomsel.dicom.guard import PARSE_ERRORS, parse_error
from dicomsel.errors import DicomselError, Issue, PacsError, UnsupportedObjectError
from dicomsel.io.base import Item
from dicomsel.io.pacs import InstanceRef, Query, item_for, ref_of, whole_instance, with_endpoint
from dicomsel.model import Endpoint, EndpointKind
from dicomsel.redact import redact
from dicomsel.uid import is_valid_uid

__all__ = ["DicomwebSource"]

#: attributes requested at each QIDO-RS level (includefield)
_FIELDS = {
    "STUDY": ("StudyInstanceUID",),
    "SERIES": ("SeriesInstanceUID", "Modality"),
    "IMAGE": ("SOPInstanceUID", "SOPClassUID", "InstanceNumber"),
}
_STUDY_UID, _SERIES_UID, _SOP_UID = "0020000D", "0020000E", "00080018"
_SOP_CLASS, _NUMBER = "00080016", "00200013"
#: WADO-RS: the instance as stored, whatever its transfer syntax
_AS_STORED = (("application/dicom", "*"),)

#: one client per (process, thread, settings): a source is pickled to workers, a
#: requests session is not shared between threads
_CLIENTS: dict[tuple[Any, ...], DICOMwebClient] = {}
_LOCK = threading.Lock()


def _public(url: str) -> str:
    """``url`` without user information (a credential never names the peer) or a trailing /."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), parts.query, ""))


def _value(answer: Mapping[str, Any], tag: str) -> Any:
    attr = answer.get(tag)
    values = attr.get("Value") if isinstance(attr, Mapping) else None
    return values[0] if isinstance(values, list) and values else None


def _uid(answer: Mapping[str, Any], tag: str) -> str | None:
    value = _value(answer, tag)
    text = str(value).strip() if value is not None else ""
    return text if is_valid_uid(text) else None


def _number(answer: Mapping[str, Any]) -> int:
    try:
        return int(str(_value(answer, _NUMBER)).strip())
    except ValueError:
        return 2**63  # no or a malformed Instance Number: after the numbered ones


_Search = Callable[[DICOMwebClient, int, int], Any]


def _page(search: _Search, limit: int, offset: int, client: DICOMwebClient) -> Any:
    return search(client, limit, offset)


@dataclass(frozen=True, slots=True)
class DicomwebSource:
    """A DICOMweb archive (QIDO-RS and WADO-RS at one base URL) as a pipeline source.

    Holds settings only: it is pickled to worker processes, each of which makes
    its own ``dicomweb_client.DICOMwebClient`` when it first needs one.

    Parameters
    ----------
    url : str
        The DICOMweb base URL (``http(s)://host[:port]/path``).
    query : dicomsel.io.pacs.Query
        Matching keys by level (``--query``); without any, every study.
    headers : mapping of str to str or None
        Extra HTTP headers sent with every request.
    token_env : str or None
        The name of an environment variable holding a bearer token (read in each
        process when its client is made; the token is never stored here, logged
        or named in an error). Without it, user information in ``url``
        (``https://user:password@host/...``) is sent as HTTP basic credentials and
        left out of every name.
    ca_bundle : str or None
        A CA bundle to verify the server's TLS certificate with (None: the system's).
    page_size : int
        QIDO-RS ``limit``: results asked for per request. A server that returns
        fewer per page than asked must be given a page size no larger than its own.
    timeout : float
        Seconds to wait for the server, per request.
    retries : int
        Times a request is sent again (dicomweb-client's exponential backoff, from
        ``backoff`` seconds) after a connection error or an answer 408, 429, 503 or
        504; 0: never.
    backoff : float
        Seconds before the first retry; each next wait doubles.
    """

    url: str
    query: Query = field(default_factory=Query)
    headers: Mapping[str, str] | None = None
    token_env: str | None = None
    ca_bundle: str | None = None
    page_size: int = 1000
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0:
            raise ValueError("retries and backoff must not be negative")
        if self.page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {self.page_size}")
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"{_public(self.url)}: not an http(s) URL")

    @property
    def peer(self) -> str:
        """The base URL as items, reports and errors name it (never with a credential)."""
        return _public(self.url)

    # ---- the client, made lazily in each process and thread

    def _client(self) -> DICOMwebClient:
        headers = tuple(sorted((self.headers or {}).items()))
        key: tuple[Any, ...] = (os.getpid(), threading.get_ident(), self.url, headers)
        key += (self.token_env, self.ca_bundle, self.timeout, self.retries, self.backoff)
        with _LOCK:
            client = _CLIENTS.get(key)
        if client is not None:
            return client
        session = requests.Session()
        if self.ca_bundle is not None:
            session.verify = self.ca_bundle
        session.headers.update(dict(headers))
        if self.token_env is not None:
            token = os.environ.get(self.token_env)
            if not token:
                raise PacsError(
                    f"environment variable {self.token_env} (the bearer token) is not set",
                    path=self.peer,
                )
            session.headers["Authorization"] = f"Bearer {token}"
        else:
            parts = urlsplit(self.url)
            if parts.username is not None:  # user information in the URL: HTTP basic
                session.auth = (unquote(parts.username), unquote(parts.password or ""))
        try:
            client = DICOMwebClient(self.peer, session=session, timeout=self.timeout)
        except ValueError as e:
            raise PacsError(f"not a DICOMweb base URL ({e})", path=self.peer) from e
        client.set_http_retry_params(
            retry=self.retries > 0,
            max_attempts=self.retries + 1,
            wait_exponential_multiplier=max(1, round(self.backoff * 500)),
        )
        with _LOCK:
            _CLIENTS[key] = client
        return client

    def _call(self, what: str, where: str, call: Callable[[DICOMwebClient], Any]) -> Any:
        """Run one request; HTTP and connection failures as a PacsError naming ``where``."""
        try:
            return call(self._client())
        except requests.HTTPError as e:
            resp = e.response
            status = f"HTTP {resp.status_code} {resp.reason}" if resp is not None else str(e)
            raise PacsError(f"{what}: {status}", path=where) from e
        except requests.RequestException as e:
            raise PacsError(
                f"{what}: cannot reach the server ({type(e).__name__})", path=where
            ) from e

    def _pages(self, what: str, where: str, search: _Search) -> list[dict[str, Any]]:
        """Every answer of a QIDO-RS search, ``page_size`` at a time until a page is short."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._call(
                f"{what} (offset {offset})",
                where,
                functools.partial(_page, search, self.page_size, offset),
            )
            if not isinstance(page, list):
                raise PacsError(f"{what}: the answer is not a JSON array", path=where)
            found += [a for a in page if isinstance(a, dict)]
            if len(page) < self.page_size:
                return found
            offset += len(page)

    # ---- Source

    def echo(self) -> None:
        """Check that the server answers QIDO-RS (one study asked for).

        Raises
        ------
        dicomsel.errors.PacsError
            When it cannot be reached or answers with an error.
        """
        self._call("QIDO-RS studies", self.peer, lambda c: c.search_for_studies(limit=1))

    def items(self) -> Iterator[Item]:
        """Every instance the query matches: studies, series, instances, each sorted by UID.

        A study or series whose listing fails is one failed item (the others go on);
        an answer without a valid UID is one too.

        Raises
        ------
        dicomsel.errors.PacsError
            When the studies cannot be listed at all.
        """
        q = self.query
        studies = self._pages(
            "QIDO-RS studies",
            self.peer,
            lambda c, n, o: c.search_for_studies(
                limit=n, offset=o, fields=_FIELDS["STUDY"], search_filters=q.at("STUDY")
            ),
        )
        for study in self._uids(studies, _STUDY_UID, f"{self.peer}/studies"):
            if isinstance(study, Item):
                yield study
            else:
                yield from self._series_items(study)

    def _uids(self, answers: list[dict[str, Any]], tag: str, where: str) -> Iterator[str | Item]:
        """The answers' UIDs, sorted, then one failed item for the answers without one."""
        uids = [_uid(a, tag) for a in answers]
        yield from sorted({u for u in uids if u is not None})
        bad = uids.count(None)
        if bad:
            keyword = pydicom.datadict.keyword_for_tag(int(tag, 16))
            yield Item(f"{where}/?", missing=f"{bad} QIDO-RS answer(s) without a valid {keyword}")

    def _series_items(self, study: str) -> Iterator[Item]:
        where = f"{self.peer}/studies/{study}"
        q = self.query
        try:
            series = self._pages(
                "QIDO-RS series",
                where,
                lambda c, n, o: c.search_for_series(
                    study,
                    limit=n,
                    offset=o,
                    fields=_FIELDS["SERIES"],
                    search_filters=q.at("SERIES"),
                ),
            )
        except PacsError as e:
            yield Item(where, missing=e.reason)
            return
        for uid in self._uids(series, _SERIES_UID, f"{where}/series"):
            if isinstance(uid, Item):
                yield uid
            else:
                yield from self._instance_items(study, uid)

    def _instance_items(self, study: str, series: str) -> Iterator[Item]:
        where = f"{self.peer}/studies/{study}/series/{series}"
        q = self.query
        try:
            answers = self._pages(
                "QIDO-RS instances",
                where,
                lambda c, n, o: c.search_for_instances(
                    study,
                    series,
                    limit=n,
                    offset=o,
                    fields=_FIELDS["IMAGE"],
                    search_filters=q.at("IMAGE"),
                ),
            )
        except PacsError as e:
            yield Item(where, missing=e.reason)
            return
        found: dict[str, tuple[int, str | None]] = {}
        bad = 0
        for a in answers:
            sop = _uid(a, _SOP_UID)
            if sop is None:
                bad += 1
                continue
            found.setdefault(sop, (_number(a), _uid(a, _SOP_CLASS)))
        for sop in sorted(found, key=lambda s: (found[s][0], s)):
            yield item_for(InstanceRef(self.peer, study, series, sop, found[sop][1]))
        if bad:
            why = f"{bad} QIDO-RS instance answer(s) without a valid SOPInstanceUID"
            yield Item(f"{where}/instances/?", missing=why)

    def read(self, item: Item, options: ReadOptions) -> ReadResult:
        """Read one instance: whole (its content), as metadata (a plain image), or not at all.

        Raises
        ------
        dicomsel.errors.UnsupportedObjectError
            When no reader handles its SOP class (nothing is requested).
        dicomsel.errors.PacsError
            When the server fails or cannot be reached (HTTP status named).
        dicomsel.errors.InvalidInputError
            When what it sends cannot be read.
        """
        ref = ref_of(item)
        whole = whole_instance(item.sop_class_uid)
        if whole is None:
            uid = item.sop_class_uid
            why = (
                f"no reader for SOP class {uid} ({pydicom.uid.UID(uid).name})"
                if uid
                else "the QIDO-RS answer names no SOP Class UID"
            )
            raise UnsupportedObjectError(why, path=item.key, attribute="SOPClassUID (0008,0016)")
        uids = (ref.study_instance_uid, ref.series_instance_uid, ref.sop_instance_uid)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if whole:
                    result = self._read_whole(item, uids, options)
                else:
                    meta = self._call(
                        "WADO-RS metadata",
                        item.key,
                        lambda c: c.retrieve_instance_metadata(*uids),
                    )
                    result = read_json_dataset(meta, item.key, options)
            except DicomselError:
                raise
            except PARSE_ERRORS as e:  # what the client's pydicom could not parse
                raise parse_error(e, item.key) from e
        notes = [Issue(f"dicomweb-client: {redact(str(w.message))}", path=item.key) for w in caught]
        result.issues[:0] = notes
        return with_endpoint(result, Endpoint(EndpointKind.DICOMWEB, address=self.peer))

    def _read_whole(
        self, item: Item, uids: tuple[str, str, str], options: ReadOptions
    ) -> ReadResult:
        ds = self._call(
            "WADO-RS instance",
            item.key,
            lambda c: c.retrieve_instance(*uids, media_types=_AS_STORED),
        )
        buffer = getattr(ds, "buffer", None)  # pydicom keeps what it read from
        data = getattr(buffer, "getvalue", lambda: None)()
        if not isinstance(data, bytes):
            raise PacsError(
                "WADO-RS instance: the retrieved bytes are not available", path=item.key
            )
        # the file reader, as convert reads a file: same checks, same results
        fd, tmp = tempfile.mkstemp(prefix="dicomsel-wado-", suffix=".dcm")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            try:
                result = read_file(tmp, options)
            except DicomselError as e:
                if e.path == tmp:
                    e.path = None
                    e.with_path(item.key)
                raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        result.issues = [
            dataclasses.replace(i, path=item.key) if i.path == tmp else i for i in result.issues
        ]
        return result

    def digest(self, item: Item) -> bytes | None:
        """None: an instance's content is not known without retrieving it.

        Parameters
        ----------
        item : dicomsel.io.Item

        Returns
        -------
        None
        """
        return None
