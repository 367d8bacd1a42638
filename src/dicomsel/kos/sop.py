"""The modules of the Key Object Selection Document IOD (PS3.3 A.35.4) but its content tree.

Patient, General Study, Key Object Document Series, General Equipment, Key
Object Document (Content Date/Time, Referenced Request Sequence, Current
Requested Procedure Evidence Sequence with the retrieve locations), SOP Common
and the file meta information. Type 1 values that no source gives are errors;
a Type 2 value that is not valid for its VR is left empty and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.metadata import PackageNotFoundError, version

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian

from dicomsel.errors import InvalidInputError
from dicomsel.fhir.vocabulary import CONNECTION_TYPES
from dicomsel.kos.context import PatientData, StudyData
from dicomsel.kos.plan import (
    Document,
    Ref,
    Report,
    describe,
    issued,
    request_kind,
    selected_uids,
)
from dicomsel.kos.values import Instant, is_valid_value, parse_instant
from dicomsel.model import Endpoint, EndpointKind, Identifier, Selection

__all__ = [
    "KOS_SOP_CLASS_UID",
    "content_datetime",
    "equipment_module",
    "file_meta",
    "key_object_document_module",
    "patient_module",
    "series_module",
    "sop_common_module",
    "study_module",
]

#: Key Object Selection Document Storage
KOS_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.88.59"

_STRING_VRS = frozenset({"PN", "LO", "SH", "ST", "LT", "UT", "UC"})


def content_datetime(
    sels: Sequence[Selection], where: str, default: str | None, report: Report
) -> Instant:
    """Content Date/Time and zone: the latest ``issued``, else ``default``, else an error.

    Parameters
    ----------
    sels : sequence of Selection
        The selections of one document.
    where : str
        The document, for messages.
    default : str or None
        A FHIR instant (``--content-datetime``).
    report : Report

    Returns
    -------
    Instant

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When no selection was issued and there is no ``default``, or an
        instant is not valid.
    """
    parsed = [p for p in (issued(sel) for sel in sels) if p is not None]
    if parsed:
        latest = max(parsed, key=lambda p: p[0])
        if len({p[0] for p in parsed}) > 1:
            report.note(
                f"{where}: the selections were issued at different times; "
                "Content Date/Time is the latest"
            )
        return latest
    if default is None:
        raise InvalidInputError(
            "no selection has issued, and Content Date/Time (Type 1) needs a real value: "
            "give --content-datetime 2024-01-02T10:15:00+01:00 (or now, for the clock)",
            attribute=f"{where}: ContentDate (0008,0023)",
        )
    report.note(f"{where}: Content Date/Time from --content-datetime")
    return parse_instant(default, "--content-datetime")


def _set(ds: Dataset, keyword: str, vr: str, value: str, source: str, report: Report) -> str:
    """Set a Type 2 attribute from a context value, left empty (reported) when invalid."""
    if value and not is_valid_value(vr, value):
        report.lossy(f"{keyword} {value!r} from {source} is not a valid {vr} value: left empty")
        value = ""
    setattr(ds, keyword, value)
    return value


def patient_module(ds: Dataset, p: PatientData, report: Report) -> None:
    """Set the Patient module: name, ID (and its issuer), birth date, sex.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    p : PatientData
    report : Report

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the Patient ID is not a valid LO value.
    """
    if not is_valid_value("LO", p.patient_id):
        raise InvalidInputError(
            f"Patient ID {p.patient_id!r} from {p.source} is not a valid LO value",
            attribute="PatientID (0010,0020)",
        )
    _set(ds, "PatientName", "PN", p.name, p.source, report)
    ds.PatientID = p.patient_id
    if p.issuer:
        if is_valid_value("LO", p.issuer):
            ds.IssuerOfPatientID = p.issuer
        else:
            report.lossy(
                f"Issuer of Patient ID {p.issuer!r} from {p.source} is not a valid LO "
                "value: left out"
            )
    _set(ds, "PatientBirthDate", "DA", p.birth_date, p.source, report)
    sex = p.sex if p.sex in ("M", "F", "O") else ""
    if p.sex and not sex:
        report.lossy(f"Patient's Sex {p.sex!r} from {p.source} is not M, F or O: left empty")
    ds.PatientSex = sex
    empty = [
        n
        for n, v in (("Patient's Name", ds.PatientName), ("Birth Date", ds.PatientBirthDate))
        if not str(v)
    ]
    if empty:
        report.note(f"patient {p.patient_id!r}: {', '.join(empty)} empty in {p.source}")


def study_module(
    ds: Dataset,
    study_uid: str,
    study: StudyData | None,
    sels: Sequence[Selection],
    report: Report,
) -> str:
    """Set the General Study module of the KOS (the first referenced study).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    study_uid : str
        The Study Instance UID.
    study : StudyData or None
        What a context file says of it; None: Type 2 attributes left empty, the
        accession number from the study's own selections when they name one.
    sels : sequence of Selection
        The selections of the document.
    report : Report

    Returns
    -------
    str
        The Accession Number set (empty when none).
    """
    ds.StudyInstanceUID = study_uid
    if study is None:
        report.note(
            f"study {study_uid}: no context file of this study: Study Date, Time, ID and "
            "Referring Physician's Name left empty (Type 2); give --context with one of "
            "its files to fill them"
        )
        for kw in ("StudyDate", "StudyTime", "StudyID", "ReferringPhysicianName"):
            setattr(ds, kw, "")
        accession = ""
        # the accession number of the study's own selections, when they name exactly one
        acsn = {
            r.identifier.value: r.identifier
            for s in sels
            if s.study_instance_uid == study_uid
            for r in s.based_on
            if r.identifier is not None and request_kind(r.identifier) == "ACSN"
        }
        if len(acsn) == 1:
            ident = next(iter(acsn.values()))
            accession = _set(ds, "AccessionNumber", "SH", ident.value, "basedOn", report)
            if accession:
                issuer = _accession_issuer(ident)
                if issuer is not None:
                    ds.IssuerOfAccessionNumberSequence = DicomSequence([issuer])
        else:
            ds.AccessionNumber = ""
        return accession
    src = study.source
    _set(ds, "StudyDate", "DA", study.study_date, src, report)
    _set(ds, "StudyTime", "TM", study.study_time, src, report)
    _set(ds, "StudyID", "SH", study.study_id, src, report)
    _set(ds, "ReferringPhysicianName", "PN", study.referring_physician_name, src, report)
    accession = _set(ds, "AccessionNumber", "SH", study.accession_number, src, report)
    if accession and study.accession_issuer is not None:
        local, universal, kind = study.accession_issuer
        item = Dataset()
        if local and is_valid_value("UT", local):
            item.LocalNamespaceEntityID = local
        if universal and kind and is_valid_value("UT", universal) and is_valid_value("CS", kind):
            item.UniversalEntityID = universal
            item.UniversalEntityIDType = kind
        if len(item):
            ds.IssuerOfAccessionNumberSequence = DicomSequence([item])
    if study.study_description and is_valid_value("LO", study.study_description):
        ds.StudyDescription = study.study_description
    return accession


def series_module(ds: Dataset, series_uid: str, series_number: int) -> None:
    """Set the Key Object Document Series module (Modality KO).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    series_uid : str
        The new Series Instance UID.
    series_number : int
    """
    ds.Modality = "KO"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.ReferencedPerformedProcedureStepSequence = DicomSequence()


@cache
def _software_version() -> str:
    try:
        return version("dicomsel")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def equipment_module(ds: Dataset) -> None:
    """Set the General Equipment module: dicomsel, its version.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    """
    ds.Manufacturer = "dicomsel"
    ds.ManufacturerModelName = "dicomsel"
    ds.SoftwareVersions = _software_version()


def key_object_document_module(
    ds: Dataset,
    doc: Document,
    when: Instant,
    instance_number: int,
    study_uid: str,
    accession: str,
    report: Report,
) -> None:
    """Set the Key Object Document module but its content: number, date, requests, evidence.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The KOS being built.
    doc : Document
    when : Instant
        Content Date/Time.
    instance_number : int
    study_uid : str
        The KOS's own study (its General Study module).
    accession : str
        The KOS's own Accession Number (not repeated as a request of that study).
    report : Report
    """
    ds.InstanceNumber = instance_number
    _, ds.ContentDate, ds.ContentTime, _ = when
    requests = _requests(doc, study_uid, accession, report)
    if requests:
        ds.ReferencedRequestSequence = DicomSequence(requests)
    ds.CurrentRequestedProcedureEvidenceSequence = _evidence(doc, report)


def sop_common_module(ds: Dataset, sop_instance_uid: str, when: Instant) -> None:
    """Set the SOP Common module: class, instance, zone, and the character set the text needs.

    Call it last: Specific Character Set is chosen from every text value set.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    sop_instance_uid : str
    when : Instant
        Content Date/Time, whose zone is Timezone Offset From UTC.
    """
    ds.SOPClassUID = KOS_SOP_CLASS_UID
    ds.SOPInstanceUID = sop_instance_uid
    ds.TimezoneOffsetFromUTC = when[3]
    charset = _character_set(ds)
    if charset:
        ds.SpecificCharacterSet = charset


def file_meta(ds: Dataset) -> None:
    """Set the file meta information: a KOS in Explicit VR Little Endian.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The KOS, its SOP Instance UID set.
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(KOS_SOP_CLASS_UID)
    meta.MediaStorageSOPInstanceUID = UID(str(ds.SOPInstanceUID))
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta


def _requests(doc: Document, first_study: str, accession: str, report: Report) -> list[Dataset]:
    """Referenced Request Sequence: one item per (study, request) the selections are based on.

    A request goes with the study of each selection based on it; the KOS's
    own accession number in its own study is not repeated.
    """
    items: list[Dataset] = []
    seen: set[tuple[str, str, str]] = set()
    for sel in doc.selections:
        if not sel.based_on:
            continue
        if sel.study_instance_uid:
            studies = [sel.study_instance_uid]
        else:
            uids = selected_uids(sel)
            studies = sorted({r.study for r in doc.refs.values() if r.uid in uids})
        for ref in sel.based_on:
            ident = ref.identifier
            kind = request_kind(ident)
            if ident is None or kind is None:
                report.lossy(
                    f"{sel.key}: basedOn {describe(ref)} is neither an accession number "
                    "nor a placer / filler order number: left out"
                )
                continue
            for study in studies:
                k = (study, kind, ident.value)
                if k in seen:
                    continue
                seen.add(k)
                if kind == "ACSN" and study == first_study and ident.value == accession:
                    continue
                item = _request(study, ident, kind, sel.key, report)
                if item is not None:
                    items.append(item)
    return items


def _request(
    study: str, ident: Identifier, kind: str, where: str, report: Report
) -> Dataset | None:
    vr = "SH" if kind == "ACSN" else "LO"
    if not is_valid_value(vr, ident.value):
        report.lossy(f"{where}: basedOn {kind} {ident.value!r} is not a valid {vr} value: left out")
        return None
    item = Dataset()
    item.StudyInstanceUID = study
    item.ReferencedStudySequence = DicomSequence()
    item.AccessionNumber = ident.value if kind == "ACSN" else ""
    if kind == "ACSN":
        issuer = _accession_issuer(ident)
        if issuer is not None:
            item.IssuerOfAccessionNumberSequence = DicomSequence([issuer])
    item.PlacerOrderNumberImagingServiceRequest = ident.value if kind == "PLAC" else ""
    item.FillerOrderNumberImagingServiceRequest = ident.value if kind == "FILL" else ""
    item.RequestedProcedureID = ""
    item.RequestedProcedureDescription = ""
    item.RequestedProcedureCodeSequence = DicomSequence()
    return item


def _accession_issuer(ident: Identifier) -> Dataset | None:
    """Issuer of Accession Number Sequence from an identifier's ``urn:oid:`` system / assigner."""
    item = Dataset()
    if ident.assigner and is_valid_value("UT", ident.assigner):
        item.LocalNamespaceEntityID = ident.assigner
    if ident.system and ident.system.startswith("urn:oid:"):
        item.UniversalEntityID = ident.system.removeprefix("urn:oid:")
        item.UniversalEntityIDType = "ISO"
    return item if len(item) else None


def _evidence(doc: Document, report: Report) -> DicomSequence:
    """Current Requested Procedure Evidence Sequence: study > series > instances."""
    tree: dict[str, dict[str, list[Ref]]] = {}
    for ref in doc.refs.values():
        tree.setdefault(ref.study, {}).setdefault(ref.series, []).append(ref)
    endpoints: dict[tuple[str, str], list[Endpoint]] = {}
    for sel in doc.selections:
        if not sel.endpoints:
            continue
        uids = selected_uids(sel)
        keys = sorted({(r.study, r.series) for r in doc.refs.values() if r.uid in uids})
        if sel.study_instance_uid and sel.series_instance_uid:
            keys = [(sel.study_instance_uid, sel.series_instance_uid)]
        for key in keys:
            known = endpoints.setdefault(key, [])
            known.extend(e for e in sel.endpoints if e not in known)
    studies = []
    for study_uid, series in tree.items():
        series_items = []
        for series_uid, refs in series.items():
            item = Dataset()
            _retrieve(item, endpoints.get((study_uid, series_uid), []), series_uid, report)
            sops = []
            for ref in refs:
                sop = Dataset()
                sop.ReferencedSOPClassUID = ref.sop_class_uid
                sop.ReferencedSOPInstanceUID = ref.uid
                sops.append(sop)
            item.ReferencedSOPSequence = DicomSequence(sops)
            item.SeriesInstanceUID = series_uid
            series_items.append(item)
        study_item = Dataset()
        study_item.ReferencedSeriesSequence = DicomSequence(series_items)
        study_item.StudyInstanceUID = study_uid
        studies.append(study_item)
    return DicomSequence(studies)


def _retrieve(item: Dataset, endpoints: list[Endpoint], series_uid: str, report: Report) -> None:
    """Retrieve AE Title, Retrieve Location UID and Retrieve URL of one evidence series."""
    where = f"series {series_uid}"
    titles: list[str] = []
    locations: list[str] = []
    urls: list[str] = []
    for ep in endpoints:
        if ep.ae_title:
            if is_valid_value("AE", ep.ae_title):
                if ep.ae_title not in titles:
                    titles.append(ep.ae_title)
            else:
                report.lossy(
                    f"{where}: endpoint AE title {ep.ae_title!r} is not a valid AE value: left out"
                )
        if ep.location_uid and ep.location_uid not in locations:
            locations.append(ep.location_uid)
        if ep.address and ep.kind in (EndpointKind.DICOMWEB, EndpointKind.WADO_URI):
            if is_valid_value("UR", ep.address):
                if ep.address not in urls:
                    urls.append(ep.address)
            else:
                report.lossy(
                    f"{where}: endpoint address {ep.address!r} is not a valid UR value: left out"
                )
        elif ep.address:
            report.lossy(
                f"{where}: endpoint {CONNECTION_TYPES[ep.kind]} {ep.address!r} is neither a "
                "DICOMweb nor a "
                "DIMSE location: left out"
            )
    if titles:
        item.RetrieveAETitle = titles if len(titles) > 1 else titles[0]
    if locations:
        item.RetrieveLocationUID = locations[0]
        if len(locations) > 1:
            report.lossy(
                f"{where}: a KOS series holds one Retrieve Location UID: {locations[1:]} left out"
            )
    if urls:
        item.RetrieveURL = urls[0]
        if len(urls) > 1:
            report.lossy(f"{where}: a KOS series holds one Retrieve URL: {urls[1:]} left out")


def _character_set(ds: Dataset) -> str | None:
    """Specific Character Set for the text values: none for ASCII, Latin-1 when it fits, UTF-8.

    Latin-1 (ISO_IR 100) is the widest single-byte set older software reads; UTF-8
    (ISO_IR 192) carries everything else.
    """
    texts: list[str] = []
    for elem in ds.iterall():
        if elem.VR in _STRING_VRS and elem.value is not None:
            values = elem.value if isinstance(elem.value, list) else [elem.value]
            texts.extend(str(v) for v in values)
    if all(t.isascii() for t in texts):
        return None
    try:
        for t in texts:
            t.encode("latin-1")
    except UnicodeEncodeError:
        return "ISO_IR 192"
    return "ISO_IR 100"
