"""The SR content tree: one node per content item, walked once; by-reference items resolved.

The tree is walked iteratively (trees thousands of levels deep) and
by-reference relationships (Referenced Content Item Identifier) are resolved
with loop detection.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydicom.dataset import Dataset

from dicomsel.dicom.context import ReadContext
from dicomsel.dicom.items import (
    Item,
    code_of,
    concept_of,
    dotted,
    get_numbers,
    get_seq,
    get_text,
)
from dicomsel.dicom.sr.concepts import GROUP
from dicomsel.dicom.tags import (
    ConceptNameCodeSequence,
    ContentSequence,
    ReferencedContentItemIdentifier,
    RelationshipType,
    ValueType,
)
from dicomsel.dicom.values import attr_name
from dicomsel.errors import InvalidInputError

__all__ = ["Node", "Tree", "walk"]


class Node:
    """One content item: where it is, what it is, and what became of it."""

    __slots__ = (
        "children",
        "concept",
        "group",
        "item",
        "keys",
        "owner",
        "parent",
        "path",
        "ref",
        "rel",
        "vt",
    )

    def __init__(self, item: Item, path: tuple[int, ...], parent: Node | None) -> None:
        self.item = item
        self.path = path
        self.parent = parent
        self.children: list[Node] = []
        self.vt = (get_text(item, ValueType) or "").upper()
        self.rel = (get_text(item, RelationshipType) or "").upper()
        self.concept = concept_of(item)
        try:
            ref = get_numbers(item, ReferencedContentItemIdentifier)
        except InvalidInputError:
            ref = []
        self.ref: tuple[int, ...] | None = None if ref is None else _ref_path(ref)
        #: the nearest enclosing Measurement Group (itself for a group)
        self.group: Node | None = None
        #: the nearest enclosing NUM or group: whose selections these are
        self.owner: Node | None = None
        #: keys of the selections this item produced
        self.keys: list[str] = []

    @property
    def where(self) -> str:
        """``content item 1.2 (NUM)``: the item as messages name it."""
        return f"content item {dotted(self.path)} ({self.vt or 'by reference'})"

    def name(self) -> str:
        """The item's concept name, quoted, for messages.

        Returns
        -------
        str
        """
        code = code_of(self.item, ConceptNameCodeSequence)
        return repr(code.meaning or code.value) if code is not None else "(no concept name)"


def _ref_path(raw: object) -> tuple[int, ...]:
    """A Referenced Content Item Identifier as a path; () when it cannot be read."""
    try:
        values = [raw] if isinstance(raw, int) else list(raw)  # type: ignore[call-overload]
        return tuple(int(v) for v in values)
    except (TypeError, ValueError):
        return ()


def walk(ds: Dataset) -> list[Node]:
    """Every content item in document order, root first; iterative, so any depth.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The document: the root node.

    Returns
    -------
    list of Node
    """
    root = Node(ds, (1,), None)
    nodes: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        parent_group = node.parent.group if node.parent is not None else None
        parent_owner = node.parent.owner if node.parent is not None else None
        is_group = node.vt == "CONTAINER" and node.concept == GROUP
        node.group = node if is_group else parent_group
        node.owner = node if is_group or node.vt == "NUM" else parent_owner
        children = get_seq(node.item, ContentSequence)
        if children:
            base = node.path
            node.children = [Node(c, (*base, i), node) for i, c in enumerate(children, 1)]
            stack.extend(reversed(node.children))
    return nodes


class Tree:
    """The content items of one document, and how by-reference items resolve.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The document.
    ctx : ReadContext
        Where unresolvable references are reported.
    """

    def __init__(self, ds: Dataset, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.nodes = walk(ds)
        self.root = self.nodes[0]
        self.by_path = {n.path: n for n in self.nodes}
        self.resolved: dict[int, Node | None] = {}

    def _warn(self, message: str) -> None:
        self.ctx.warn(message)

    def resolve(self, node: Node) -> Node | None:
        """The item a by-reference item points to (following chains); None, reported, if none.

        A reference to the item itself or one of its ancestors, or a chain of
        references that comes back on itself, is a loop.

        Parameters
        ----------
        node : Node

        Returns
        -------
        Node or None
        """
        cached = self.resolved.get(id(node), node)
        if cached is not node:
            return cached
        seen = {node.path}
        current: Node | None = node
        while current is not None and current.ref is not None:
            current = self._follow(current, node, seen)
        self.resolved[id(node)] = current
        return current

    def _follow(self, current: Node, node: Node, seen: set[tuple[int, ...]]) -> Node | None:
        """One step of :meth:`resolve`: the target of ``current``, or None (reported)."""
        assert current.ref is not None
        target = self.by_path.get(current.ref)
        where = f"{current.where}: {attr_name('ReferencedContentItemIdentifier')}"
        if target is None:
            self._warn(f"{where} {dotted(current.ref)!r} names no content item: left out")
            return None
        if target.path in seen or node.path[: len(target.path)] == target.path:
            self._warn(
                f"{where} {dotted(current.ref)}: by-reference loop "
                f"(back to {dotted(target.path)}): left out"
            )
            return None
        seen.add(target.path)
        return target

    def children(self, node: Node) -> Iterator[Node]:
        """The children of ``node``, by-reference ones resolved to their targets.

        Parameters
        ----------
        node : Node

        Yields
        ------
        Node
        """
        for child in node.children:
            if child.ref is None:
                yield child
            else:
                target = self.resolve(child)
                if target is not None:
                    yield target
