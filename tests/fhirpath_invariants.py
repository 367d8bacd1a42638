"""FHIRPath invariants of HL7's R5 package (hl7.fhir.r5.core 5.0.0), evaluated on a resource.

Not a test module: tests import ``invariant_failures`` / ``invariant_warnings`` from here.

Every ``constraint`` (key, severity, human, expression) of the cached StructureDefinitions
(the resources listed in tools/fetch_hl7_r5.py and every complex datatype) is evaluated with
fhirpathpy at each node where it applies:

* the resource's own element constraints, from its snapshot (``dom-*`` on DomainResource,
  ``bdl-*`` on Bundle and Bundle.entry, ``obs-*``, ``ele-1`` on every element, ``ext-1`` on
  every ``extension`` ...);
* the constraints of each complex datatype at every occurrence of that datatype, from the
  datatype's own StructureDefinition (``cod-1`` on every Coding, ``ref-1``/``ref-2`` on every
  Reference, ``ident-1``, ``qty-3``, ``ext-1`` inside Extension ...), choice elements
  (``valueQuantity``) and content references (``Bundle.entry.link``) included;
* resources inside resources (``Bundle.entry.resource``, ``contained``) against their own
  StructureDefinition.

The context is FHIRPath's: the node is ``%context`` and the input, ``%resource`` the resource
holding it, ``%rootResource`` the container of a contained resource (else ``%resource``),
``%ucum`` UCUM's URL.  As in HL7's Java validator, a constraint holds when its expression gives
``true`` or any non-boolean non-empty result, and fails on ``false`` or an empty result.

fhirpathpy 2.2.4 lacks a few FHIR functions; ``hasValue()`` (needed by ``ele-1``) and
``resolve()`` (within the Bundle being checked, and ``#id`` in contained) are supplied here.
Expressions it still cannot evaluate are listed in ``SKIPPED`` with the reason; those that
matter for dicomsel's output are checked by hand in Python (``HAND_CHECKS``, by key).  Any
other expression that fails to evaluate is reported, never ignored: as a problem in
:class:`Report`, and as a failure by :func:`invariant_failures`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fhirpathpy
from fhirpathpy.engine.invocations import invocation_registry
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser import parse

from hl7_r5 import require_r5_validator

_R5_MODEL: dict[str, Any] = models["r5"]
_SYSTEM_TYPE = "http://hl7.org/fhirpath/System."
_FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_XHTML = "{http://www.w3.org/1999/xhtml}"

#: (key, reason) of the invariants not given to fhirpathpy 2.2.4.  Keep it short: an entry is
#: here only when the engine cannot evaluate the expression (tests check that each entry
#: still fails to parse or calls a function the engine lacks).
SKIPPED: dict[str, str] = {
    # htmlChecks() is a FHIR-specific function fhirpathpy does not have; dicomsel writes a
    # narrative (text.div), so both are checked by hand (HAND_CHECKS).
    "txt-1": "htmlChecks() is not in fhirpathpy; checked by hand",
    "txt-2": "htmlChecks() is not in fhirpathpy; checked by hand",
    # lowBoundary()/highBoundary() are FHIRPath 2.0 additions fhirpathpy does not have.
    # Period appears in R5 Observation (effectivePeriod) and performer periods: by hand.
    "per-1": "lowBoundary()/highBoundary() are not in fhirpathpy; checked by hand",
    # Range and RatioRange are not written by dicomsel: not checked.
    "rng-2": "lowBoundary()/highBoundary()/comparable() are not in fhirpathpy; Range unused",
    "ratrng-2": "lowBoundary()/highBoundary() are not in fhirpathpy; RatioRange unused",
    # HL7's expression quotes ':' with double quotes, which FHIRPath's grammar has no token
    # for; fhirpathpy's lexer rejects it.  ElementDefinition is not in dicomsel's output.
    "eld-11": 'the expression does not parse (":" is not a FHIRPath string literal)',
}

#: The FHIR-specific functions supplied to fhirpathpy here (see ``_user_functions``).
SUPPLIED_FUNCTIONS = frozenset({"hasValue", "resolve"})
#: The environment variables given to every evaluation.
ENVIRONMENT = frozenset({"resource", "rootResource", "context", "ucum"})


@dataclass(frozen=True)
class Invariant:
    """One ``constraint`` of a StructureDefinition element."""

    key: str
    severity: str
    human: str
    expression: str


@dataclass(frozen=True)
class _Element:
    path: str
    types: tuple[str, ...]
    content_ref: str | None
    invariants: tuple[Invariant, ...]


@dataclass(frozen=True)
class Outcome:
    """An invariant that does not hold (or could not be evaluated) at ``path``."""

    key: str
    severity: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.key} at {self.path}: {self.message}"


@dataclass
class Report:
    """What checking one resource found."""

    failures: list[Outcome] = field(default_factory=list)
    warnings: list[Outcome] = field(default_factory=list)
    #: expressions that raised in the engine, and nodes the walker could not type
    problems: list[Outcome] = field(default_factory=list)
    #: how often each key was evaluated (engine or by hand)
    evaluated: Counter[str] = field(default_factory=Counter)


# -- hand checks of skipped invariants --------------------------------------------------------


# Elements and attributes of HTML 4.0 chapters 7-11 (without 9.4) and 15, <a> and <img>: the
# list of HL7's own former XPath for txt-1.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_HTML_ELEMENTS = _words(
    "a abbr acronym b big blockquote br caption cite code col colgroup dd dfn div dl dt em "
    "h1 h2 h3 h4 h5 h6 hr i img li ol p pre q samp small span strong sub sup table tbody td "
    "tfoot th thead tr tt ul var"
)
_HTML_ATTRIBUTES = _words(
    "abbr accesskey align alt axis bgcolor border cellhalign cellpadding cellspacing "
    "cellvalign char charoff charset class colspan compact coords dir frame headers height "
    "href hreflang hspace id lang longdesc name nowrap rel rev rowspan rules scope shape span "
    "src start style summary tabindex title type valign value vspace width"
)
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _parse_div(value: Any) -> ET.Element | None:
    if not isinstance(value, str):
        return None
    try:
        return ET.fromstring(value)
    except ET.ParseError:
        return None


def _txt_1(value: Any) -> bool:
    """txt-1: only the allowed HTML elements and attributes, in the XHTML namespace."""
    root = _parse_div(value)
    if root is None or root.tag != f"{_XHTML}div":
        return False
    for node in root.iter():
        if not node.tag.startswith(_XHTML) or node.tag[len(_XHTML) :] not in _HTML_ELEMENTS:
            return False
        for name in node.attrib:
            if name != _XML_LANG and name not in _HTML_ATTRIBUTES:
                return False
    return True


def _txt_2(value: Any) -> bool:
    """txt-2: some non-whitespace content (text, or an image)."""
    root = _parse_div(value)
    if root is None:
        return False
    text = "".join(root.itertext())
    return bool(text.strip()) or any(n.tag == f"{_XHTML}img" for n in root.iter())


_DATETIME = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?"
)


_TICK = _dt.timedelta(microseconds=1)
_EARLIEST_ZONE = _dt.timezone(_dt.timedelta(hours=14))
_LATEST_ZONE = _dt.timezone(_dt.timedelta(hours=-12))


def _boundaries(value: str) -> tuple[_dt.datetime, _dt.datetime, _dt.timezone | None] | None:
    """Earliest and latest (naive) moment a FHIR date/dateTime/instant stands for, its zone."""
    m = _DATETIME.fullmatch(value)
    if not m:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    lo = _dt.datetime(int(year), int(month or 1), int(day or 1))
    if month is None:
        hi = lo.replace(year=lo.year + 1) - _TICK
    elif day is None:
        nxt = (
            lo.replace(year=lo.year + 1, month=1)
            if lo.month == 12
            else lo.replace(month=lo.month + 1)
        )
        hi = nxt - _TICK
    elif hour is None:
        hi = lo + _dt.timedelta(days=1) - _TICK
    else:
        lo = lo.replace(hour=int(hour), minute=int(minute), second=int(second or 0))
        if second is None:
            hi = lo + _dt.timedelta(minutes=1) - _TICK
        elif frac is None:
            hi = lo + _dt.timedelta(seconds=1) - _TICK
        else:
            digits = frac[1:]
            lo = lo.replace(microsecond=int((digits + "000000")[:6]))
            step = _dt.timedelta(seconds=10.0 ** -min(len(digits), 6))
            hi = lo + step - _TICK
    tz = None
    if zone == "Z":
        tz = _dt.UTC
    elif zone is not None:
        sign = -1 if zone[0] == "-" else 1
        tz = _dt.timezone(sign * _dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return lo, hi, tz


def _per_1(value: Any) -> bool:
    """per-1: start, if present, is not after end (lower boundary of start <= upper of end).

    Two values without a zone (dates, local times) compare as they stand; against a zoned
    value a zoneless one may be in any zone on earth (+14:00 for its earliest, -12:00 for its
    latest moment), as FHIRPath's boundary functions have it.
    """
    if not isinstance(value, dict):
        return True
    start, end = value.get("start"), value.get("end")
    if not isinstance(start, str) or not isinstance(end, str):
        return True
    a, b = _boundaries(start), _boundaries(end)
    if a is None or b is None:
        return True  # a malformed dateTime is the schema's to report
    if a[2] is None and b[2] is None:
        return a[0] <= b[1]
    return a[0].replace(tzinfo=a[2] or _EARLIEST_ZONE) <= b[1].replace(tzinfo=b[2] or _LATEST_ZONE)


#: Skipped invariants checked in Python instead, by key: ``check(node value) -> holds``.
HAND_CHECKS: dict[str, Callable[[Any], bool]] = {
    "txt-1": _txt_1,
    "txt-2": _txt_2,
    "per-1": _per_1,
}


# -- the definitions ----------------------------------------------------------------------------


def _type_code(type_entry: dict[str, Any]) -> str:
    code = str(type_entry["code"])
    if code.startswith(_SYSTEM_TYPE):
        for ext in type_entry.get("extension", ()):
            if ext.get("url") == _FHIR_TYPE_EXT:
                return str(ext.get("valueUrl") or ext.get("valueUri"))
        return "System." + code[len(_SYSTEM_TYPE) :]
    return code


def _is_primitive(type_code: str) -> bool:
    return type_code[:1].islower() or type_code.startswith("System.")


class Definitions:
    """The cached StructureDefinitions as element tables, by type name."""

    def __init__(self, cache: Path) -> None:
        self.elements: dict[str, dict[str, _Element]] = {}
        self.kinds: dict[str, str] = {}
        for path in sorted(cache.glob("StructureDefinition-*.json")):
            sd = json.loads(path.read_text(encoding="utf-8"))
            name = sd["type"] if sd.get("derivation") != "constraint" else sd["id"]
            self.kinds[name] = sd["kind"]
            table: dict[str, _Element] = {}
            for el in sd["snapshot"]["element"]:
                invariants = tuple(
                    Invariant(c["key"], c["severity"], c["human"], c["expression"])
                    for c in el.get("constraint", ())
                    if c.get("expression")
                )
                ref = el.get("contentReference")
                table[el["path"]] = _Element(
                    el["path"],
                    tuple(_type_code(t) for t in el.get("type", ())),
                    ref.split("#", 1)[1] if ref else None,
                    invariants,
                )
            self.elements[name] = table
        self._children: dict[tuple[str, str], dict[str, tuple[_Element, str]]] = {}
        self._inline: set[tuple[str, str]] = set()
        for name, table in self.elements.items():
            for el_path in table:
                parent, _, _ = el_path.rpartition(".")
                if parent:
                    self._inline.add((name, parent))

    def invariants(self) -> Iterator[tuple[str, str, Invariant]]:
        """(type, element path, invariant) of every constraint with an expression."""
        for name, table in self.elements.items():
            for el in table.values():
                for inv in el.invariants:
                    yield name, el.path, inv

    def has_inline_children(self, sd: str, path: str) -> bool:
        return (sd, path) in self._inline

    def children(self, sd: str, path: str) -> dict[str, tuple[_Element, str]]:
        """JSON property name -> (element, its type) of the children of ``path`` in ``sd``."""
        key = (sd, path)
        found = self._children.get(key)
        if found is None:
            found = {}
            prefix = path + "."
            for el_path, el in self.elements[sd].items():
                if not el_path.startswith(prefix) or "." in el_path[len(prefix) :]:
                    continue
                name = el_path[len(prefix) :]
                if name.endswith("[x]"):
                    for t in el.types:
                        found[name[:-3] + t[0].upper() + t[1:]] = (el, t)
                elif el.content_ref:
                    found[name] = (el, "BackboneElement")
                else:
                    found[name] = (el, el.types[0] if len(el.types) == 1 else "")
            self._children[key] = found
        return found


# -- the engine -----------------------------------------------------------------------------------


def _has_value(inputs: list[Any]) -> bool:
    # fhirpathpy yields a primitive with a "_x" twin as two items, the value and the twin's
    # object: only objects made of id/extension are the twin.
    values = [i for i in inputs if not isinstance(i, dict)]
    twins_only = all(set(i) <= {"id", "extension"} for i in inputs if isinstance(i, dict))
    return len(values) == 1 and values[0] is not None and twins_only


def _user_functions(resolver: Callable[[Any], Any]) -> dict[str, Any]:
    return {
        "hasValue": {"fn": lambda inputs: [_has_value(inputs)], "arity": {0: []}},
        "resolve": {
            "fn": lambda inputs: [r for i in inputs for r in resolver(i)],
            "arity": {0: []},
        },
    }


def _identifiers_under(expression: str, node_type: str) -> set[str]:
    names: set[str] = set()

    def walk(node: dict[str, Any], inside: bool) -> None:
        if inside and node.get("type") == "Identifier":
            names.add(str(node["text"]).strip("`"))
            return
        for child in node.get("children", ()):
            walk(child, node.get("type") == node_type)

    walk(parse(expression), False)
    return names


def functions_of(expression: str) -> set[str]:
    """Names of the functions an expression calls (from fhirpathpy's parse tree)."""
    return _identifiers_under(expression, "Functn")


def variables_of(expression: str) -> set[str]:
    """Names of the environment variables (``%resource``...) an expression reads."""
    return _identifiers_under(expression, "ExternalConstant")


def engine_functions() -> frozenset[str]:
    """Functions fhirpathpy evaluates, with the ones supplied here."""
    return frozenset(invocation_registry) | SUPPLIED_FUNCTIONS


class Evaluator:
    """Checks resources against every invariant of the cached R5 package."""

    def __init__(self, cache: Path) -> None:
        self.definitions = Definitions(cache)
        self._bundle: dict[str, dict[str, Any]] = {}
        self._root: dict[str, Any] = {}
        options = {
            "userInvocationTable": _user_functions(self._resolve),
            "traceFn": lambda *_: None,
        }
        self._compiled: dict[str, Callable[..., list[Any]]] = {}
        for _, _, inv in self.definitions.invariants():
            if inv.key not in SKIPPED and inv.expression not in self._compiled:
                self._compiled[inv.expression] = fhirpathpy.compile(
                    inv.expression, _R5_MODEL, options
                )

    # resolve(): a Reference (or its reference string) to the resource it names, if here
    def _resolve(self, item: Any) -> list[Any]:
        ref = item.get("reference") if isinstance(item, dict) else item
        if not isinstance(ref, str):
            return []
        if ref.startswith("#"):
            if ref == "#":
                return [ResourceNode.create_node(self._root)]
            for res in self._root.get("contained", ()):
                if isinstance(res, dict) and res.get("id") == ref[1:]:
                    return [ResourceNode.create_node(res)]
            return []
        found = self._bundle.get(ref)
        if found is None:
            found = next((r for url, r in self._bundle.items() if url.endswith("/" + ref)), None)
        return [ResourceNode.create_node(found)] if found is not None else []

    def check(self, resource: dict[str, Any]) -> Report:
        """Every invariant of ``resource`` (and of the resources inside it)."""
        report = Report()
        self._visit_resource(resource, str(resource.get("resourceType")), None, report)
        return report

    def _visit_resource(
        self,
        resource: Any,
        where: str,
        container: ResourceNode | None,
        report: Report,
    ) -> None:
        rtype = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(rtype, str) or rtype not in self.definitions.elements:
            report.problems.append(
                Outcome("-", "error", where, f"no cached R5 StructureDefinition for {rtype!r}")
            )
            return
        saved = self._bundle, self._root
        if rtype == "Bundle":
            self._bundle = {
                e["fullUrl"]: e["resource"]
                for e in resource.get("entry", ())
                if isinstance(e, dict)
                and isinstance(e.get("fullUrl"), str)
                and isinstance(e.get("resource"), dict)
            }
        node = ResourceNode.create_node(resource, rtype)
        root = container if container is not None else node
        if container is None:
            self._root = resource
        env = {"resource": node, "rootResource": root}
        try:
            self._visit(rtype, rtype, rtype, resource, None, where, env, report)
        finally:
            self._bundle, self._root = saved

    def _visit(
        self,
        sd: str,
        el_path: str,
        type_code: str,
        value: Any,
        twin: Any,
        where: str,
        env: dict[str, ResourceNode],
        report: Report,
    ) -> None:
        element = self.definitions.elements[sd][el_path]
        invariants: dict[str, Invariant] = {i.key: i for i in element.invariants}
        if element.content_ref:  # the referenced element's own constraints apply here too
            for inv in self.definitions.elements[sd][element.content_ref].invariants:
                invariants.setdefault(inv.key, inv)
        # Where the children are: inline (backbone), a content reference, or the datatype.
        child_sd, child_path = sd, element.content_ref or el_path
        if not self.definitions.has_inline_children(sd, child_path):
            if type_code in self.definitions.elements and el_path != sd:
                child_sd, child_path = type_code, type_code
                root = self.definitions.elements[type_code][type_code]
                for inv in root.invariants:
                    invariants.setdefault(inv.key, inv)
            elif _is_primitive(type_code):
                child_sd, child_path = "PrimitiveType", "PrimitiveType"
        # The node as fhirpathpy types it: the element path for backbones, else the type.
        if sd == el_path:
            fp_type = sd
        elif child_sd == sd:
            fp_type = child_path
        else:
            fp_type = type_code
        data = value if value is not None else twin
        node = ResourceNode.create_node(data, fp_type)
        for inv in invariants.values():
            self._evaluate(inv, node, data, where, env, report)
        # Children: the object's properties, or a primitive's id/extension in its twin.
        holder = data if isinstance(data, dict) else None
        if holder is None:
            if isinstance(twin, dict):
                holder = twin
            else:
                return
        children = self.definitions.children(child_sd, child_path)
        for key in holder:
            if key == "resourceType" and sd == el_path:
                continue
            name = key[1:] if key.startswith("_") else key
            if key.startswith("_") and name in holder:
                continue  # visited with its value
            spec = children.get(name)
            if spec is None:
                report.problems.append(
                    Outcome("-", "error", f"{where}.{key}", f"not an element of R5 {child_path}")
                )
                continue
            child, child_type = spec
            raw, raw_twin = holder.get(name), holder.get("_" + name)
            if isinstance(raw, list) or isinstance(raw_twin, list):
                items = raw if isinstance(raw, list) else []
                twins = raw_twin if isinstance(raw_twin, list) else []
                for i in range(max(len(items), len(twins))):
                    item = items[i] if i < len(items) else None
                    item_twin = twins[i] if i < len(twins) else None
                    self._child(
                        child,
                        child_type,
                        item,
                        item_twin,
                        f"{where}.{name}[{i}]",
                        child_sd,
                        env,
                        report,
                    )
            else:
                self._child(
                    child, child_type, raw, raw_twin, f"{where}.{name}", child_sd, env, report
                )

    def _child(
        self,
        child: _Element,
        child_type: str,
        value: Any,
        twin: Any,
        where: str,
        sd: str,
        env: dict[str, ResourceNode],
        report: Report,
    ) -> None:
        if child_type == "Resource":
            contained = child.path.endswith(".contained")
            self._visit_resource(value, where, env["rootResource"] if contained else None, report)
            return
        if value is None and twin is None:
            return
        if not child_type:
            report.problems.append(Outcome("-", "error", where, "element of unknown type"))
            return
        self._visit(sd, child.path, child_type, value, twin, where, env, report)

    def _evaluate(
        self,
        inv: Invariant,
        node: ResourceNode,
        data: Any,
        where: str,
        env: dict[str, ResourceNode],
        report: Report,
    ) -> None:
        if inv.key in SKIPPED:
            check = HAND_CHECKS.get(inv.key)
            if check is None:
                return
            holds = check(data)
        else:
            try:
                result = self._compiled[inv.expression](node, {**env, "context": node})
            except Exception as exc:  # any engine failure is reported, never ignored
                report.problems.append(
                    Outcome(
                        inv.key,
                        inv.severity,
                        where,
                        f"fhirpathpy cannot evaluate {inv.expression!r} "
                        f"({type(exc).__name__}: {exc}); fix it or add the key to SKIPPED",
                    )
                )
                return
            holds = result != [False] and result != []
        report.evaluated[inv.key] += 1
        if not holds:
            outcome = Outcome(inv.key, inv.severity, where, inv.human)
            (report.failures if inv.severity == "error" else report.warnings).append(outcome)


@functools.cache
def _evaluator(cache: Path) -> Evaluator:
    return Evaluator(cache)


def evaluator() -> Evaluator:
    """The evaluator over HL7's cached R5 package; skips the test without it (fails in CI)."""
    return _evaluator(require_r5_validator().cache)


def invariant_report(resource: dict[str, Any]) -> Report:
    """Failures, warnings and engine problems of ``resource``."""
    return evaluator().check(resource)


def invariant_failures(resource: dict[str, Any]) -> list[str]:
    """Error-level invariant failures of ``resource``, as ``"key at path: human"``.

    Expressions the engine could not evaluate (and are not in ``SKIPPED``) are listed too, so
    that no check is silently lost.
    """
    report = invariant_report(resource)
    return [str(o) for o in report.failures + report.problems]


def invariant_warnings(resource: dict[str, Any]) -> list[str]:
    """Warning-level invariant failures of ``resource``, as ``"key at path: human"``."""
    return [str(o) for o in invariant_report(resource).warnings]
