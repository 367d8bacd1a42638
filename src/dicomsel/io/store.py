"""Back to the PACS: KOS documents sent by STOW-RS or C-STORE, and the PACS as a KOS context.

``dicomsel to-kos --store SOURCE`` sends the documents it writes to a DICOMweb
base (``http(s)://...``, STOW-RS with dicomweb-client) or a DIMSE peer
(``dimse://AET@HOST:PORT``, C-STORE with pynetdicom). ``--context SOURCE``
asks the PACS (QIDO-RS or C-FIND) for the patient and study attributes of the
studies the selections name, and the SOP class and series of each of their
instances: :func:`context_answers` gives them as one dataset per instance,
which :meth:`dicomsel.kos.Context.add_pacs_answers` takes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import requests
from dicomweb_client.api import DICOMwebClient
from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS, code_to_category

from dicomsel.errors import PacsError
from dicomsel.io.peer import (
    SUCCESS,
    StudyRootQueryRetrieveInformationModelFind,
    check_status,
    find,
    number,
    open_association,
    parse_peer,
    query_dataset,
    status_text,
    text,
)

__all__ = ["CONTEXT_KEYS", "context_answers", "is_pacs", "store"]

log = logging.getLogger("dicomsel")

#: the patient and study attributes the reverse path asks a PACS for (study level)
CONTEXT_KEYS: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDescription",
)


def is_pacs(source: str) -> bool:
    """Whether ``source`` names a PACS (``http(s)://`` or ``dimse://``) rather than a path."""
    return source.startswith(("http://", "https://", "dimse://"))


def _check(source: str) -> None:
    if not is_pacs(source):
        raise ValueError(f"{source!r}: not a PACS; give http(s)://BASE or dimse://AET@HOST:PORT")


def store(
    target: str,
    datasets: Sequence[Dataset],
    *,
    calling_aet: str = "DICOMSEL",
    timeout: float = 30.0,
) -> None:
    """Send DICOM datasets (with their file meta) to a PACS: STOW-RS or C-STORE.

    Parameters
    ----------
    target : str
        A DICOMweb base URL (``http(s)://HOST[:PORT]/PATH``) or ``dimse://AET@HOST:PORT``.
    datasets : sequence of pydicom.dataset.Dataset
        Each with ``file_meta`` (its Transfer Syntax UID says how it is sent).
    calling_aet : str
        This side's AE title (DIMSE).
    timeout : float
        Seconds for a connection and each request or message.

    Raises
    ------
    ValueError
        When ``target`` is neither kind of PACS, or a peer is malformed.
    dicomsel.errors.PacsError
        When the PACS cannot be reached or does not store every dataset.
    """
    _check(target)
    if not datasets:
        return
    if target.startswith("dimse://"):
        _c_store(target, datasets, calling_aet, timeout)
    else:
        _stow(target, datasets, timeout)


def _part10(ds: Dataset) -> Dataset:
    """``ds`` as a Part 10 file reads back (preamble, complete file meta).

    dicomweb-client encodes a dataset as it stands: one made in memory would go
    without preamble and File Meta Information Group Length.
    """
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    buffer.seek(0)
    return dcmread(buffer)


def _stow(url: str, datasets: Sequence[Dataset], timeout: float) -> None:
    session = requests.Session()
    try:
        client = DICOMwebClient(url=url, session=session, timeout=timeout)
        client.set_http_retry_params(retry=False)
        answer = client.store_instances(datasets=[_part10(ds) for ds in datasets])
    except requests.HTTPError as e:
        status = e.response.status_code if e.response is not None else None
        raise PacsError(f"STOW-RS failed: HTTP {status}: {e}", path=url) from e
    except requests.RequestException as e:
        raise PacsError(f"STOW-RS failed: {e}", path=url) from e
    finally:
        session.close()
    failed = answer.get("FailedSOPSequence") if answer is not None else None
    if failed:
        what = "; ".join(
            f"{text(i, 'ReferencedSOPInstanceUID')} (reason 0x{int(i.get('FailureReason', 0)):04X})"
            for i in failed
        )
        raise PacsError(f"STOW-RS: not stored: {what}", path=url)


def _c_store(target: str, datasets: Sequence[Dataset], calling_aet: str, timeout: float) -> None:
    peer = parse_peer(target)
    contexts: dict[str, list[str]] = {}
    for ds in datasets:
        syntaxes = contexts.setdefault(str(ds.SOPClassUID), [])
        ts = str(ds.file_meta.TransferSyntaxUID)
        if ts not in syntaxes:
            syntaxes.append(ts)
    for syntaxes in contexts.values():
        syntaxes += [
            t for t in (ExplicitVRLittleEndian, ImplicitVRLittleEndian) if t not in syntaxes
        ]
    assoc = open_association(peer, calling_aet, list(contexts.items()), timeout=timeout)
    try:
        for ds in datasets:
            uid = str(ds.SOPInstanceUID)
            status = assoc.send_c_store(ds)
            code = check_status(status, assoc, peer.url, f"C-STORE of SOP Instance {uid}")
            if code == SUCCESS:
                continue
            named = status_text(code, STORAGE_SERVICE_CLASS_STATUS)
            if code_to_category(code) == "Warning":
                log.warning("%s: C-STORE of SOP Instance %s: %s", peer.url, uid, named)
                continue
            raise PacsError(f"C-STORE of SOP Instance {uid}: {named}", path=peer.url)
    finally:
        assoc.release()


def context_answers(
    source: str,
    study_uids: Iterable[str],
    *,
    calling_aet: str = "DICOMSEL",
    timeout: float = 30.0,
) -> list[Dataset]:
    """Ask a PACS for what a KOS needs of each study: patient, study, and every instance.

    One dataset per instance (SOP Instance and Class UIDs, Study and Series
    Instance UIDs, and its study's patient and study attributes,
    :data:`CONTEXT_KEYS`), studies in the order given, instances by series UID,
    Instance Number and UID; a study without instances gives one dataset without
    a SOP Instance UID; a study the PACS does not hold, none.

    Parameters
    ----------
    source : str
        A DICOMweb base URL (QIDO-RS) or ``dimse://AET@HOST:PORT`` (C-FIND).
    study_uids : iterable of str
    calling_aet : str
    timeout : float

    Returns
    -------
    list of pydicom.dataset.Dataset

    Raises
    ------
    ValueError
        When ``source`` is neither kind of PACS.
    dicomsel.errors.PacsError
        When the PACS cannot be reached or a query fails.
    """
    _check(source)
    uids = list(dict.fromkeys(study_uids))
    if source.startswith("dimse://"):
        found = _find_context(source, uids, calling_aet, timeout)
    else:
        found = _qido_context(source, uids, timeout)
    out: list[Dataset] = []
    for study, instances in found:
        if not instances:
            out.append(study)
        for inst in sorted(instances, key=_order):
            ds = Dataset()
            ds.update(study)
            for keyword in ("SOPInstanceUID", "SOPClassUID", "SeriesInstanceUID"):
                setattr(ds, keyword, text(inst, keyword))
            n = number(inst, "InstanceNumber")
            if n is not None:
                ds.InstanceNumber = n
            out.append(ds)
    return out


def _order(ds: Dataset) -> tuple[str, bool, int, str]:
    n = number(ds, "InstanceNumber")
    return (text(ds, "SeriesInstanceUID"), n is None, n or 0, text(ds, "SOPInstanceUID"))


def _study_only(answer: Dataset, uid: str) -> Dataset:
    ds = Dataset()
    ds.StudyInstanceUID = uid
    for keyword in CONTEXT_KEYS:
        if keyword in answer:
            ds[keyword] = answer[keyword]
    return ds


def _find_context(
    source: str, uids: list[str], calling_aet: str, timeout: float
) -> list[tuple[Dataset, list[Dataset]]]:
    peer = parse_peer(source)
    syntaxes = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
    found: list[tuple[Dataset, list[Dataset]]] = []
    assoc = open_association(
        peer,
        calling_aet,
        [(StudyRootQueryRetrieveInformationModelFind, syntaxes)],
        timeout=timeout,
    )
    try:
        studies = []
        for uid in uids:
            keys = dict.fromkeys(CONTEXT_KEYS, "")
            answers = find(assoc, query_dataset("STUDY", {"StudyInstanceUID": uid}, keys), source)
            if answers:
                studies.append(_study_only(answers[0], uid))
        for study in studies:
            found.append((study, _find_instances(assoc, str(study.StudyInstanceUID), source)))
    finally:
        assoc.release()
    return found


def _find_instances(assoc: Any, study: str, source: str) -> list[Dataset]:
    """The instances of one study (C-FIND at SERIES, then IMAGE level), in series UID order."""
    fixed = {"StudyInstanceUID": study, "SeriesInstanceUID": ""}
    series = find(assoc, query_dataset("SERIES", {}, fixed), source)
    out: list[Dataset] = []
    for uid in sorted({text(a, "SeriesInstanceUID") for a in series} - {""}):
        fixed = {
            "StudyInstanceUID": study,
            "SeriesInstanceUID": uid,
            "SOPInstanceUID": "",
            "SOPClassUID": "",
            "InstanceNumber": "",
        }
        for a in find(assoc, query_dataset("IMAGE", {}, fixed), source):
            a.SeriesInstanceUID = uid
            out.append(a)
    return out


def _qido_context(url: str, uids: list[str], timeout: float) -> list[tuple[Dataset, list[Dataset]]]:
    session = requests.Session()
    found: list[tuple[Dataset, list[Dataset]]] = []
    try:
        client = DICOMwebClient(url=url, session=session, timeout=timeout)
        client.set_http_retry_params(retry=False)
        for uid in uids:
            studies = client.search_for_studies(
                search_filters={"StudyInstanceUID": uid}, fields=list(CONTEXT_KEYS)
            )
            if not studies:
                continue
            study = _study_only(Dataset.from_json(studies[0]), uid)
            answers = client.search_for_instances(
                study_instance_uid=uid,
                fields=["SOPClassUID", "SeriesInstanceUID", "InstanceNumber"],
                get_remaining=True,
            )
            found.append((study, [Dataset.from_json(a) for a in answers]))
    except requests.HTTPError as e:
        status = e.response.status_code if e.response is not None else None
        raise PacsError(f"QIDO-RS failed: HTTP {status}: {e}", path=url) from e
    except requests.RequestException as e:
        raise PacsError(f"QIDO-RS failed: {e}", path=url) from e
    finally:
        session.close()
    return found
