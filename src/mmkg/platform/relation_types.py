"""The graph's raw-relation-name → relationship-type mapping, kept on ``:RelationType`` nodes."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from mmkg.errors import QueryError
from mmkg.graph_schema import assign_relation_types, validate_identifier
from mmkg.graph_schema import queries as Q
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)


class RelationTypeMap:
    """Cached view of the mapping; new names get types that are stored before first use."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.by_name: dict[str, str] = {}
        self.created = 0
        self.refresh()

    def refresh(self) -> None:
        self.by_name = {row["name"]: row["type"] for row in self.graph.read(Q.RELATION_TYPES)}

    def types_for(self, names: Iterable[str]) -> dict[str, str]:
        """Types of ``names``, creating the missing mappings (idempotently) in the graph."""
        wanted = set(names)
        missing = wanted - self.by_name.keys()
        for _attempt in range(3):
            if not missing:
                break
            assigned = assign_relation_types(missing, taken=self.by_name.values())
            rows = [{"name": n, "type": t} for n, t in sorted(assigned.items())]
            try:
                stored, counters = self.graph.write_result(Q.CREATE_RELATION_TYPES, {"rows": rows})
            except QueryError as e:
                # Another loader took one of these types in the meantime: reload and retry.
                log.info("relation type mapping changed concurrently (%s); retrying", e)
                self.refresh()
                missing = wanted - self.by_name.keys()
                continue
            # What this transaction created, not what it asked for: a concurrent loader may
            # have created the same mapping a moment earlier.
            self.created += counters.nodes_created
            for row in stored:
                self.by_name[row["name"]] = validate_identifier(row["type"], "relationship type")
            missing = wanted - self.by_name.keys()
        if missing:
            raise QueryError(f"could not map relation names {sorted(missing)[:5]} to types")
        return {n: self.by_name[n] for n in wanted}
