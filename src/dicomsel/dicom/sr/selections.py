"""SR selections: regions, references, segments and evidence as selections.

- each SCOORD: an Image Region (DCM 111030) of the image it is SELECTED FROM,
  with its frames and the Graphic Data as the 2D region;
- each SCOORD3D: a region in its frame of reference, anchored on the SR
  instance itself (subset = the item's Observation UID when it has one);
- each IMAGE item with Referenced Segment Numbers: the SEG instance with
  those segments (DCM 121191 Referenced Segment); its group's Source series
  for segmentation (DCM 121232, TID 1411 row 7b) becomes a whole-series
  selection it focuses on, and gives its series (and study) when the SEG is
  not in the evidence (the IG maps that UID to ``seriesUid``);
- other IMAGE / COMPOSITE / WAVEFORM items: per (measurement group or
  document, concept, series), the instances they name;
- every content item that becomes an observation and has an Observation UID:
  the SR instance with that UID (DCM 111040 Original Source), made on demand;
- instances of the evidence that the content tree does not select: one
  selection per series.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.evidence import Evidence
from dicomsel.dicom.items import (
    ITEM_ERRORS,
    code_of,
    dotted,
    get_numbers,
    get_seq,
    get_text,
    why,
)
from dicomsel.dicom.references import A_FRAME, A_SEGMENT, int_list, sop_reference
from dicomsel.dicom.sr.concepts import (
    EVIDENCE_CODE,
    FINDING_SITE,
    IMAGE_REGION,
    IMAGE_REGION_NAME,
    ORIGINAL_SOURCE,
    OTHER_EVIDENCE_CODE,
    REFERENCE_TYPES,
    REFERENCED_SEGMENT,
    REGION_TYPES_2D,
    REGION_TYPES_3D,
    SOURCE_FOR_SEGMENTATION,
    SOURCE_SERIES,
    SOURCE_SERIES_NAME,
    VOLUME_SURFACE,
    VOLUME_SURFACE_NAME,
)
from dicomsel.dicom.sr.header import Doc
from dicomsel.dicom.sr.tree import Node, Tree
from dicomsel.dicom.tags import (
    UID,
    ConceptCodeSequence,
    ConceptNameCodeSequence,
    GraphicData,
    GraphicType,
    ObservationUID,
    ReferencedFrameNumber,
    ReferencedFrameOfReferenceUID,
    ReferencedSegmentNumber,
    ReferencedSOPSequence,
    ReferencedWaveformChannels,
)
from dicomsel.dicom.values import attr_name, code_key
from dicomsel.errors import InvalidInputError
from dicomsel.model import (
    Code,
    Endpoint,
    Instance,
    Provenance,
    Region2D,
    Region3D,
    Selection,
)
from dicomsel.uid import is_valid_uid

__all__ = ["Selections", "Spec"]

_A_GRAPHIC_DATA = attr_name("GraphicData")
_A_GRAPHIC_TYPE = attr_name("GraphicType")
_A_OBSERVATION_UID = attr_name("ObservationUID")


@dataclass(slots=True)
class Spec:
    """A selection being assembled."""

    key: str
    code: Code
    study: str | None
    series: str | None
    instances: dict[str, Instance] = field(default_factory=dict)
    frame_of_reference_uid: str | None = None
    focus: list[str] = field(default_factory=list)
    body_site: Code | None = None

    def add(self, inst: Instance) -> None:
        """Add an instance, merged with the one of the same UID; a whole instance wins.

        Parameters
        ----------
        inst : Instance
        """
        prior = self.instances.get(inst.uid)
        if prior is None:
            self.instances[inst.uid] = inst
            return
        merged = prior.merged(inst)
        if not prior.frames or not inst.frames:  # a whole instance wins over its frames
            merged = dataclasses.replace(merged, frames=())
        self.instances[inst.uid] = merged


def _shortest(v: Any) -> float:
    """A Graphic Data value (FL, float32: PS3.3 C.18.6.1.1, C.18.9.1.1) as its shortest decimal.

    The float32 value read as a double prints as an expanded binary fraction
    (``234.10000610351562``); the shortest decimal that reads back to the same
    float32 (numpy prints a float32 so: ``234.1``) is what the writer gave.
    """
    if isinstance(v, float) and math.isfinite(v) and float(np.float32(v)) == v:
        return float(str(np.float32(v)))
    return float(v)


def _floats(raw: list[Any] | None) -> list[float]:
    try:
        return [_shortest(v) for v in raw or ()]
    except (TypeError, ValueError) as e:
        raise InvalidInputError("is not a list of numbers", attribute=_A_GRAPHIC_DATA) from e


class Selections:
    """The selections of one SR being built from its content tree and evidence.

    Parameters
    ----------
    ctx : ReadContext
    doc : Doc
    evidence : Evidence
    tree : Tree
    """

    def __init__(self, ctx: ReadContext, doc: Doc, evidence: Evidence, tree: Tree) -> None:
        self.ctx = ctx
        self.doc = doc
        self.evidence = evidence
        self.tree = tree
        self.specs: dict[str, Spec] = {}
        self.selected: set[str] = set()
        self.unlisted: set[str] = set()
        #: SELECTED FROM items consumed by the SCOORD / TCOORD they belong to
        self.consumed: set[int] = set()
        self.item_keys: dict[int, str] = {}  # id(node) -> key of its Original Source selection
        self.finding_sites: dict[int, Code | None] = {}
        self.obs_uids: dict[int, str | None] = {}

    def read(self) -> None:
        """Make the selections of every content item, then of the evidence not selected."""
        for node in self.tree.nodes[1:]:
            if node.ref is not None or id(node) in self.consumed:
                continue
            try:
                if node.vt == "SCOORD":
                    self._scoord(node)
                elif node.vt == "SCOORD3D":
                    self._scoord3d(node)
                elif node.vt == "TCOORD":
                    self._tcoord(node)
                elif node.vt in REFERENCE_TYPES:
                    self._reference(node)
            except ITEM_ERRORS as e:
                self._warn(f"{node.where}: {why(e)}: left out")
        self._segment_focus()
        self._evidence_selections()

    def selections(self) -> list[Selection]:
        """The selections made, in the order they were first made.

        Returns
        -------
        list of Selection
        """
        doc = self.doc
        out: list[Selection] = []
        for s in self.specs.values():
            eps: tuple[Endpoint, ...] = ()
            if s.study and s.series:
                eps = tuple(self.evidence.endpoints.get((s.study, s.series), ()))
            out.append(
                Selection(
                    provenance=Provenance.SR,
                    key=s.key,
                    source_uid=doc.source_uid,
                    code=s.code,
                    study_instance_uid=s.study,
                    series_instance_uid=s.series,
                    frame_of_reference_uid=s.frame_of_reference_uid,
                    instances=tuple(s.instances.values()),
                    identifiers=(doc.identifier,),
                    based_on=doc.based_on,
                    subject=doc.subject,
                    issued=doc.issued,
                    performers=doc.performers,
                    endpoints=eps,
                    body_site=s.body_site,
                    focus=tuple(k for k in s.focus if k != s.key),
                )
            )
        return out

    def _warn(self, message: str) -> None:
        self.ctx.warn(message)

    def _place(self, uid: str, sop_class: str | None) -> tuple[str | None, str | None, str | None]:
        """Study, series and class of a referenced instance, from the evidence."""
        ev = self.evidence.where.get(uid)
        if ev is None:
            if uid not in self.unlisted:
                self.unlisted.add(uid)
                self._warn(
                    f"instance {uid} is not listed in the evidence "
                    f"({attr_name('CurrentRequestedProcedureEvidenceSequence')}): "
                    "its study and series are unknown"
                )
            return None, None, sop_class
        if sop_class and ev.sop_class and sop_class != ev.sop_class:
            self._warn(
                f"instance {uid}: SOP class {sop_class} in the content tree but {ev.sop_class} "
                "in the evidence; the content tree's is kept"
            )
        return ev.study, ev.series, sop_class or ev.sop_class

    def _spec(self, key: str, code: Code, study: str | None, series: str | None) -> Spec:
        s = self.specs.get(key)
        if s is None:
            s = self.specs[key] = Spec(key, code, study, series)
        return s

    def _referenced(self, node: Node) -> list[tuple[str, str | None, list[int], list[int]]]:
        """(uid, class, frames, segments) of each Referenced SOP Sequence item of ``node``."""
        out: list[tuple[str, str | None, list[int], list[int]]] = []
        seq = get_seq(node.item, ReferencedSOPSequence)
        if not seq:
            self._warn(f"{node.where}: {attr_name('ReferencedSOPSequence')} is missing: left out")
            return out
        for sop in seq:
            where = f"{node.where} > {attr_name('ReferencedSOPInstanceUID')}"
            uid, cls = sop_reference(
                sop,
                self.ctx,
                where,
                f"{node.where} > {attr_name('ReferencedSOPClassUID')}",
            )
            prefix = f"{node.where}: "
            frames = int_list(
                get_numbers(sop, ReferencedFrameNumber),
                A_FRAME,
                self.ctx,
                prefix=prefix,
                unique=False,
            )
            segments = int_list(
                get_numbers(sop, ReferencedSegmentNumber),
                A_SEGMENT,
                self.ctx,
                prefix=prefix,
                unique=False,
            )
            if any(f < 1 for f in frames):
                raise InvalidInputError(
                    f"{node.where}: frame numbers start at 1, not {min(frames)}",
                    attribute=A_FRAME,
                )
            out.append((uid, cls, frames, segments))
            if node.vt == "WAVEFORM" and get_numbers(sop, ReferencedWaveformChannels):
                self._warn(
                    f"{node.where}: {attr_name('ReferencedWaveformChannels')} has no place in "
                    "ImagingSelection: the whole waveform is selected"
                )
            for ps in get_seq(sop, ReferencedSOPSequence):  # the presentation state to show it with
                out.append((*sop_reference(ps, self.ctx, where, where), [], []))
        return out

    def _group_site(self, group: Node | None) -> Code | None:
        if group is None:
            return None
        key = id(group)
        if key not in self.finding_sites:
            site = None
            for child in self.tree.children(group):
                if child.concept == FINDING_SITE and child.vt == "CODE":
                    site = code_of(child.item, ConceptCodeSequence)
                    break
            self.finding_sites[key] = site
        return self.finding_sites[key]

    def source_item(self, node: Node) -> str | None:
        """Key of the Original Source selection of ``node`` (the SR, subset = its
        Observation UID); made on first use, None when the item has no valid UID.

        Parameters
        ----------
        node : Node

        Returns
        -------
        str or None
        """
        key = self.item_keys.get(id(node))
        if key is not None:
            return key
        uid = self.observation_uid(node)
        if uid is None:
            return None
        key = f"sr|item|{dotted(node.path)}"
        s = self._spec(key, ORIGINAL_SOURCE, self.doc.study, self.doc.series)
        s.add(
            Instance(
                uid=self.doc.source_uid,
                sop_class_uid=self.doc.sop_class_uid,
                observation_uids=(uid,),
            )
        )
        self.item_keys[id(node)] = key
        node.keys.append(key)
        return key

    def observation_uid(self, node: Node) -> str | None:
        """The item's Observation UID; an invalid one is reported (once) and left out.

        Parameters
        ----------
        node : Node

        Returns
        -------
        str or None
        """
        key = id(node)
        if key in self.obs_uids:
            return self.obs_uids[key]
        raw = get_text(node.item, ObservationUID)
        if raw is not None and not is_valid_uid(raw):
            self._warn(f"{node.where}: {_A_OBSERVATION_UID} {raw!r} is not a valid UID: left out")
            raw = None
        self.obs_uids[key] = raw
        return raw

    def _focus_for(self, node: Node) -> list[str]:
        group = node.group
        if group is None:
            return []
        key = self.source_item(group)
        return [key] if key else []

    def _scoord(self, node: Node) -> None:
        gtype = (get_text(node.item, GraphicType) or "").upper()
        rtype = REGION_TYPES_2D.get(gtype)
        if rtype is None:
            self._warn(
                f"{node.where}: {_A_GRAPHIC_TYPE} {gtype or '(none)'!r} is not a 2D graphic type: "
                "region left out"
            )
            return
        try:
            region = Region2D(rtype, tuple(_floats(get_numbers(node.item, GraphicData))))
        except InvalidInputError as e:
            self._warn(f"{node.where}: {_A_GRAPHIC_DATA} {e.reason}: region left out")
            return
        images = [c for c in node.children if c.rel == "SELECTED FROM"]
        targets = []
        for child in images:
            self.consumed.add(id(child))
            target = child if child.ref is None else self.tree.resolve(child)
            if target is not None and target.vt == "IMAGE":
                targets.append(target)
            elif target is not None:
                self._warn(f"{node.where}: SELECTED FROM {target.where} is not an IMAGE item")
        if not targets:
            self._warn(
                f"{node.where}: SCOORD has no SELECTED FROM image: its {rtype} region "
                "has no image to be on and is left out"
            )
            return
        refs = self._referenced(targets[0])
        if not refs:
            return
        if len(targets) > 1 or len(refs) > 1:
            self._warn(f"{node.where}: SCOORD selected from more than one image: the first is used")
        uid, cls, frames, _segments = refs[0]
        study, series, cls = self._place(uid, cls)
        if node.concept is not None and node.concept != IMAGE_REGION_NAME:
            self._warn(
                f"{node.where}: concept name {node.name()} is not kept: "
                "the selection's code is DCM 111030 Image Region"
            )
        key = f"sr|region|{dotted(node.path)}"
        s = self._spec(key, IMAGE_REGION, study, series)
        s.add(Instance(uid=uid, sop_class_uid=cls, frames=tuple(frames), regions_2d=(region,)))
        s.focus = self._focus_for(node)
        s.body_site = self._group_site(node.group)
        self.selected.add(uid)
        node.keys.append(key)

    def _scoord3d(self, node: Node) -> None:
        gtype = (get_text(node.item, GraphicType) or "").upper()
        rtype = REGION_TYPES_3D.get(gtype)
        if rtype is None:
            self._warn(
                f"{node.where}: {_A_GRAPHIC_TYPE} {gtype or '(none)'!r} is not a 3D graphic type: "
                "region left out"
            )
            return
        for_uid = get_text(node.item, ReferencedFrameOfReferenceUID)
        if for_uid is None or not is_valid_uid(for_uid):
            self._warn(
                f"{node.where}: {attr_name('ReferencedFrameOfReferenceUID')} "
                f"{'is missing' if for_uid is None else repr(for_uid) + ' is not a valid UID'}: "
                "3D region left out"
            )
            return
        try:
            region = Region3D(rtype, tuple(_floats(get_numbers(node.item, GraphicData))), for_uid)
        except InvalidInputError as e:
            self._warn(f"{node.where}: {_A_GRAPHIC_DATA} {e.reason}: region left out")
            return
        code = VOLUME_SURFACE if node.concept == VOLUME_SURFACE_NAME else IMAGE_REGION
        uid = self.observation_uid(node)
        key = f"sr|region3d|{dotted(node.path)}"
        s = self._spec(key, code, self.doc.study, self.doc.series)
        s.frame_of_reference_uid = for_uid
        s.add(
            Instance(
                uid=self.doc.source_uid,
                sop_class_uid=self.doc.sop_class_uid,
                observation_uids=(uid,) if uid else (),
                regions_3d=(region,),
            )
        )
        s.focus = self._focus_for(node)
        s.body_site = self._group_site(node.group)
        node.keys.append(key)

    def _tcoord(self, node: Node) -> None:
        for child in node.children:
            if child.rel == "SELECTED FROM":
                self.consumed.add(id(child))
        self._warn(
            f"{node.where}: TCOORD {node.name()} (a temporal range) has no place in "
            "ImagingSelection: left out"
        )

    def _reference(self, node: Node) -> None:
        refs = self._referenced(node)
        if not refs:
            return
        concept = code_of(node.item, ConceptNameCodeSequence) if node.concept else None
        scope = dotted(node.group.path) if node.group is not None else "doc"
        for uid, cls, frames, segments in refs:
            study, series, cls = self._place(uid, cls)
            self.selected.add(uid)
            if segments:
                key = f"sr|segment|{dotted(node.path)}|{uid}"
                source = self._source_series(node)
                if series is None and source is not None:
                    study, series = source
                s = self._spec(key, concept or REFERENCED_SEGMENT, study, series)
                s.add(
                    Instance(
                        uid=uid, sop_class_uid=cls, segments=tuple(segments), frames=tuple(frames)
                    )
                )
                s.focus = self._focus_for(node)
                if source is not None:
                    s.focus.append(self._source_series_spec(node, *source))
                s.body_site = self._group_site(node.group)
                node.keys.append(key)
                continue
            code = concept or self._container_code(node)
            key = f"sr|ref|{scope}|{code_key(code, text_apart=True)}|{study or ''}|{series or ''}"
            s = self._spec(key, code, study, series)
            s.add(Instance(uid=uid, sop_class_uid=cls, frames=tuple(frames)))
            if not s.focus:
                s.focus = self._focus_for(node)
            if s.body_site is None:
                s.body_site = self._group_site(node.group)
            if key not in node.keys:
                node.keys.append(key)

    def _source_series(self, node: Node) -> tuple[str | None, str] | None:
        """(study, series) of the Source series for segmentation (DCM 121232, UIDREF)
        beside ``node`` in its group (PS3.16 TID 1411 row 7b); the study is the
        evidence's for that series, else the document's."""
        if node.parent is None:
            return None
        for sib in node.parent.children:
            if sib.concept != SOURCE_SERIES_NAME or sib.vt != "UIDREF":
                continue
            raw = get_text(sib.item, UID)
            if raw is None or not is_valid_uid(raw):
                self._warn(
                    f"{sib.where}: {attr_name('UID')} "
                    f"{'is missing' if raw is None else repr(raw) + ' is not a valid UID'}: "
                    "source series left out"
                )
                return None
            study = next((st for st, se in self.evidence.endpoints if se == raw), self.doc.study)
            return study, raw
        return None

    def _source_series_spec(self, node: Node, study: str | None, series: str) -> str:
        """Key of the whole-series selection of a Source series for segmentation."""
        scope = dotted(node.group.path) if node.group is not None else "doc"
        key = f"sr|source-series|{scope}|{series}"
        s = self._spec(key, SOURCE_SERIES, study, series)
        s.body_site = self._group_site(node.group)
        return key

    def _container_code(self, node: Node) -> Code:
        """The concept name of the nearest enclosing container, else the document title."""
        current = node.parent
        while current is not None:
            if current.vt == "CONTAINER" and current.parent is not None:
                code = code_of(current.item, ConceptNameCodeSequence)
                if code is not None:
                    return code
            current = current.parent
        return self.doc.title

    def _segment_focus(self) -> None:
        """Referenced segments focus on their group's Source Image for Segmentation selections."""
        sources: dict[int, list[str]] = {}
        segments: dict[int, list[str]] = {}
        for node in self.tree.nodes:
            if node.group is None:
                continue
            if node.concept == SOURCE_FOR_SEGMENTATION:
                sources.setdefault(id(node.group), []).extend(node.keys)
            segments.setdefault(id(node.group), []).extend(
                k for k in node.keys if k.startswith("sr|segment|")
            )
        for group, keys in sources.items():
            for key in segments.get(group, ()):
                spec = self.specs[key]
                spec.focus = [*dict.fromkeys(k for k in keys if k not in spec.focus), *spec.focus]

    def _evidence_selections(self) -> None:
        """Evidence instances the content tree does not select: one selection per series."""
        for uid in self.evidence.order:
            if uid in self.selected:
                continue
            ev = self.evidence.where[uid]
            code = EVIDENCE_CODE if ev.kind == "current" else OTHER_EVIDENCE_CODE
            key = f"sr|evidence|{ev.kind}|{ev.study}|{ev.series}"
            self._spec(key, code, ev.study, ev.series).add(
                Instance(uid=uid, sop_class_uid=ev.sop_class)
            )
