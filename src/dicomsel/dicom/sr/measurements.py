"""SR observations: TID 1500 measurement groups, their measurements and evaluations.

A record per Measurement Group (DCM 125007) with members for its NUM items
(measurements) and qualitative CODE / TEXT items; NUM items outside groups
become measurements on their own unless they are context. Their
``derived_from`` name the selections :mod:`dicomsel.dicom.sr.selections` made.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.items import (
    ITEM_ERRORS,
    Item,
    code_of,
    dotted,
    get_numbers,
    get_seq,
    get_text,
    why,
)
from dicomsel.dicom.sr.concepts import (
    ALGORITHM_NAME,
    ALGORITHM_VERSION,
    CONTEXT_RELATIONSHIPS,
    DERIVATION,
    FINDING,
    FINDING_CATEGORY,
    FINDING_SITE,
    GROUP,
    LATERALITY,
    MEASUREMENT_GROUP,
    METHOD,
    NOT_QUALITATIVE,
    TOPOGRAPHICAL,
    TRACKING_ID,
    TRACKING_UID,
)
from dicomsel.dicom.sr.header import Doc, observation_datetime
from dicomsel.dicom.sr.selections import Selections
from dicomsel.dicom.sr.tree import Node, Tree
from dicomsel.dicom.tags import (
    UID,
    ConceptCodeSequence,
    ConceptNameCodeSequence,
    ContentTemplateSequence,
    FloatingPointValue,
    MeasuredValueSequence,
    MeasurementUnitsCodeSequence,
    NumericValue,
    NumericValueQualifierCodeSequence,
    ObservationDateTime,
    TemplateIdentifier,
    TextValue,
)
from dicomsel.dicom.values import attr_name, device
from dicomsel.model import Code, ObservationKind, ObservationRecord, Reference
from dicomsel.uid import is_valid_uid

__all__ = ["Measurements"]


def _template(item: Item) -> str | None:
    items = get_seq(item, ContentTemplateSequence)
    if not items:
        return None
    return get_text(items[0], TemplateIdentifier)


class Measurements:
    """The observations of one SR, read after its selections.

    Parameters
    ----------
    ctx : ReadContext
    doc : Doc
    tree : Tree
    sel : Selections
        The selections already made; observation items add their Original
        Source selections to it.
    """

    def __init__(self, ctx: ReadContext, doc: Doc, tree: Tree, sel: Selections) -> None:
        self.ctx = ctx
        self.doc = doc
        self.tree = tree
        self.sel = sel
        #: the algorithm of each group, by id: a group's members all ask for it
        self._algorithms: dict[int, Reference | None] = {}

    def read(self) -> list[ObservationRecord]:
        """Every measurement group with its members, then the NUM items outside groups.

        Returns
        -------
        list of ObservationRecord
        """
        nums: dict[int, list[Node]] = {}
        for node in self.tree.nodes[1:]:
            if node.ref is None and node.vt == "NUM":
                nums.setdefault(id(node.group) if node.group is not None else 0, []).append(node)
        observations: list[ObservationRecord] = []
        for node in self.tree.nodes[1:]:
            if node.ref is None and node.vt == "CONTAINER" and node.concept == GROUP:
                self._guarded(node, lambda n: self._group(n, nums.get(id(n), []), observations))
        for node in nums.get(0, []):
            self._guarded(node, lambda n: self._loose_num(n, observations))
        return observations

    def _warn(self, message: str) -> None:
        self.ctx.warn(message)

    def _observation_time(self, node: Node) -> str | None:
        current: Node | None = node
        while current is not None:
            raw = get_text(current.item, ObservationDateTime)
            if raw:
                return observation_datetime(
                    raw, self.doc, self.ctx, attr_name("ObservationDateTime")
                )
            current = current.parent
        # the IG: Observation DateTime, else the document's Content Date / Time
        return self.doc.issued.isoformat() if self.doc.issued is not None else None

    def _algorithm(self, node: Node) -> Reference | None:
        key = id(node)
        if key not in self._algorithms:
            self._algorithms[key] = self._read_algorithm(node)
        return self._algorithms[key]

    def _read_algorithm(self, node: Node) -> Reference | None:
        name = version = None
        for child in node.children:
            if child.concept == ALGORITHM_NAME:
                name = get_text(child.item, TextValue)
            elif child.concept == ALGORITHM_VERSION:
                version = get_text(child.item, TextValue)
        if not name:
            return None
        self.doc.algorithms.append((name, version))
        return device(display=f"{name} {version}" if version else name)

    def _own_keys(self, node: Node) -> list[str]:
        """Keys of the selections made from items ``node`` owns, by-reference targets included."""
        keys: list[str] = []
        stack = list(reversed(node.children))
        while stack:
            child = stack.pop()
            if id(child) in self.sel.consumed:
                continue  # a SCOORD's SELECTED FROM image: the region holds it
            if child.ref is not None:
                target = self.tree.resolve(child)
                if target is not None:
                    keys.extend(k for k in target.keys if k not in keys)
                continue
            if child.owner is not node:
                continue  # a NUM inside: its own
            keys.extend(k for k in child.keys if k not in keys)
            stack.extend(reversed(child.children))
        return keys

    def _record(self, node: Node, kind: ObservationKind, **kw: object) -> ObservationRecord:
        doc = self.doc
        return ObservationRecord(
            key=f"sr|obs|{dotted(node.path)}",
            source_uid=doc.source_uid,
            kind=kind,
            observation_uid=self.sel.observation_uid(node),
            template_id=_template(node.item),
            completion_flag=doc.completion,
            verification_flag=doc.verification,
            preliminary_flag=doc.preliminary,
            study_instance_uid=doc.study,
            subject=doc.subject,
            issued=doc.issued,
            observation_datetime=self._observation_time(node),
            performers=doc.people,
            based_on=doc.based_on,
            **kw,  # type: ignore[arg-type]
        )

    def _modifiers(self, node: Node) -> dict[str, Code]:
        """Concept modifiers of a NUM or group: finding site, method, derivation."""
        out: dict[str, Code] = {}
        for child in self.tree.children(node):
            if child.vt != "CODE":
                continue
            code = code_of(child.item, ConceptCodeSequence)
            if code is None:
                continue
            if child.concept == FINDING_SITE:
                out.setdefault("finding_site", code)
                for mod in child.children:
                    if mod.concept in (LATERALITY, TOPOGRAPHICAL):
                        mcode = code_of(mod.item, ConceptCodeSequence)
                        self._warn(
                            f"{mod.where}: {mod.name()} "
                            f"{(mcode.meaning or mcode.value) if mcode else ''!r} of finding site "
                            f"{code.meaning or code.value!r} has no place in bodySite: left out"
                        )
            elif child.concept == METHOD:
                out.setdefault("method", code)
            elif child.concept == DERIVATION:
                out.setdefault("derivation", code)
            elif child.concept == FINDING_CATEGORY:
                out.setdefault("finding_category", code)
            elif child.concept == FINDING:
                out.setdefault("finding", code)
        return out

    def _measured_value(self, node: Node) -> tuple[float | None, Code | None, Code | None]:
        """(value, unit, qualifier) of a NUM: Floating Point Value, else Numeric Value.

        A NUM without a value (an empty Measured Value Sequence, as some
        exporters write) keeps its Numeric Value Qualifier as the reason; one
        without either is reported.
        """
        qualifier = code_of(node.item, NumericValueQualifierCodeSequence)
        mv = get_seq(node.item, MeasuredValueSequence)
        if not mv:
            if qualifier is None:
                self._warn(
                    f"{node.where}: NUM {node.name()} has no "
                    f"{attr_name('MeasuredValueSequence')} and no "
                    f"{attr_name('NumericValueQualifierCodeSequence')}: written without a value"
                )
            return None, None, qualifier
        item = mv[0]
        unit = code_of(item, MeasurementUnitsCodeSequence)
        if unit is None:
            self._warn(f"{node.where}: {attr_name('MeasurementUnitsCodeSequence')} is missing")
        numeric: float | None = None
        fp = get_numbers(item, FloatingPointValue)
        raw = get_text(item, NumericValue)
        try:
            if fp:
                numeric = float(fp[0])
            elif raw is not None:
                numeric = float(raw)
        except (TypeError, ValueError, IndexError):
            self._warn(f"{node.where}: {attr_name('NumericValue')} {raw!r} is not a number")
        if numeric is None:
            if qualifier is None:
                self._warn(f"{node.where}: NUM {node.name()} has no value: written without one")
            return None, unit, qualifier
        if not math.isfinite(numeric):
            self._warn(f"{node.where}: NUM value {numeric} is not finite: written without a value")
            if math.isnan(numeric):
                nan = Code(value="114000", scheme="DCM", meaning="Not a number")
                return None, unit, qualifier or nan
            inf = Code(
                value="114002" if numeric > 0 else "114001",
                scheme="DCM",
                meaning="Positive Infinity" if numeric > 0 else "Negative Infinity",
            )
            return None, unit, qualifier or inf
        return numeric, unit, None

    def _measurement(self, node: Node, fallback: list[str]) -> ObservationRecord | None:
        code = code_of(node.item, ConceptNameCodeSequence)
        if code is None:
            self._warn(f"{node.where}: NUM without a concept name: left out")
            return None
        numeric, unit, qualifier = self._measured_value(node)
        mods = self._modifiers(node)
        if node.group is not None and node.group is not node:
            # the IG: a measurement carries its group's finding site (and method)
            # unless it names its own (TID 1419: the group's concept modifiers)
            for name, inherited in self._modifiers(node.group).items():
                if name in ("finding_site", "method"):
                    mods.setdefault(name, inherited)
        own = self._own_keys(node)
        derived = own or list(fallback)
        src = self.sel.source_item(node)
        if src and src not in derived:
            derived.append(src)
        return self._record(
            node,
            ObservationKind.MEASUREMENT,
            code=code,
            numeric_value=numeric,
            unit=unit,
            value_qualifier=qualifier,
            finding_site=mods.get("finding_site"),
            method=mods.get("method"),
            derivation=mods.get("derivation"),
            device=self._algorithm(node)
            or (self._algorithm(node.group) if node.group else None)
            or self.doc.device,
            derived_from=tuple(derived),
        )

    def _group(self, node: Node, nums: list[Node], out: list[ObservationRecord]) -> None:
        """A Measurement Group, then its members (NUMs at any depth, qualitative items)."""
        tracking_id = tracking_uid = None
        qualitative: list[Node] = []
        for child in self.tree.children(node):
            if child.concept == TRACKING_ID:
                tracking_id = get_text(child.item, TextValue)
            elif child.concept == TRACKING_UID:
                raw = get_text(child.item, UID)
                if raw and is_valid_uid(raw):
                    tracking_uid = raw
                elif raw:
                    self._warn(f"{child.where}: Tracking Unique Identifier {raw!r} is not a UID")
            elif child.vt in ("CODE", "TEXT") and child.concept not in NOT_QUALITATIVE:
                if child.rel in CONTEXT_RELATIONSHIPS:
                    self._warn(f"{child.where}: context item {child.name()} left out")
                else:
                    qualitative.append(child)
        src = self.sel.source_item(node)
        # the selections the group names itself: what its measurements are of, unless
        # a measurement names its own (a SCOORD INFERRED FROM a NUM)
        fallback = [k for k in self._own_keys(node) if k != src]
        derived = list(fallback)
        index = len(out)
        members: list[str] = []
        for num in nums:
            if num.rel in CONTEXT_RELATIONSHIPS:
                self._warn(
                    f"{num.where}: NUM {num.name()} is context ({num.rel}): not a measurement"
                )
                continue
            try:
                rec = self._measurement(num, fallback)
            except ITEM_ERRORS as e:
                self._warn(f"{num.where}: {why(e)}: left out")
                continue
            if rec is not None:
                out.append(rec)
                members.append(rec.key)
                derived.extend(k for k in rec.derived_from if k not in derived)
        for child in qualitative:
            rec = self._evaluation(child, node, fallback)
            if rec is not None:
                out.append(rec)
                members.append(rec.key)
        if src and src not in derived:
            derived.append(src)
        mods = self._modifiers(node)
        out.insert(
            index,
            self._record(
                node,
                ObservationKind.GROUP,
                code=MEASUREMENT_GROUP,
                finding_category=mods.get("finding_category"),
                finding=mods.get("finding"),
                finding_site=mods.get("finding_site"),
                method=mods.get("method"),
                tracking_id=tracking_id,
                tracking_uid=tracking_uid,
                device=self._algorithm(node) or self.doc.device,
                derived_from=tuple(derived),
                members=tuple(members),
            ),
        )

    def _evaluation(
        self, child: Node, group: Node, fallback: list[str]
    ) -> ObservationRecord | None:
        """A qualitative evaluation: a CODE or TEXT item of a measurement group."""
        code = code_of(child.item, ConceptNameCodeSequence)
        if code is None:
            self._warn(f"{child.where}: {child.vt} without a concept name: left out")
            return None
        value_code = code_of(child.item, ConceptCodeSequence) if child.vt == "CODE" else None
        value_text = get_text(child.item, TextValue) if child.vt == "TEXT" else None
        if value_code is None and value_text is None:
            self._warn(f"{child.where}: {child.name()} has no value: left out")
            return None
        derived = list(fallback)
        own_src = self.sel.source_item(child)
        if own_src:
            derived.append(own_src)
        return self._record(
            child,
            ObservationKind.QUALITATIVE,
            code=code,
            value_code=value_code,
            value_text=value_text,
            device=self._algorithm(group) or self.doc.device,
            derived_from=tuple(derived),
        )

    def _guarded(self, node: Node, step: Callable[[Node], None]) -> None:
        """Run one step on ``node``; a content item that cannot be read is reported and left out."""
        try:
            step(node)
        except ITEM_ERRORS as e:
            self._warn(f"{node.where}: {why(e)}: left out")

    def _loose_num(self, node: Node, out: list[ObservationRecord]) -> None:
        if node.rel in CONTEXT_RELATIONSHIPS:
            self._warn(
                f"{node.where}: NUM {node.name()} is context ({node.rel}): not an observation"
            )
            return
        rec = self._measurement(node, [])
        if rec is not None:
            out.append(rec)
