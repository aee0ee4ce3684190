"""What the linker knows about the graph's entities, read from Neo4j once per linker.

Per entity: its names (into the gazetteer), its degree, a coarse type (the domain of its most
frequent outgoing relation, else of its incoming one) and its text vector if
``mmkg features entities`` wrote one. Everything else (full-text search, vector neighbours,
coherence) is asked of Neo4j per batch of documents.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmkg.errors import DataError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.names import feature_property
from mmkg.platform.linking.gazetteer import Gazetteer
from mmkg.platform.progress import progress
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)

PAGE = 5000


def relation_domain(name: str) -> str:
    """The coarse type a relation tells about its ends: Freebase-style ``/film/film/genre``
    gives ``film``; any other name is its own domain."""
    parts = [p for p in name.split("/") if p]
    return parts[0] if name.startswith("/") and parts else name


def entity_type(out_name: str | None, in_name: str | None) -> str:
    if out_name:
        return "out:" + relation_domain(out_name)
    if in_name:
        return "in:" + relation_domain(in_name)
    return "none"


@dataclass
class LinkerIndex:
    ids: list[str]
    names: list[str]
    degree: np.ndarray[Any, np.dtype[np.int32]]
    types: list[str]
    gazetteer: Gazetteer
    vectors: np.ndarray[Any, Any] | None  # float16 [entities, dim], unit rows; zero = none
    has_vector: np.ndarray[Any, np.dtype[np.bool_]]
    stats: dict[str, Any] = field(default_factory=dict)
    _dense: np.ndarray[Any, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.row_of = {e: i for i, e in enumerate(self.ids)}
        self.mean_log_degree = float(np.log1p(self.degree).mean()) if len(self.degree) else 0.0

    def __len__(self) -> int:
        return len(self.ids)

    def dense_vectors(self) -> np.ndarray[Any, Any]:
        """The text vectors as float32 (made once: matrix products want them so)."""
        if self.vectors is None:
            raise ValueError("this index has no text vectors")
        if self._dense is None:
            self._dense = self.vectors.astype(np.float32)
        return self._dense

    @classmethod
    def build(
        cls,
        rows: Iterable[Mapping[str, Any]],
        stop_words: frozenset[str],
        type_names: Mapping[str, str] | None = None,
    ) -> LinkerIndex:
        """From rows of ``id, name, aliases, degree, out_type, in_type, vector``."""
        started = time.perf_counter()
        names_of = dict(type_names or {})
        ids: list[str] = []
        names: list[str] = []
        degree: list[int] = []
        types: list[str] = []
        vecs: list[Any] = []
        pairs: list[tuple[str, int, bool]] = []
        for i, row in enumerate(rows):
            eid = str(row["id"])
            name = row.get("name") or eid
            ids.append(eid)
            names.append(name)
            degree.append(max(0, int(row.get("degree") or 0)))
            out_t, in_t = row.get("out_type"), row.get("in_type")
            types.append(
                entity_type(
                    names_of.get(out_t, out_t) if out_t else None,
                    names_of.get(in_t, in_t) if in_t else None,
                )
            )
            vecs.append(row.get("vector"))
            pairs.append((name, i, True))
            aliases = row.get("aliases") or []
            if isinstance(aliases, str):
                aliases = [aliases]
            pairs.extend((a, i, False) for a in aliases if a)
        if not ids:
            raise DataError(
                "the graph has no entities to link to: ingest entities (mmkg ingest entities "
                "FILE) or triples first"
            )
        gaz = Gazetteer(pairs, stop_words)
        dim = next((len(v) for v in vecs if v is not None), 0)
        matrix = None
        has = np.zeros(len(ids), dtype=bool)
        if dim:
            matrix = np.zeros((len(ids), dim), dtype=np.float16)
            for i, v in enumerate(vecs):
                if v is not None and len(v) == dim:
                    matrix[i] = np.asarray(v, dtype=np.float32)
                    has[i] = True
        index = cls(
            ids,
            names,
            np.asarray(degree, dtype=np.int32),
            types,
            gaz,
            matrix,
            has,
        )
        index.stats = {
            "entities": len(ids),
            "aliases": len(gaz),
            "postings": gaz.postings,
            "gazetteer_bytes": gaz.nbytes(),
            "with_text_vectors": int(has.sum()),
            "vector_bytes": int(matrix.nbytes) if matrix is not None else 0,
            "build_seconds": round(time.perf_counter() - started, 3),
        }
        return index


def read_index(
    graph: Graph,
    encoder_key: str | None,
    stop_words: frozenset[str],
    show_progress: bool | None = None,
    exclude: Callable[[str], bool] | None = None,
) -> LinkerIndex:
    """The linker index of the graph's entities (names, degrees, types, text vectors);
    ``exclude`` keeps entities out (an evaluation's out-of-graph entities)."""
    started = time.perf_counter()
    prop = feature_property(encoder_key) if encoder_key else "mmkg_no_vector"
    type_names = {r["type"]: r["name"] for r in graph.read(Q.RELATION_TYPES)}
    total = int(graph.read(Q.COUNT_ENTITIES)[0]["n"])
    rows: list[dict[str, Any]] = []
    after = ""
    with progress(total, "reading entities for the linker", "entity", show_progress) as bar:
        while True:
            page = graph.read(Q.LINK_ENTITIES, {"after": after, "limit": PAGE, "property": prop})
            if not page:
                break
            rows.extend(r for r in page if exclude is None or not exclude(r["id"]))
            after = page[-1]["id"]
            bar.update(len(page))
    index = LinkerIndex.build(rows, stop_words, type_names)
    index.stats["read_seconds"] = round(time.perf_counter() - started, 3)
    log.info("linker index: %s", index.stats)
    return index
