"""DIMSE peers: their address, AE titles, associations and statuses (pynetdicom).

What the DIMSE source (:mod:`dicomsel.io.dimse`) and the sending of KOS
documents back to a PACS (:mod:`dicomsel.io.store`) share: ``dimse://AET@HOST:PORT``
parsed and checked, an association opened or a :class:`~dicomsel.errors.PacsError`
saying why there is none, C-FIND answers collected, statuses named.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import UID
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.status import QR_FIND_SERVICE_CLASS_STATUS

from dicomsel.errors import PacsError

__all__ = [
    "PENDING",
    "SUCCESS",
    "Peer",
    "check_ae_title",
    "check_status",
    "find",
    "number",
    "open_association",
    "parse_peer",
    "query_dataset",
    "status_text",
    "text",
]

logging.getLogger("pynetdicom").setLevel(logging.WARNING)

_PEER = re.compile(r"^dimse://(?P<aet>[^@]*)@(?P<host>\[[^\]]+\]|[^:/@\[\]]+):(?P<port>[0-9]+)/?$")

# the service classes (PS3.4; pynetdicom.sop_class defines them at run time, unseen by mypy)
Verification = UID("1.2.840.10008.1.1")
StudyRootQueryRetrieveInformationModelFind = UID("1.2.840.10008.5.1.4.1.2.2.1")
StudyRootQueryRetrieveInformationModelMove = UID("1.2.840.10008.5.1.4.1.2.2.2")
StudyRootQueryRetrieveInformationModelGet = UID("1.2.840.10008.5.1.4.1.2.2.3")

#: DIMSE status Success
SUCCESS = 0x0000
#: DIMSE statuses Pending
PENDING = (0xFF00, 0xFF01)


def check_ae_title(value: str, what: str) -> str:
    """An AE title as PS3.5 allows it (1 to 16 characters of the default repertoire, no ``\\``).

    Parameters
    ----------
    value : str
    what : str
        What it is, for the message (``"called AE title"``).

    Returns
    -------
    str
        The title without leading and trailing spaces (they are not significant).

    Raises
    ------
    ValueError
        When it is empty, longer than 16 characters, or holds a backslash or a
        character outside printable ASCII.
    """
    title = value.strip(" ")
    if not title:
        raise ValueError(f"{what} {value!r}: empty")
    if len(value) > 16:
        raise ValueError(f"{what} {value!r}: longer than 16 characters")
    if "\\" in title or not all(" " <= c <= "~" for c in title):
        raise ValueError(f"{what} {value!r}: only printable ASCII without '\\' is allowed")
    return title


@dataclass(frozen=True, slots=True)
class Peer:
    """A DIMSE peer: its AE title, host and port."""

    ae_title: str
    host: str
    port: int

    @property
    def url(self) -> str:
        """The peer as ``dimse://AET@HOST:PORT``."""
        return f"dimse://{self.ae_title}@{self.host}:{self.port}"


def parse_peer(peer: str) -> Peer:
    """Parse ``dimse://CALLED_AET@HOST:PORT``.

    Parameters
    ----------
    peer : str

    Returns
    -------
    Peer

    Raises
    ------
    ValueError
        When it is not of that form, the AE title breaks PS3.5's rules or the
        port is not in 1..65535.
    """
    m = _PEER.match(peer)
    if m is None:
        raise ValueError(f"{peer!r}: not a DIMSE peer; write dimse://CALLED_AET@HOST:PORT")
    title = check_ae_title(m["aet"], f"{peer!r}: called AE title")
    port = int(m["port"])
    if not 1 <= port <= 65535:
        raise ValueError(f"{peer!r}: port {port} is not in 1..65535")
    return Peer(title, m["host"].strip("[]"), port)


def status_text(code: int, table: dict[int, tuple[str, str]] | None = None) -> str:
    """A DIMSE status as ``0xA700 (Failure: Refused: Out of resources)``.

    Parameters
    ----------
    code : int
    table : dict or None
        The service's status table (pynetdicom's), else the general one.

    Returns
    -------
    str
    """
    from pynetdicom.status import GENERAL_STATUS, code_to_category

    known = (table or {}).get(code) or GENERAL_STATUS.get(code)
    if known is not None:
        return f"0x{code:04X} ({known[0]}: {known[1]})"
    return f"0x{code:04X} ({code_to_category(code)})"


# ---- associations -------------------------------------------------------------------------


def _ae(calling_aet: str, timeout: float) -> AE:
    ae = AE(ae_title=calling_aet)
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    ae.connection_timeout = timeout
    return ae


def open_association(
    peer: Peer,
    calling_aet: str,
    contexts: Sequence[tuple[str, Sequence[str]]],
    *,
    timeout: float,
    ext_neg: list[Any] | None = None,
    handlers: list[Any] | None = None,
    what: str | None = None,
) -> Association:
    """Open an association, or raise a PacsError saying why there is none.

    Parameters
    ----------
    peer : Peer
    calling_aet : str
    contexts : sequence of (abstract syntax, transfer syntaxes)
        One requested presentation context each.
    timeout : float
        Seconds for the connection, the ACSE and each DIMSE message.
    ext_neg : list or None
        Extended negotiation items (SCP/SCU role selection).
    handlers : list or None
        pynetdicom event handlers bound to the association.
    what : str or None
        What the association is for, named in the error (an item key).

    Returns
    -------
    pynetdicom.association.Association
        Established.

    Raises
    ------
    dicomsel.errors.PacsError
        When the peer cannot be reached, rejects or aborts the association.
    """
    ae = _ae(calling_aet, timeout)
    for abstract, syntaxes in contexts:
        ae.add_requested_context(abstract, list(syntaxes))
    answer: list[Any] = []
    connected: list[bool] = []

    def on_open(event: Any) -> None:
        connected.append(True)

    def on_acse(event: Any) -> None:
        prim = getattr(event, "primitive", None)
        if prim is not None and getattr(prim, "result", None) in (0x01, 0x02):
            answer.append(prim)

    bound = [*(handlers or []), (evt.EVT_ACSE_RECV, on_acse), (evt.EVT_CONN_OPEN, on_open)]
    try:
        assoc = ae.associate(
            peer.host, peer.port, ae_title=peer.ae_title, ext_neg=ext_neg, evt_handlers=bound
        )
    except (OSError, RuntimeError, ValueError) as e:
        raise PacsError(f"cannot open an association: {e}", path=what or peer.url) from e
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        why = ""
        if answer:
            p = answer[0]
            why = f": {p.result_str}, source {p.source_str}, reason {p.reason_str}"
        raise PacsError(
            f"association rejected (calling AE {calling_aet!r}, called AE {peer.ae_title!r}){why}",
            path=what or peer.url,
        )
    if assoc.is_aborted and connected:
        raise PacsError("association aborted by the peer", path=what or peer.url)
    raise PacsError(
        f"no association: nothing answered at {peer.host}:{peer.port} in {timeout:g} s "
        "(connection refused, unreachable or timed out)",
        path=what or peer.url,
    )


def check_status(status: Dataset, assoc: Association, what: str, op: str) -> int:
    """The status code of a DIMSE response.

    Parameters
    ----------
    status : pydicom.dataset.Dataset
        The status pynetdicom returned (empty when no response came).
    assoc : pynetdicom.association.Association
    what : str
        The peer or item, named in the error.
    op : str
        The service (``C-FIND``), named in the error.

    Returns
    -------
    int

    Raises
    ------
    dicomsel.errors.PacsError
        When there was no response: the association ended, or a timeout.
    """
    if status and "Status" in status:
        return int(status.Status)
    deadline = time.monotonic() + 2.0
    while assoc.is_alive() and not assoc.is_aborted and time.monotonic() < deadline:
        time.sleep(0.02)  # an A-ABORT is seen a moment after the empty response it causes
    if assoc.is_aborted or not assoc.is_established:
        why = (
            f"the peer ended the association without answering (does it accept {op} from "
            f"calling AE {assoc.requestor.ae_title!r}?)"
        )
    else:
        why = f"no response in {assoc.dimse_timeout} s (timed out or invalid)"
    raise PacsError(f"{op}: {why}", path=what)


def find(
    assoc: Association, identifier: Dataset, what: str, *, service: str = "C-FIND"
) -> list[Dataset]:
    """Send one C-FIND (Study Root); every pending answer, or PacsError on a failure status.

    Parameters
    ----------
    assoc : pynetdicom.association.Association
        Established, with the Study Root FIND context.
    identifier : pydicom.dataset.Dataset
        The query (its Query/Retrieve Level and keys).
    what : str
        The peer (or item), named in errors.
    service : str
        The name in messages.

    Returns
    -------
    list of pydicom.dataset.Dataset

    Raises
    ------
    dicomsel.errors.PacsError
    """
    found: list[Dataset] = []
    for status, answer in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
        code = check_status(status, assoc, what, service)
        if code in PENDING:
            if answer is not None:
                found.append(answer)
        elif code != SUCCESS:
            level = identifier.get("QueryRetrieveLevel", "")
            raise PacsError(
                f"{service} at {level} level failed: "
                f"{status_text(code, QR_FIND_SERVICE_CLASS_STATUS)}",
                path=what,
            )
    return found


def text(ds: Dataset, keyword: str) -> str:
    """An answer's attribute as stripped text ("" when absent or empty)."""
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def number(ds: Dataset, keyword: str) -> int | None:
    """An answer's integer attribute, None when absent or not a number."""
    try:
        return int(str(ds.get(keyword, "")).strip())
    except ValueError:
        return None


def query_dataset(level: str, keys: dict[str, str], fixed: dict[str, str]) -> Dataset:
    """A C-FIND identifier: Query/Retrieve Level, the fixed keys, then the query's (which win).

    Parameters
    ----------
    level : str
        ``STUDY``, ``SERIES`` or ``IMAGE``.
    keys : dict
        The query's matching keys, by keyword.
    fixed : dict
        Keys the caller sets (unique keys, return keys), by keyword.

    Returns
    -------
    pydicom.dataset.Dataset
    """
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in {**fixed, **keys}.items():
        setattr(ds, keyword, value)
    return ds
