"""The DIMSE source: a PACS peer queried with C-FIND and read with C-GET or C-MOVE (pynetdicom).

``DimseSource("dimse://CALLED_AET@HOST:PORT")`` lists the instances of the
peer's studies (C-FIND, Study Root, at STUDY, SERIES and IMAGE level, the
query's keys at each) and retrieves each one it reads: by C-GET at IMAGE level,
with SCP/SCU role selection negotiated for the instance's SOP class, or by
C-MOVE to a Storage SCP this process runs on ``move_port``. The instance
arrives whole (DIMSE has no metadata-only retrieve), in the transfer syntax it
is stored in when the peer keeps it (deflated explicit VR little endian
included), and is read as a file is: header only, never its pixel data.

The source holds settings only, so it can be pickled to worker processes;
associations are opened per use. The Storage SCP of C-MOVE is started once per
process and port, and shared by the threads of that process.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, build_context, build_role, evt
from pynetdicom.association import Association
from pynetdicom.presentation import AllStoragePresentationContexts
from pynetdicom.status import (
    QR_GET_SERVICE_CLASS_STATUS,
    QR_MOVE_SERVICE_CLASS_STATUS,
    VERIFICATION_SERVICE_CLASS_STATUS,
)

from dicomsel.dicom import ReadOptions, ReadResult, read_file
from dicomsel.errors import DicomselError, PacsError, UnsupportedObjectError
from dicomsel.io.base import Item
from dicomsel.io.files import TEMP_PREFIX
from dicomsel.io.pacs import InstanceRef, Query, item_for, ref_of, whole_instance, with_endpoint
from dicomsel.io.peer import (
    PENDING,
    SUCCESS,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
    check_ae_title,
    check_status,
    find,
    number,
    open_association,
    parse_peer,
    query_dataset,
    status_text,
    text,
)
from dicomsel.model import Endpoint, EndpointKind

__all__ = ["RETRIEVE_TRANSFER_SYNTAXES", "DimseSource", "read_part10"]

#: the transfer syntaxes offered for a retrieved instance, one presentation context each,
#: so that the peer can send it as stored
RETRIEVE_TRANSFER_SYNTAXES: tuple[str, ...] = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
)

# ---- the Storage SCP of C-MOVE ------------------------------------------------------------


@dataclass
class _MoveServer:
    """A Storage SCP receiving the instances this process asked a peer to move to it."""

    port: int
    aet: str
    server: Any = None
    lock: threading.Condition = field(default_factory=threading.Condition)
    wanted: Counter[str] = field(default_factory=Counter)
    received: dict[str, bytes] = field(default_factory=dict)

    def start(self) -> None:
        ae = AE(ae_title=self.aet)
        ae.supported_contexts = [
            build_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
            for cx in AllStoragePresentationContexts
            if cx.abstract_syntax is not None
        ]
        try:
            self.server = ae.start_server(
                ("", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)]
            )
        except OSError as e:
            raise PacsError(
                f"cannot listen on --move-port {self.port} for C-MOVE: {e.strerror or e}",
                path=f"dimse://{self.aet}@:{self.port}",
            ) from e

    def _store(self, event: Any) -> int:
        uid = str(event.request.AffectedSOPInstanceUID)
        with self.lock:
            if not self.wanted[uid]:
                return 0xC000  # not asked for: refused
            self.received[uid] = event.encoded_dataset()
            self.lock.notify_all()
        return SUCCESS

    def want(self, uid: str) -> None:
        with self.lock:
            self.wanted[uid] += 1

    def take(self, uid: str) -> bytes | None:
        with self.lock:
            self.wanted[uid] -= 1
            if self.wanted[uid] <= 0:
                del self.wanted[uid]
                return self.received.pop(uid, None)
            return self.received.get(uid)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None


_SERVERS: dict[tuple[int, str], _MoveServer] = {}
_SERVERS_LOCK = threading.Lock()


def _move_server(port: int, aet: str) -> _MoveServer:
    with _SERVERS_LOCK:
        server = _SERVERS.get((port, aet))
        if server is None:
            server = _MoveServer(port, aet)
            server.start()
            _SERVERS[(port, aet)] = server
        return server


@atexit.register
def _stop_servers() -> None:
    with _SERVERS_LOCK:
        for server in _SERVERS.values():
            server.stop()
        _SERVERS.clear()


# ---- the source ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DimseSource:
    """A DIMSE peer as the source of a run: C-FIND to list, C-GET (or C-MOVE) to read.

    Parameters
    ----------
    peer : str
        ``dimse://CALLED_AET@HOST:PORT``.
    query : dicomsel.io.pacs.Query
        Matching keys by level; none: every study.
    calling_aet : str
        This side's AE title, as the peer knows it (a PACS rejects unknown callers).
    move_port : int or None
        Retrieve by C-MOVE to a Storage SCP this process runs on that port; None: C-GET.
    move_aet : str or None
        The AE title of that Storage SCP, as the peer knows it (its C-MOVE
        destination); default ``calling_aet``.
    timeout : float
        Seconds for a connection, the association and each DIMSE message.

    Raises
    ------
    ValueError
        On a malformed peer, AE title, port or timeout.
    """

    peer: str
    query: Query = field(default_factory=Query)
    calling_aet: str = "DICOMSEL"
    move_port: int | None = None
    move_aet: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        peer = parse_peer(self.peer)
        object.__setattr__(self, "peer", peer.url)
        object.__setattr__(self, "calling_aet", check_ae_title(self.calling_aet, "calling AE"))
        if self.move_aet is not None:
            object.__setattr__(self, "move_aet", check_ae_title(self.move_aet, "move AE"))
        if self.move_port is not None and not 1 <= self.move_port <= 65535:
            raise ValueError(f"move port {self.move_port} is not in 1..65535")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, not {self.timeout}")

    @property
    def endpoint(self) -> Endpoint:
        """The peer as the selections' endpoint (a DIMSE AE endpoint, as a Retrieve AE Title)."""
        return Endpoint(EndpointKind.DIMSE, ae_title=parse_peer(self.peer).ae_title)

    def _open(self, contexts: Sequence[tuple[str, Sequence[str]]], **kw: Any) -> Association:
        return open_association(
            parse_peer(self.peer), self.calling_aet, contexts, timeout=self.timeout, **kw
        )

    def echo(self) -> None:
        """C-ECHO the peer.

        Raises
        ------
        dicomsel.errors.PacsError
            When it cannot be reached, refuses the association or answers a failure.
        """
        assoc = self._open([(Verification, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])])
        try:
            status = assoc.send_c_echo()
            code = check_status(status, assoc, self.peer, "C-ECHO")
        finally:
            assoc.release()
        if code != SUCCESS:
            raise PacsError(
                f"C-ECHO failed: {status_text(code, VERIFICATION_SERVICE_CLASS_STATUS)}",
                path=self.peer,
            )

    def items(self) -> Iterator[Item]:
        """Every instance of the studies, series and instances the query matches.

        Studies and series sorted by UID, instances by Instance Number then UID,
        whatever order the peer answers in.

        Raises
        ------
        dicomsel.errors.PacsError
            When the peer cannot be reached or a C-FIND fails.
        """
        syntaxes = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
        assoc = self._open([(StudyRootQueryRetrieveInformationModelFind, syntaxes)])
        try:
            refs = list(self._instances(assoc))
        finally:
            assoc.release()
        for ref in refs:
            yield item_for(ref)

    def _instances(self, assoc: Association) -> Iterator[InstanceRef]:
        q = self.query
        studies = find(
            assoc, query_dataset("STUDY", q.at("STUDY"), {"StudyInstanceUID": ""}), self.peer
        )
        for study in sorted({text(a, "StudyInstanceUID") for a in studies} - {""}):
            fixed = {"StudyInstanceUID": study, "SeriesInstanceUID": ""}
            series = find(assoc, query_dataset("SERIES", q.at("SERIES"), fixed), self.peer)
            for uid in sorted({text(a, "SeriesInstanceUID") for a in series} - {""}):
                fixed = {
                    "StudyInstanceUID": study,
                    "SeriesInstanceUID": uid,
                    "SOPInstanceUID": "",
                    "SOPClassUID": "",
                    "InstanceNumber": "",
                }
                answers = find(assoc, query_dataset("IMAGE", q.at("IMAGE"), fixed), self.peer)
                found: dict[str, tuple[int | None, str]] = {}
                for a in answers:
                    sop = text(a, "SOPInstanceUID")
                    if sop:
                        found[sop] = (number(a, "InstanceNumber"), text(a, "SOPClassUID"))
                order = sorted(found, key=lambda u: (found[u][0] is None, found[u][0] or 0, u))
                for sop in order:
                    yield InstanceRef(self.peer, study, uid, sop, found[sop][1] or None)

    def read(self, item: Item, options: ReadOptions) -> ReadResult:
        """Retrieve one instance (C-GET, or C-MOVE with ``move_port``) and read it as a file.

        Raises
        ------
        dicomsel.errors.UnsupportedObjectError
            When no reader handles the instance's SOP class (nothing is retrieved).
        dicomsel.errors.PacsError
            When the retrieve fails: association, status, nothing received, timeout.
        dicomsel.errors.InvalidInputError
            When the instance received is malformed, as for a file.
        """
        ref = ref_of(item)
        if whole_instance(ref.sop_class_uid) is None:
            cls = ref.sop_class_uid
            name = f"{cls} ({UID(cls).name})" if cls else "unknown to the peer"
            raise UnsupportedObjectError(f"no reader for SOP class {name}", path=item.key)
        assert ref.sop_class_uid is not None
        data = self._get(ref, item.key) if self.move_port is None else self._move(ref, item.key)
        return with_endpoint(_read_bytes(data, item.key, options), self.endpoint)

    def _identifier(self, ref: InstanceRef) -> Dataset:
        ds = Dataset()
        ds.QueryRetrieveLevel = "IMAGE"
        ds.StudyInstanceUID = ref.study_instance_uid
        ds.SeriesInstanceUID = ref.series_instance_uid
        ds.SOPInstanceUID = ref.sop_instance_uid
        return ds

    def _get(self, ref: InstanceRef, what: str) -> bytes:
        cls = str(ref.sop_class_uid)
        received: list[bytes] = []

        def on_store(event: Any) -> int:
            if str(event.request.AffectedSOPInstanceUID) != ref.sop_instance_uid:
                return 0xC000
            received.append(event.encoded_dataset())
            return SUCCESS

        contexts: list[tuple[str, Sequence[str]]] = [
            (StudyRootQueryRetrieveInformationModelGet, [ExplicitVRLittleEndian])
        ]
        contexts += [(cls, [ts]) for ts in RETRIEVE_TRANSFER_SYNTAXES]
        assoc = self._open(
            contexts,
            ext_neg=[build_role(cls, scp_role=True)],
            handlers=[(evt.EVT_C_STORE, on_store)],
            what=what,
        )
        try:
            responses = assoc.send_c_get(
                self._identifier(ref), StudyRootQueryRetrieveInformationModelGet
            )
            self._final(assoc, responses, QR_GET_SERVICE_CLASS_STATUS, what, "C-GET", ref)
        finally:
            assoc.release()
        if not received:
            raise PacsError(
                f"C-GET of SOP Instance {ref.sop_instance_uid}: succeeded, but no instance arrived",
                path=what,
            )
        return received[0]

    def _move(self, ref: InstanceRef, what: str) -> bytes:
        assert self.move_port is not None
        aet = self.move_aet or self.calling_aet
        server = _move_server(self.move_port, aet)
        server.want(ref.sop_instance_uid)
        data = None
        try:
            syntaxes = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
            assoc = self._open([(StudyRootQueryRetrieveInformationModelMove, syntaxes)], what=what)
            try:
                responses = assoc.send_c_move(
                    self._identifier(ref), aet, StudyRootQueryRetrieveInformationModelMove
                )
                self._final(assoc, responses, QR_MOVE_SERVICE_CLASS_STATUS, what, "C-MOVE", ref)
            finally:
                assoc.release()
        finally:
            data = server.take(ref.sop_instance_uid)
        if data is None:
            raise PacsError(
                f"C-MOVE of SOP Instance {ref.sop_instance_uid} to {aet!r} on port "
                f"{self.move_port}: succeeded, but no instance arrived (does the peer know "
                f"{aet!r} at this host and port?)",
                path=what,
            )
        return data

    @staticmethod
    def _final(
        assoc: Association,
        responses: Iterator[tuple[Dataset, Dataset | None]],
        table: dict[int, tuple[str, str]],
        what: str,
        op: str,
        ref: InstanceRef,
    ) -> None:
        """Consume a C-GET/C-MOVE's responses; PacsError unless the final one is success."""
        code = None
        for status, answer in responses:
            code = check_status(status, assoc, what, op)
            if code in PENDING:
                continue
            if code != SUCCESS:
                failed = ""
                if answer is not None and "FailedSOPInstanceUIDList" in answer:
                    failed = f"; failed: {answer.FailedSOPInstanceUIDList}"
                counts = ", ".join(
                    f"{k[len('NumberOf') :]} {status.get(k)}"
                    for k in (
                        "NumberOfCompletedSuboperations",
                        "NumberOfFailedSuboperations",
                        "NumberOfWarningSuboperations",
                    )
                    if status.get(k) is not None
                )
                raise PacsError(
                    f"{op} of SOP Instance {ref.sop_instance_uid}: {status_text(code, table)}"
                    + (f" ({counts})" if counts else "")
                    + failed,
                    path=what,
                )
        if code is None:
            raise PacsError(f"{op} of SOP Instance {ref.sop_instance_uid}: no response", path=what)


def _read_bytes(data: bytes, key: str, options: ReadOptions) -> ReadResult:
    """Read a received Part 10 stream as :func:`dicomsel.read_file` reads the file."""
    return read_part10(data, key, lambda path: read_file(path, options))


def read_part10(data: bytes, key: str, reader: Callable[[str], ReadResult]) -> ReadResult:
    """Write a Part 10 stream to a temporary file, read it, and name ``key`` instead of it.

    Parameters
    ----------
    data : bytes
        Preamble, ``DICM``, file meta and dataset, as received.
    key : str
        What the result and errors name (the item key).
    reader : callable
        ``reader(path) -> ReadResult``.

    Returns
    -------
    dicomsel.dicom.ReadResult

    Raises
    ------
    dicomsel.errors.DicomselError
        As the reader raises, naming ``key``.
    """
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}dimse-{os.getpid()}-", suffix=".dcm")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            result = reader(tmp)
        except DicomselError as e:
            if e.path in (tmp, None):
                e.path = None
                e.reason = e.reason.replace(tmp, key)
                e.with_path(key)
            raise
    finally:
        os.unlink(tmp)
    result.issues = [
        i if i.path != tmp else type(i)(i.reason, i.severity, key, i.attribute, i.category)
        for i in result.issues
    ]
    return result
