"""Evidence sequences (SR Document General module) and their retrieve locations.

Current Requested Procedure Evidence and Pertinent Other Evidence list, per
study and series, the instances a document references; they give each
instance its study and series, and the series their retrieve locations. The
KOS and SR readers read them here, with one rule for an instance listed in
two series: a warning, and the first listing is kept. The items are read with
the accessors of :mod:`dicomsel.dicom.items`: split from the raw bytes one at a
time when they can be, else pydicom datasets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.items import Item, get_text, iter_seq
from dicomsel.dicom.scanner import RawItem
from dicomsel.dicom.values import attr_name
from dicomsel.errors import InvalidInputError
from dicomsel.model import Endpoint, EndpointKind

__all__ = [
    "CURRENT",
    "OTHER",
    "Evidence",
    "EvidenceSequence",
    "Listed",
    "read_evidence",
    "retrieve_endpoints",
]


@dataclass(frozen=True, slots=True)
class EvidenceSequence:
    """One evidence sequence: its tag, keyword and what its instances are (``kind``)."""

    tag: int
    keyword: str
    kind: str


#: Current Requested Procedure Evidence Sequence
CURRENT = EvidenceSequence(
    tags.CurrentRequestedProcedureEvidenceSequence,
    "CurrentRequestedProcedureEvidenceSequence",
    "current",
)
#: Pertinent Other Evidence Sequence
OTHER = EvidenceSequence(
    tags.PertinentOtherEvidenceSequence, "PertinentOtherEvidenceSequence", "other"
)


@dataclass(frozen=True, slots=True)
class Listed:
    """Where the evidence puts one instance."""

    study: str
    series: str
    sop_class: str | None
    kind: str  #: the sequence's kind: current | other


@dataclass(slots=True)
class Evidence:
    """The evidence of a document.

    Attributes
    ----------
    where : dict
        SOP Instance UID -> :class:`Listed`.
    endpoints : dict
        (study, series) -> the series' retrieve endpoints (of the series item and
        of its instances), for every series listed.
    order : list of str
        The instances in document order.
    """

    where: dict[str, Listed] = field(default_factory=dict)
    endpoints: dict[tuple[str, str], list[Endpoint]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


def read_evidence(
    ds: Dataset,
    ctx: ReadContext,
    sequences: tuple[EvidenceSequence, ...] = (CURRENT,),
    *,
    tolerant: bool = False,
) -> Evidence:
    """Read the evidence sequences of a document.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
    ctx : ReadContext
    sequences : tuple of EvidenceSequence
        The sequences to read, in order.
    tolerant : bool
        Report an invalid study, series or instance UID and leave that entry
        out, instead of raising.

    Returns
    -------
    Evidence

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When a UID is invalid (unless ``tolerant``) or a retrieve location UID is.
    """
    ev = Evidence()
    a_instance = attr_name("ReferencedSOPInstanceUID")
    a_class = attr_name("ReferencedSOPClassUID")
    for seq in sequences:
        attr = attr_name(seq.keyword)
        for study_item in iter_seq(ds, seq.tag):
            study = _uid(
                study_item,
                tags.StudyInstanceUID,
                f"{attr} > StudyInstanceUID",
                ctx,
                tolerant,
                "that study's evidence left out",
            )
            if study is None:
                continue
            for series_item in iter_seq(study_item, tags.ReferencedSeriesSequence):
                series = _uid(
                    series_item,
                    tags.SeriesInstanceUID,
                    f"{attr} > SeriesInstanceUID",
                    ctx,
                    tolerant,
                    "that series' evidence left out",
                )
                if series is None:
                    continue
                eps = ev.endpoints.setdefault((study, series), [])
                _add_endpoints(eps, series_item, ctx)
                for sop in iter_seq(series_item, tags.ReferencedSOPSequence):
                    try:
                        uid = ctx.uid(
                            get_text(sop, tags.ReferencedSOPInstanceUID), f"{attr} > {a_instance}"
                        )
                        cls_raw = get_text(sop, tags.ReferencedSOPClassUID)
                        cls = ctx.uid(cls_raw, f"{attr} > {a_class}") if cls_raw else None
                    except InvalidInputError as e:
                        if not tolerant:
                            raise
                        _add_endpoints(eps, sop, ctx)
                        ctx.warn(f"{e}: left out of the evidence")
                        continue
                    _add_endpoints(eps, sop, ctx)
                    prior = ev.where.get(uid)
                    if prior is not None:
                        if (prior.study, prior.series) != (study, series):
                            ctx.warn(
                                f"{attr}: instance {uid} is listed in series {prior.series} and "
                                f"{series}: the first is kept"
                            )
                        continue
                    ev.where[uid] = Listed(study, series, cls, seq.kind)
                    ev.order.append(uid)
    return ev


def _uid(
    item: Item, tag: int, where: str, ctx: ReadContext, tolerant: bool, dropped: str
) -> str | None:
    """The UID of ``item`` at ``tag``; None (reported) when it is invalid and ``tolerant``."""
    try:
        return ctx.uid(get_text(item, tag), where)
    except InvalidInputError as e:
        if not tolerant:
            raise
        ctx.warn(f"{e}: {dropped}")
        return None


def _add_endpoints(eps: list[Endpoint], item: Item, ctx: ReadContext) -> None:
    for ep in retrieve_endpoints(item, ctx):
        if ep not in eps:
            eps.append(ep)


_RETRIEVE_TAGS = frozenset({tags.RetrieveAETitle, tags.RetrieveURL, tags.RetrieveLocationUID})


def retrieve_endpoints(item: Item, ctx: ReadContext) -> list[Endpoint]:
    """Retrieve AE Title (+ Retrieve Location UID) and Retrieve URL of an evidence item.

    An AE title and a location UID name one DIMSE location and make one
    endpoint; a Retrieve URL is a DICOMweb (or WADO-URI) endpoint of its own.

    Parameters
    ----------
    item : pydicom.dataset.Dataset or dicomsel.dicom.scanner.RawItem
        A series or instance item of an evidence sequence.
    ctx : ReadContext

    Returns
    -------
    list of Endpoint

    Raises
    ------
    dicomsel.errors.InvalidUIDError
        When the Retrieve Location UID is invalid.
    """
    out: list[Endpoint] = []
    keys = item.elements.keys() if item.__class__ is RawItem else item.keys()  # type: ignore[union-attr]
    if _RETRIEVE_TAGS.isdisjoint(keys):
        return out  # the common case, checked without keyword lookups
    loc_raw = get_text(item, tags.RetrieveLocationUID)
    loc = ctx.uid(loc_raw, attr_name("RetrieveLocationUID")) if loc_raw else None
    ae = get_text(item, tags.RetrieveAETitle)  # multi-valued: joined with backslashes
    titles = [t.strip() for t in (ae or "").split("\\") if t.strip()]
    for t in titles:
        out.append(Endpoint(kind=EndpointKind.DIMSE, ae_title=t, location_uid=loc))
    if loc and not titles:
        out.append(Endpoint(kind=EndpointKind.DIMSE, location_uid=loc))
    url = get_text(item, tags.RetrieveURL) or ""
    if url:
        wado_uri = "requesttype=wado" in url.lower()
        kind = EndpointKind.WADO_URI if wado_uri else EndpointKind.DICOMWEB
        out.append(Endpoint(kind=kind, address=url))
    return out
