"""Streaming the graph's triples out as integer-id arrays plus id maps, for training.

Entities are numbered in the order of their sorted ids and relations in the order of their
sorted raw names, so the numbering depends only on the graph's content.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j
import numpy as np
import numpy.typing as npt
import psutil

from mmkg.errors import ExportError
from mmkg.graph_schema import queries as Q
from mmkg.platform import atomic
from mmkg.platform.kge.triples import TripleSet
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]


@dataclass
class TripleExport:
    """Triples as an ``int64`` array of shape ``[n, 3]`` (head, relation, tail) and id maps,
    with each entity's and relation type's element id (``entity_keys``, ``relation_keys``)."""

    triples: IntArray
    entity_ids: list[str]
    relation_names: list[str]
    relation_types: list[str]
    entity_keys: list[str] = field(default_factory=list)
    relation_keys: list[str] = field(default_factory=list)

    @property
    def num_entities(self) -> int:
        return len(self.entity_ids)

    @property
    def num_relations(self) -> int:
        return len(self.relation_names)

    def to_triple_set(self) -> TripleSet:
        """The neutral form training takes; the element ids travel on to the write-back."""
        return TripleSet(
            triples=self.triples,
            entity_ids=list(self.entity_ids),
            relation_names=list(self.relation_names),
            entity_keys=list(self.entity_keys) if self.entity_keys else None,
            relation_keys=list(self.relation_keys) if self.relation_keys else None,
        )


@dataclass
class _Snapshot:
    index_of_key: dict[str, int]
    entity_ids: list[str]
    entity_keys: list[str]
    relations: list[dict[str, Any]]


def _snapshot(tx: neo4j.ManagedTransaction) -> _Snapshot:
    record = tx.run(Q.EXPORT_ENTITIES).single()
    keys: list[str] = list(record["keys"]) if record else []
    ids: list[str] = list(record["ids"]) if record else []
    order = sorted(range(len(ids)), key=ids.__getitem__)
    entity_ids = [ids[i] for i in order]
    entity_keys = [keys[i] for i in order]
    relations = [r.data() for r in tx.run(Q.EXPORT_RELATION_TYPES)]
    return _Snapshot({k: i for i, k in enumerate(entity_keys)}, entity_ids, entity_keys, relations)


def _map(snapshot: _Snapshot, keys: list[str]) -> IntArray:
    index = snapshot.index_of_key
    return np.fromiter((index[k] for k in keys), dtype=np.int64, count=len(keys))


def iter_triple_blocks(graph: Graph) -> Iterator[tuple[TripleExport, int, IntArray, IntArray]]:
    """Yield ``(header, relation_index, heads, tails)`` per relation type.

    ``header`` carries the id maps (its ``triples`` is empty). All blocks come from one read
    transaction, hence one consistent state of the graph.
    """

    def work(
        tx: neo4j.ManagedTransaction,
    ) -> tuple[TripleExport, list[tuple[int, IntArray, IntArray]]]:
        snapshot = _snapshot(tx)
        header = TripleExport(
            triples=np.empty((0, 3), dtype=np.int64),
            entity_ids=snapshot.entity_ids,
            relation_names=[r["name"] for r in snapshot.relations],
            relation_types=[r["type"] for r in snapshot.relations],
            entity_keys=snapshot.entity_keys,
            relation_keys=[r["key"] for r in snapshot.relations],
        )
        index_of_type = {r["type"]: i for i, r in enumerate(snapshot.relations)}
        blocks = []
        for record in tx.run(Q.EXPORT_TRIPLES):
            index = index_of_type.get(record["type"])
            if index is None:
                continue  # a relationship type mmkg does not manage (made by hand in Cypher)
            blocks.append((index, _map(snapshot, record["heads"]), _map(snapshot, record["tails"])))
        blocks.sort(key=lambda block: block[0])
        return header, blocks

    header, blocks = graph.read_transaction(work)
    for index, heads, tails in blocks:
        yield header, index, heads, tails


# Client-side bytes per exported triple: two lists of element-id strings from the driver
# (pointer and str object of about 45 characters each) plus the int64 arrays built from them.
_BYTES_PER_TRIPLE = 2 * (8 + 95) + 6 * 8


def estimate_export_bytes(graph: Graph) -> int:
    """Memory an export of the whole graph needs on this side, from the count store."""
    return int(graph.read(Q.COUNT_ALL_RELATIONSHIPS)[0]["n"]) * _BYTES_PER_TRIPLE


def check_export_fits(graph: Graph, headroom: float = 0.8) -> None:
    """Refuse, before anything is fetched, an export that would not fit in available memory."""
    need = estimate_export_bytes(graph)
    available = psutil.virtual_memory().available
    if need > available * headroom:
        raise ExportError(
            f"exporting this graph needs about {need / 2**30:.1f} GiB of memory, but only "
            f"{available / 2**30:.1f} GiB is available; free memory or export on a larger machine"
        )


def export_triples(graph: Graph) -> TripleExport:
    """All triples of the graph's mmkg relation types, as integer ids plus id maps.

    Raises:
        ExportError: when the graph holds no triples, or the export would not fit in memory.
    """
    check_export_fits(graph)
    header: TripleExport | None = None
    parts: list[IntArray] = []
    for block_header, index, heads, tails in iter_triple_blocks(graph):
        header = block_header
        parts.append(np.stack([heads, np.full_like(heads, index), tails], axis=1))
    if header is None:
        raise ExportError("the graph has no triples to export; load some with `mmkg ingest`")
    header.triples = np.concatenate(parts) if parts else np.empty((0, 3), dtype=np.int64)
    return header


def write_export(export: TripleExport, out_dir: Path) -> dict[str, Any]:
    """Write an export as a folder: ``triples.tsv`` (raw ids and names, head-relation-tail),
    ``triples.npy``, ``entities.dict`` and ``relations.dict`` (``index<TAB>name``, the layout
    of the FB15k-237 and WN18RR releases) and ``meta.json``. Files are written under
    temporary names and renamed, so a failed export leaves no half-written file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ents = np.asarray(export.entity_ids, dtype=object)
    rels = np.asarray(export.relation_names, dtype=object)
    t = export.triples
    lines = ents[t[:, 0]] + "\t" + rels[t[:, 1]] + "\t" + ents[t[:, 2]] if len(t) else []
    meta = {
        "entities": export.num_entities,
        "relations": export.num_relations,
        "triples": len(t),
        "relation_types": dict(zip(export.relation_names, export.relation_types, strict=True)),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    files = {
        "triples.tsv": "".join(f"{line}\n" for line in lines),
        "entities.dict": "".join(f"{i}\t{e}\n" for i, e in enumerate(export.entity_ids)),
        "relations.dict": "".join(f"{i}\t{r}\n" for i, r in enumerate(export.relation_names)),
        "meta.json": json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
    }
    for name, text in files.items():
        atomic.write_text(out_dir / name, text)
    atomic.save_npy(out_dir / "triples.npy", t)
    return meta
