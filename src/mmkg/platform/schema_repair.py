"""Finding and merging nodes that break the schema's uniqueness constraints.

Such duplicates can only come from writes made while the schema was not applied (two loads at
once on a fresh server, before mmkg applied the schema on start). ``mmkg schema apply`` refuses
to go on while they exist and names them; :func:`repair_duplicates` merges each group into one
node, deterministically (the one with the smallest element id stays), keeping every
relationship and property, then removes duplicated relationships between the same entities.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from mmkg.errors import SchemaError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.model import RELATION_TYPE, UNIQUE_KEYS
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)

_SAMPLE = 5
_MERGE_BATCH = 500


@dataclass
class Duplicates:
    label: str
    key: str
    groups: int  # distinct values held by more than one node
    extra: int  # nodes beyond the first of each group
    sample: list[Any] = field(default_factory=list)

    def describe(self) -> str:
        shown = ", ".join(repr(v) for v in self.sample)
        return (
            f"{self.extra} extra :{self.label} node(s) over {self.groups} {self.key}(s) "
            f"(e.g. {shown})"
        )


@dataclass
class RepairReport:
    dry_run: bool
    duplicates: list[dict[str, Any]]
    nodes_removed: int = 0
    relationships_moved: int = 0
    relationships_retyped: int = 0
    duplicate_relationships: int = 0
    relationships_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_duplicates(graph: Graph) -> list[Duplicates]:
    """Every unique key of the schema that some nodes share."""
    found = []
    for label, key in UNIQUE_KEYS:
        row = graph.read(Q.count_duplicates(label, key), {"sample": _SAMPLE})[0]
        if row["groups"]:
            found.append(
                Duplicates(label, key, int(row["groups"]), int(row["extra"]), row["sample"])
            )
    return found


def describe_duplicates(found: list[Duplicates]) -> str:
    return "; ".join(d.describe() for d in found)


def _retype_relation_types(graph: Graph, names: list[str], report: RepairReport) -> None:
    """Relation types sharing a name: the relationships of each type that goes move to the
    type of the node that stays (the smallest element id, as in the merge that follows)."""
    rows = graph.read(Q.RELATION_TYPES_BY_NAME, {"names": names})
    keep: dict[str, str] = {}
    for row in rows:
        stay = keep.setdefault(row["name"], row["type"])
        if row["type"] != stay:
            if not report.dry_run:
                graph.run_autocommit(Q.retype_relationships(row["type"], stay))
            report.relationships_retyped += 1


def repair_duplicates(graph: Graph, dry_run: bool = False) -> RepairReport:
    """Merge every group of duplicated nodes into one; with ``dry_run`` only report.

    Raises:
        SchemaError: two different relation names share one relationship type: their
            relationships cannot be told apart any more, so no merge can be right.
    """
    found = find_duplicates(graph)
    report = RepairReport(dry_run, [asdict(d) for d in found])
    for dup in found:
        if (dup.label, dup.key) == (RELATION_TYPE, "type"):
            raise SchemaError(
                f"{dup.describe()}: different relation names were mapped onto one relationship "
                "type, so their relationships are mixed; delete those relationships and "
                "RelationType nodes and load the triples again"
            )
    for dup in found:
        values = [r["v"] for r in graph.read(Q.duplicate_values(dup.label, dup.key))]
        if (dup.label, dup.key) == (RELATION_TYPE, "name"):
            _retype_relation_types(graph, values, report)
        if dry_run:
            report.nodes_removed += dup.extra
            continue
        query = Q.merge_duplicates(dup.label, dup.key)
        for start in range(0, len(values), _MERGE_BATCH):
            rows = graph.write_rows(query, {"values": values[start : start + _MERGE_BATCH]})
            report.nodes_removed += int(rows[0]["removed"]) if rows else 0
            report.relationships_moved += int(rows[0]["moved"] or 0) if rows else 0
        log.info("merged %d duplicate :%s nodes by %s", dup.extra, dup.label, dup.key)
    row = graph.read(Q.COUNT_DUPLICATE_RELATIONSHIPS)[0]
    report.duplicate_relationships = int(row["extra"])
    if report.duplicate_relationships and not dry_run:
        removed = graph.write_rows(Q.DELETE_DUPLICATE_RELATIONSHIPS)
        report.relationships_removed = int(removed[0]["removed"]) if removed else 0
    return report
