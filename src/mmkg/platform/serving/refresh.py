"""Refreshing a written run: the entities added since it was trained get vectors without a
retrain, and the result is a new versioned run.

The base run is read back from Neo4j. Entities that arrive with triples are folded in on
them; for a fused run, new entities are first placed from their own features in the graph
(entity text vectors, pooled media features) by the run's fusion head, so an entity that came
with only a description or a photo is served too.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkg.platform.export import export_triples
from mmkg.platform.graph_features import GRAPH_LITERALS, GRAPH_MODALITIES, read_modality
from mmkg.platform.kge.artifact import ServingArtifact
from mmkg.platform.kge.foldin import Placer, fold_in
from mmkg.platform.serving.readback import read_artifact
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)


def refresh_artifact(
    graph: Graph, base_id: str, epochs: int = 100
) -> tuple[ServingArtifact | None, dict[str, Any]]:
    """The base run with rows for the graph's new entities (None when there are none)."""
    base = read_artifact(graph, base_id)
    place = feature_placer(graph, base) if base.fusion is not None else None
    return fold_in(base, export_triples(graph).to_triple_set(), epochs=epochs, place=place)


def feature_placer(graph: Graph, base: ServingArtifact) -> Placer:
    """Places new entities of a fused run from the features the graph holds for them, made
    by the encoders the run was trained with."""
    from mmkg.platform.kge.fusion import place_from_features

    head = base.fusion
    assert head is not None
    # Numbers the run read from a file cannot be looked up for new entities in the graph.
    in_graph = [
        m for m in head.modalities
        if m["name"] in GRAPH_MODALITIES
        and (m["name"] != "numeric" or m["source"] == GRAPH_LITERALS)
    ]  # fmt: skip

    def place(ids: list[str]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
        none = (np.zeros((len(ids), base.dim), np.float32), np.zeros(len(ids), bool))
        if not in_graph:
            names = [m["name"] for m in head.modalities]
            log.warning("run's modalities (%s) are not kept in the graph: new entities are "
                        "folded in from their triples only", names)  # fmt: skip
            return none
        mods = [
            read_modality(graph, ids, m["name"], m["source"], m["width"], m.get("meta"))
            for m in in_graph
        ]
        mods = [m for m in mods if m.mask.any()]
        if not mods:
            log.warning(
                "none of the %d new entities has features of the run's encoders (%s); compute "
                "them (`mmkg features entities`) for cold-start vectors", len(ids),
                ", ".join(f"{m['name']}: {m['source']}" for m in in_graph),
            )  # fmt: skip
            return none
        return place_from_features(head, mods)

    return place
