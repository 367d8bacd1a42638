"""A profile checker driven by StructureDefinition differentials (the HL7 dicom-sr IG's).

:class:`Profiles` loads every ``StructureDefinition-*.json`` of a folder (the IG's
conformance resources in ``../shared/hl7-dicom-sr-ig``) and checks a resource
against each profile it claims in ``meta.profile``: the differentials of the
profile and of its base profiles in the folder, merged by element id, give for
each element

* ``min`` / ``max``, counted per instance of the parent element (nested paths,
  choice types ``value[x]``, slices);
* ``fixed[x]`` (equal) and ``pattern[x]`` (the value contains the pattern);
* a ``required`` binding: the codes must be in the ValueSet (or CodeSystem) found in
  the folder or in HL7's R5 package cache; else the binding is listed in
  :attr:`Profiles.not_checkable`;
* slicing: each item is matched to slices by the discriminators (``value`` /
  ``pattern``, ``type``, ``profile``, ``exists``); each slice's min/max; a
  ``closed`` slicing takes no item outside its slices;
* ``type``: a choice restricted to some types takes no other; a Reference's
  ``targetProfile``: the referenced resource of the graph claims one of them (a
  core resource type: the reference names that type).

Nothing here names a profile: what is checked is what the JSON says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["CORE", "Profiles", "contains", "load_profiles"]

#: canonical base of R5 core's resource StructureDefinitions
CORE = "http://hl7.org/fhir/StructureDefinition/"

Node = tuple[str, Any]  # (JSON key it was found under, value)


def contains(value: Any, pattern: Any) -> bool:
    """Whether ``value`` contains ``pattern`` (FHIR pattern[x] semantics).

    Objects: every key of the pattern is in the value and contains its pattern;
    arrays: every pattern item is contained by some value item; primitives: equal.
    """
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and contains(value[k], v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(contains(v, p) for v in items) for p in pattern)
    return bool(value == pattern)


def _prefixed(elem: Mapping[str, Any], prefix: str) -> tuple[str, Any] | None:
    for k, v in elem.items():
        if k.startswith(prefix) and len(k) > len(prefix) and k[len(prefix)].isupper():
            return k, v
    return None


def _steps(element_id: str) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for part in element_id.split("."):
        name, _, slice_name = part.partition(":")
        out.append((name, slice_name or None))
    return out


def _join(steps: Iterable[tuple[str, str | None]]) -> str:
    return ".".join(f"{n}:{s}" if s else n for n, s in steps)


def _literal_target(ref: Mapping[str, Any]) -> tuple[str, str] | None:
    literal = str(ref.get("reference") or "")
    m = re.fullmatch(r"(?:.*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9.\-]{1,64})", literal)
    return (m.group(1), m.group(2)) if m else None


class Profiles:
    """The StructureDefinitions of a folder, and a checker of resources that claim them.

    Parameters
    ----------
    folder : Path
        Holds ``StructureDefinition-*.json`` (and maybe ``ValueSet-*`` / ``CodeSystem-*``).
    terminology : iterable of Path
        More folders to find ValueSets and CodeSystems in (HL7's R5 package cache).
    """

    def __init__(self, folder: Path, terminology: Iterable[Path] = ()) -> None:
        self.sds: dict[str, dict[str, Any]] = {}
        for f in sorted(folder.glob("StructureDefinition-*.json")):
            sd = json.loads(f.read_text(encoding="utf-8"))
            self.sds[sd["url"]] = sd
        self.value_sets: dict[str, dict[str, Any]] = {}
        self.code_systems: dict[str, dict[str, Any]] = {}
        for d in (folder, *terminology):
            for f in sorted(d.glob("ValueSet-*.json")):
                vs = json.loads(f.read_text(encoding="utf-8"))
                self.value_sets.setdefault(vs["url"], vs)
            for f in sorted(d.glob("CodeSystem-*.json")):
                cs = json.loads(f.read_text(encoding="utf-8"))
                self.code_systems.setdefault(cs["url"], cs)
        #: required bindings met that could not be checked (no ValueSet / CodeSystem here)
        self.not_checkable: set[str] = set()
        self._merged: dict[str, dict[str, dict[str, Any]]] = {}

    # ---- the profile: its differential merged over those of its bases in the folder

    def chain(self, url: str) -> list[dict[str, Any]]:
        """The profile and its bases in the folder, base first."""
        out: list[dict[str, Any]] = []
        while url in self.sds:
            sd = self.sds[url]
            out.insert(0, sd)
            url = sd.get("baseDefinition", "")
        return out

    def elements(self, url: str) -> dict[str, dict[str, Any]]:
        """Element id -> the element's rules, differentials merged base first."""
        if url not in self._merged:
            merged: dict[str, dict[str, Any]] = {}
            for sd in self.chain(url):
                for elem in sd["differential"]["element"]:
                    merged[elem["id"]] = {**merged.get(elem["id"], {}), **elem}
            self._merged[url] = merged
        return self._merged[url]

    # ---- walking the resource by element id

    def _children(self, node: Any, name: str) -> list[Node]:
        if not isinstance(node, dict):
            return []
        if name.endswith("[x]"):
            found = _prefixed(node, name[:-3])
            return [found] if found else []
        out: list[Node] = []
        if name in node:
            value = node[name]
            out.extend((name, v) for v in (value if isinstance(value, list) else [value]))
        elif f"_{name}" in node:  # a primitive with only extensions (data-absent-reason)
            value = node[f"_{name}"]
            out.extend((name, v) for v in (value if isinstance(value, list) else [value]))
        return out

    def _at(self, node: Any, path: str) -> list[Any]:
        current: list[Any] = [node]
        if path == "$this":
            return current
        for name in path.split("."):
            current = [v for n in current for _, v in self._children(n, name)]
        return current

    def nodes(
        self, resource: dict[str, Any], element_id: str, url: str, graph: Mapping[str, Any]
    ) -> list[list[Node]]:
        """The nodes at ``element_id``, grouped by instance of the parent element."""
        steps = _steps(element_id)
        parents: list[Any] = [resource]
        for i in range(1, len(steps)):
            prefix = steps[: i + 1]
            groups = [self._step(p, prefix, url, graph) for p in parents]
            if i == len(steps) - 1:
                return groups
            parents = [v for g in groups for _, v in g]
        return [[("", resource)]]

    def _step(
        self, parent: Any, prefix: list[tuple[str, str | None]], url: str, graph: Mapping[str, Any]
    ) -> list[Node]:
        name, slice_name = prefix[-1]
        found = self._children(parent, name)
        if slice_name is None:
            return found
        base_id = _join([*prefix[:-1], (name, None)])
        slice_id = _join(prefix)
        return [n for n in found if self._in_slice(n, base_id, slice_id, url, graph)]

    def _in_slice(
        self, node: Node, base_id: str, slice_id: str, url: str, graph: Mapping[str, Any]
    ) -> bool:
        elems = self.elements(url)
        slicing = elems.get(base_id, {}).get("slicing") or {}
        key, value = node
        for disc in slicing.get("discriminator") or []:
            dtype, path = disc["type"], disc["path"]
            target_id = slice_id if path in ("$this", "resolve()") else f"{slice_id}.{path}"
            rule = elems.get(target_id, {})
            if dtype in ("value", "pattern"):
                fixed = _prefixed(rule, "fixed") or _prefixed(rule, "pattern")
                if fixed is None:
                    continue
                if not any(contains(v, fixed[1]) for v in self._at(value, path)):
                    return False
            elif dtype == "exists":
                present = bool(self._at(value, path))
                if present != (int(rule.get("min", 0)) >= 1):
                    return False
            elif dtype == "type":
                types = elems.get(slice_id, {}).get("type") or []
                if path == "$this":
                    if key not in {
                        f"{base_id.rsplit('.', 1)[-1][:-3]}{t['code'][0].upper()}{t['code'][1:]}"
                        for t in types
                    }:
                        return False
                else:
                    targets = [p for t in types for p in t.get("targetProfile", [])]
                    refs = self._at(value, path) if path != "reference" else [value]
                    if not any(
                        self._resource_type(r, graph) in {self._type_of(p) for p in targets}
                        for r in refs
                    ):
                        return False
            elif dtype == "profile":
                types = elems.get(slice_id, {}).get("type") or []
                targets = {p for t in types for p in t.get("targetProfile", [])}
                target = self._resolve(value, graph)
                claimed = set((target or {}).get("meta", {}).get("profile") or [])
                if not targets & claimed:
                    return False
        return True

    def _type_of(self, profile: str) -> str | None:
        if profile.startswith(CORE):
            return profile[len(CORE) :]
        sd = self.sds.get(profile)
        return str(sd["type"]) if sd else None

    def _resource_type(self, ref: Any, graph: Mapping[str, Any]) -> str | None:
        if not isinstance(ref, dict):
            return None
        target = self._resolve(ref, graph)
        if target is not None:
            return str(target["resourceType"])
        literal = _literal_target(ref)
        return literal[0] if literal else ref.get("type")

    @staticmethod
    def _resolve(ref: Any, graph: Mapping[str, Any]) -> dict[str, Any] | None:
        if not isinstance(ref, dict):
            return None
        literal = str(ref.get("reference") or "")
        target = graph.get(literal)
        if target is None:
            found = _literal_target(ref)
            target = graph.get(f"{found[0]}/{found[1]}") if found else None
        if target is None and literal.startswith("urn:uuid:"):
            target = graph.get(literal)
        return target

    # ---- the checks

    def check(self, resource: dict[str, Any], graph: Mapping[str, Any] | None = None) -> list[str]:
        """Every way ``resource`` fails the profiles it claims (empty: it meets them).

        Parameters
        ----------
        resource : dict
        graph : mapping of str to dict, optional
            ``Type/id`` (and ``urn:uuid:id``) -> resource: the other resources of the
            output, to resolve references for ``targetProfile`` and ``profile`` slices.

        Returns
        -------
        list of str
        """
        graph = graph or {}
        failures: list[str] = []
        for url in (resource.get("meta") or {}).get("profile") or []:
            if url not in self.sds:
                failures.append(f"claims {url}, which is not among the StructureDefinitions")
                continue
            if self.sds[url]["type"] != resource["resourceType"]:
                failures.append(f"{url} profiles {self.sds[url]['type']}")
                continue
            name = self.sds[url]["id"]
            for eid, rule in self.elements(url).items():
                for msg in self._check_element(resource, eid, rule, url, graph):
                    failures.append(f"{name}: {eid}: {msg}")
        return failures

    def _check_element(
        self,
        resource: dict[str, Any],
        eid: str,
        rule: dict[str, Any],
        url: str,
        graph: Mapping[str, Any],
    ) -> Iterable[str]:
        if "." not in eid:
            return
        for group in self.nodes(resource, eid, url, graph):
            count = len(group)
            if "min" in rule and count < int(rule["min"]):
                yield f"{count} found, min {rule['min']}"
            mx = rule.get("max")
            if mx not in (None, "*") and count > int(mx):
                yield f"{count} found, max {mx}"
            fixed = _prefixed(rule, "fixed")
            pattern = _prefixed(rule, "pattern")
            for key, value in group:
                if fixed is not None and value != fixed[1]:
                    yield f"{fixed[0]} {json.dumps(fixed[1])} != {json.dumps(value)}"
                if pattern is not None and not contains(value, pattern[1]):
                    yield f"{pattern[0]} {json.dumps(pattern[1])} not in {json.dumps(value)}"
                yield from self._check_types(key, value, rule, eid, graph)
                yield from self._check_binding(value, rule, eid)
            slicing = rule.get("slicing")
            if slicing and slicing.get("rules") == "closed":
                slices = [
                    k
                    for k in self.elements(url)
                    if k.startswith(f"{eid}:") and "." not in k[len(eid) + 1 :]
                ]
                for node in group:
                    if not any(self._in_slice(node, eid, s, url, graph) for s in slices):
                        yield f"closed slicing: {json.dumps(node[1])} is in no slice"

    def _check_types(
        self, key: str, value: Any, rule: dict[str, Any], eid: str, graph: Mapping[str, Any]
    ) -> Iterable[str]:
        types = rule.get("type") or []
        if not types:
            return
        name = eid.rsplit(".", 1)[-1].split(":")[0]
        if name.endswith("[x]"):
            allowed = {f"{name[:-3]}{t['code'][0].upper()}{t['code'][1:]}" for t in types}
            if key not in allowed:
                yield f"{key} is not among the types {sorted(allowed)}"
        for t in types:
            targets = t.get("targetProfile") or []
            if not targets or not isinstance(value, dict):
                continue
            ref = value.get("reference") if t["code"] == "CodeableReference" else value
            if not isinstance(ref, dict):
                continue
            target = self._resolve(ref, graph)
            ig_targets = [p for p in targets if not p.startswith(CORE)]
            if target is None:
                if ig_targets and not [p for p in targets if p.startswith(CORE)]:
                    yield f"reference {json.dumps(ref)} does not resolve in the graph"
                    continue
                rtype = self._resource_type(ref, graph)
                wanted = {self._type_of(p) for p in targets}
                if rtype is not None and rtype not in wanted:
                    yield f"reference to a {rtype}, not {sorted(w or '?' for w in wanted)}"
                continue
            claimed = set((target.get("meta") or {}).get("profile") or [])
            ok = any(
                (p.startswith(CORE) and target["resourceType"] == p[len(CORE) :]) or p in claimed
                for p in targets
            )
            if not ok:
                yield (
                    f"{target['resourceType']}/{target['id']} claims none of "
                    f"{sorted(targets)} (claims {sorted(claimed)})"
                )

    def _codes(self, value_set: str) -> set[tuple[str | None, str]] | None:
        url = value_set.split("|", 1)[0]
        if url in self.code_systems:
            return self._cs_codes(url)
        vs = self.value_sets.get(url)
        if vs is None:
            return None
        out: set[tuple[str | None, str]] = set()
        for inc in (vs.get("compose") or {}).get("include") or []:
            system = inc.get("system")
            if inc.get("concept"):
                out.update((system, c["code"]) for c in inc["concept"])
            elif system in self.code_systems and not inc.get("filter"):
                out.update(self._cs_codes(system))
            else:
                return None
        return out

    def _cs_codes(self, url: str) -> set[tuple[str | None, str]]:
        out: set[tuple[str | None, str]] = set()

        def walk(concepts: list[dict[str, Any]]) -> None:
            for c in concepts:
                out.add((url, c["code"]))
                walk(c.get("concept") or [])

        walk(self.code_systems[url].get("concept") or [])
        return out

    def _check_binding(self, value: Any, rule: dict[str, Any], eid: str) -> Iterable[str]:
        binding = rule.get("binding") or {}
        if binding.get("strength") != "required" or "valueSet" not in binding:
            return
        codes = self._codes(binding["valueSet"])
        if codes is None:
            self.not_checkable.add(f"{eid}: {binding['valueSet']}")
            return
        if isinstance(value, str):
            if value not in {c for _, c in codes}:
                yield f"code {value!r} not in {binding['valueSet']}"
            return
        codings = (
            value.get("coding", []) if isinstance(value, dict) and "coding" in value else [value]
        )
        for c in codings:
            if isinstance(c, dict) and (c.get("system"), c.get("code")) not in codes:
                yield f"coding {c.get('system')}|{c.get('code')} not in {binding['valueSet']}"


def load_profiles(folder: Path, terminology: Iterable[Path] = ()) -> Profiles:
    """The :class:`Profiles` of ``folder`` (see the module docstring)."""
    return Profiles(folder, terminology)


def graph_of(resources: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``Type/id`` and ``urn:uuid:id`` -> resource, for :meth:`Profiles.check`."""
    out: dict[str, dict[str, Any]] = {}
    for r in resources:
        out[f"{r['resourceType']}/{r['id']}"] = r
        out[f"urn:uuid:{r['id']}"] = r
    return out
