"""Loading interaction logs: ``(:User {id})-[:INTERACTED {weight, at}]->(:Entity)``.

Every line is read and every item checked against the graph before anything is written: a line
that cannot be read is a reject (file:line, in the rejects file); an item that is no entity of
the graph is counted and named, never created (an item is an entity with its facts and media,
which an interaction log cannot supply). A (user, item) pair seen twice keeps its latest line
(an updated rating), so loading the same log again changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkg.errors import IngestError
from mmkg.graph_schema import queries as Q
from mmkg.platform.ingest.common import (
    RejectLog,
    RejectThreshold,
    batched,
    check_threshold,
    default_rejects_path,
    require_file,
    strict_failure,
)
from mmkg.platform.progress import progress
from mmkg.platform.readers.interactions import Interaction, read_interactions
from mmkg.platform.readers.lines import Reject
from mmkg.platform.schema import require_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class InteractionSummary:
    source: str
    records: int = 0
    interactions: int = 0  # distinct (user, item) pairs written
    repeated_pairs: int = 0
    users_created: int = 0
    relationships_created: int = 0
    unknown_items: int = 0  # lines whose item is no entity of the graph
    unknown_examples: list[str] = field(default_factory=list)
    rejected: int = 0
    rejects_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_item_map(path: Path) -> dict[str, str]:
    """``item<TAB or comma>entity id`` per line: how a log's item ids name the graph's
    entities (MovieLens' numeric movie ids, for instance)."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        sep = "\t" if "\t" in line else ","
        parts = [p.strip() for p in line.split(sep)]
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise IngestError(f"{path}:{n}: expected 'item{sep}entity id', got {line!r}")
        out[parts[0]] = parts[1]
    return out


def ingest_interactions(
    graph: Graph,
    path: Path,
    settings: Settings,
    item_map: dict[str, str] | None = None,
    strict: bool = False,
    max_rejects: str | None = None,
    rejects_path: Path | None = None,
    show_progress: bool | None = None,
) -> InteractionSummary:
    """Load an interaction log (formats: :mod:`mmkg.platform.readers.interactions`).

    Raises:
        IngestError: unreadable file, malformed lines under ``strict`` or beyond
            ``max_rejects``, or no line naming an entity of the graph.
    """
    path = Path(path)
    require_file(path)
    require_schema(graph)
    summary = InteractionSummary(str(path))
    threshold = RejectThreshold.parse(max_rejects)
    rows: list[Interaction] = []
    held: list[Reject] = []
    for item in read_interactions(path):
        (held if isinstance(item, Reject) else rows).append(item)  # type: ignore[arg-type]
    total = len(rows) + len(held)
    if strict and held:
        raise strict_failure(held, len(held), str(path))
    check_threshold(threshold, held, len(held), total, str(path))
    summary.records = len(rows)
    latest: dict[tuple[str, str], Interaction] = {}
    for r in rows:
        entity = item_map.get(r.item, r.item) if item_map else r.item
        key = (r.user, entity)
        if key in latest:
            summary.repeated_pairs += 1
            if r.at < latest[key].at:
                continue
        latest[key] = r
    items = sorted({e for _, e in latest})
    known: dict[str, str] = {}
    for chunk in batched(items, settings.ingest_batch_size):
        for row in graph.read(Q.ENTITY_KEYS, {"ids": list(chunk)}):
            known[row["id"]] = row["key"]
    unknown = sorted(set(items) - known.keys())
    if unknown:
        summary.unknown_items = sum(1 for (_, e) in latest if e not in known)
        summary.unknown_examples = unknown[:10]
        log.warning(
            "%s: %d interaction(s) name %d item(s) that are no entity of the graph (%s%s); "
            "they were skipped (load the items as entities first, or map ids with --items)",
            path,
            summary.unknown_items,
            len(unknown),
            ", ".join(unknown[:5]),
            " …" if len(unknown) > 5 else "",
        )
    todo = [
        {"user": u, "key": known[e], "weight": r.weight, "at": r.at}
        for (u, e), r in latest.items()
        if e in known
    ]
    if not todo:
        raise IngestError(
            f"{path}: no interaction names an entity of the graph ({len(latest)} pairs, "
            f"{len(unknown)} unknown items such as {', '.join(unknown[:5])}); nothing was written"
        )
    rejects = RejectLog(rejects_path or default_rejects_path(settings.home, path))
    try:
        for reject in held:
            rejects.add(reject)
    finally:
        rejects.close()
    with progress(len(todo), f"interactions {path.name}", "interaction", show_progress) as bar:
        for part in batched(todo, settings.ingest_batch_size):
            counters = graph.write(Q.MERGE_INTERACTIONS, {"rows": list(part)})
            summary.users_created += counters.nodes_created
            summary.relationships_created += counters.relationships_created
            summary.interactions += len(part)
            bar.update(len(part))
    summary.rejected = rejects.count
    summary.rejects_file = rejects.written_to
    return summary
