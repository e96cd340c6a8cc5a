"""A label tree: every class of the competition is a leaf, and every node has one parent except
the roots (level 1). Read from a CSV with `child` and `parent` columns, one row per edge, any
depth; a leaf may sit at any depth (its ancestors above its own depth are itself)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.data.csv import read_csv
from harness.errors import HarnessError


@dataclass(frozen=True)
class Hierarchy:
    parent: dict[str, str]  # child -> parent; a root has none
    leaves: tuple[str, ...]  # the competition's classes, in its order
    source: str = ""  # the file it came from, for messages

    def path(self, node: str) -> tuple[str, ...]:
        """root, ..., node."""
        out = [node]
        while out[-1] in self.parent:
            out.append(self.parent[out[-1]])
        return tuple(reversed(out))

    @property
    def depth(self) -> int:
        """The number of levels: the longest root-to-leaf path."""
        return max(len(self.path(leaf)) for leaf in self.leaves)

    def ancestor(self, leaf: str, level: int) -> str:
        """`leaf`'s node at `level` (1 = its root; 0 or past its depth = the leaf itself)."""
        path = self.path(leaf)
        return leaf if level <= 0 or level >= len(path) else path[level - 1]

    def nodes(self, level: int) -> tuple[str, ...]:
        """The nodes at `level`, in the order of the first leaf under each (0: the leaves)."""
        return tuple(dict.fromkeys(self.ancestor(leaf, level) for leaf in self.leaves))

    def level_index(self, level: int) -> tuple[tuple[str, ...], list[int]]:
        """The nodes at `level`, and the index among them of each leaf's node there (leaves' order)."""
        nodes = self.nodes(level)
        return nodes, [nodes.index(self.ancestor(leaf, level)) for leaf in self.leaves]

    def under(self, node: str) -> tuple[str, ...]:
        """The leaves below `node` (itself when it is a leaf), in the competition's order."""
        return tuple(leaf for leaf in self.leaves if node in self.path(leaf))

    def check_level(self, level: int, where: str) -> None:
        if not 0 <= level <= self.depth:
            raise HarnessError(f"{where} = {level}: {self.source} has levels 1 to {self.depth} (0: the leaves)")

    def check_node(self, node: str, where: str) -> None:
        if node in self.leaves or node not in set(self.parent.values()):
            inner = sorted(set(self.parent.values()))
            raise HarnessError(f"{where} = {node!r} is not an inner node of {self.source}; its inner nodes are {inner}")


def read_hierarchy(path: Path, classes: Sequence[str]) -> Hierarchy:
    """The tree in `path` over `classes`; one clear line naming the file for a missing column, a
    node with two parents, a cycle, or a class the file does not place."""
    where = str(path)
    table = read_csv(path, ("child", "parent"), missing=f"data.hierarchy: {path} is not a file (a CSV of child,parent "
                     "rows)", hint="a hierarchy file has child and parent columns; its ")
    parent: dict[str, str] = {}
    for row, (child, up) in enumerate(zip(table["child"].str.strip(), table["parent"].str.strip(), strict=True), 2):
        if not child or not up:
            raise HarnessError(f"{where}, line {row}: an empty child or parent")
        if child == up:
            raise HarnessError(f"{where}, line {row}: {child!r} is its own parent")
        if parent.get(child, up) != up:
            raise HarnessError(f"{where}, line {row}: {child!r} has two parents, {parent[child]!r} and {up!r}")
        parent[child] = up
    for start in parent:  # a cycle: following parents comes back to a node already seen
        seen = [start]
        while seen[-1] in parent:
            nxt = parent[seen[-1]]
            if nxt in seen:
                loop = " -> ".join([*seen[seen.index(nxt):], nxt])
                raise HarnessError(f"{where}: a cycle, {loop}")
            seen.append(nxt)
    placed = set(parent)
    missing = [c for c in classes if c not in placed]
    if missing:
        raise HarnessError(f"{where}: class(es) {missing[:5]} of the competition have no parent in the file "
                           f"(every class is a child row)")
    inner = set(parent.values())
    clash = sorted(inner & set(classes))
    if clash:
        raise HarnessError(f"{where}: class(es) {clash[:5]} are also parents; the competition's classes are the leaves")
    stray = sorted(c for c in placed - inner if c not in set(classes))
    if stray:
        raise HarnessError(f"{where}: leaf node(s) {stray[:5]} are not classes of the competition {list(classes)[:10]}")
    return Hierarchy(parent, tuple(classes), where)
