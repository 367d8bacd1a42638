"""Reading one SR document: header, evidence, content tree, selections, observations."""

from __future__ import annotations

from pydicom.dataset import Dataset

from dicomsel.dicom import tags
from dicomsel.dicom.context import ReadContext, ReadResult
from dicomsel.dicom.evidence import CURRENT, OTHER, read_evidence
from dicomsel.dicom.items import has_items
from dicomsel.dicom.schemes import declared_schemes
from dicomsel.dicom.sr.header import describe, document_header
from dicomsel.dicom.sr.measurements import Measurements
from dicomsel.dicom.sr.selections import Selections
from dicomsel.dicom.sr.tree import Tree
from dicomsel.dicom.values import attr_name

__all__ = ["read_sr"]


def read_sr(ds: Dataset, ctx: ReadContext) -> ReadResult:
    """Read a Structured Report into selections and observations.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The SR document, header read with :func:`dicomsel.dicom.load`.
    ctx : dicomsel.dicom.context.ReadContext
        The file path, options and the warning list.

    Returns
    -------
    dicomsel.dicom.context.ReadResult
        ``selections`` (keys ``sr|...``) and ``observations`` whose
        ``derived_from`` name those selections.

    Raises
    ------
    dicomsel.errors.InvalidInputError
        When the document's own SOP Instance or Class UID is missing or
        invalid. Anything wrong inside the content tree is reported and
        that content item left out.

    Notes
    -----
    Codes of private schemes the document declares in its Coding Scheme
    Identification Sequence with a Coding Scheme UID get ``urn:oid:<uid>``
    as system (PS3.3 C.12.1.1.2).
    """
    with declared_schemes(ds, ctx):
        return _read(ds, ctx)


def _read(ds: Dataset, ctx: ReadContext) -> ReadResult:
    doc = document_header(ds, ctx)
    if not has_items(ds, tags.ContentSequence):
        ctx.warn(
            f"{attr_name('ContentSequence')} is missing or empty: the document has no "
            "content items, so no selections or observations come from its content tree",
            attr_name("ContentSequence"),
        )
    evidence = read_evidence(ds, ctx, (CURRENT, OTHER), tolerant=True)
    tree = Tree(ds, ctx)
    sel = Selections(ctx, doc, evidence, tree)
    sel.read()
    observations = Measurements(ctx, doc, tree, sel).read()
    result = ReadResult(sop_class_uid=doc.sop_class_uid, sop_instance_uid=doc.source_uid)
    result.selections = sel.selections()
    result.observations = observations
    result.document = describe(doc)
    if not result.selections and not observations:
        ctx.warn("no image reference, region, evidence or measurement: nothing to convert")
    result.issues = ctx.issues
    return result
