"""``mmkg ingest literals``: numeric attributes of entities (``entity<TAB>attribute<TAB>value``,
MMKB's format), one property per attribute, for fusion's numeric modality."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from mmkg.errors import IngestError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.names import literal_property
from mmkg.platform.ingest.common import batched, require_file, strict_failure
from mmkg.platform.kge.features import parse_literals
from mmkg.platform.schema import require_schema
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)

_BATCH = 5000
_SHOWN = 5


def ingest_literals(
    graph: Graph, path: Path, strict: bool = False, batch: int = _BATCH
) -> dict[str, Any]:
    """Set each literal on its entity (idempotent: a value loaded again is overwritten; an
    attribute repeated for one entity keeps the mean). Entities are not created: ids the graph
    does not have are counted and named. Bad lines are named with file:line; with ``strict``
    any of them fails the load before anything is written, as does a file with no good line.
    """
    started = time.perf_counter()
    path = Path(path)
    require_file(path)
    require_schema(graph)
    rows, rejects = parse_literals(path)
    if rejects and (strict or not rows):
        raise (
            strict_failure(rejects, len(rejects), str(path))
            if strict
            else IngestError(
                f"{path}: none of its {len(rejects)} line(s) is a literal "
                f"(entity<TAB>attribute<TAB>value); first: {rejects[0]}"
            )
        )
    for reject in rejects[:_SHOWN]:
        log.warning("skipped %s", reject)
    written, attributes, missing = write_literals(graph, rows, batch)
    if missing:
        log.warning("%d entity id(s) of %s are not in the graph and got no literals: %s",
                    len(missing), path, ", ".join(sorted(missing)[:_SHOWN]))  # fmt: skip
    return {
        "source": str(path),
        "lines": len(rows) + len(rejects),
        "literals": written,
        "attributes": attributes,
        "unknown_entities": len(missing),
        "unknown_examples": sorted(missing)[:_SHOWN],
        "rejected": len(rejects),
        "seconds": round(time.perf_counter() - started, 3),
    }


def write_literals(
    graph: Graph, rows: list[tuple[int, str, str, float]], batch: int = _BATCH
) -> tuple[int, int, set[str]]:
    """Set ``(position, entity, attribute, value)`` rows on entities the graph has; returns
    the values written, the attributes, and the entity ids it does not have."""
    ids = sorted({e for _, e, _, _ in rows})
    missing: set[str] = set()
    for part in batched(ids, batch):
        missing.update(graph.read(Q.MISSING_ENTITY_IDS, {"ids": list(part)})[0]["missing"])
    cells: dict[str, dict[str, list[float]]] = {}
    for _, ident, attribute, value in rows:
        if ident not in missing:
            cells.setdefault(attribute, {}).setdefault(ident, []).append(value)
    written = 0
    for attribute, values in sorted(cells.items()):
        prop = literal_property(attribute)
        graph.write(Q.MERGE_LITERAL_ATTRIBUTE, {"name": attribute, "property": prop})
        items = [{"id": e, "value": float(np.mean(v))} for e, v in sorted(values.items())]
        for chunk in batched(items, batch):
            graph.write(Q.SET_LITERALS, {"property": prop, "rows": list(chunk)})
            written += len(chunk)
    return written, len(cells), missing
