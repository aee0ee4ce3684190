"""Serving trained embeddings from Neo4j: versioned write-back, activation and prediction.

A run's vectors live in per-run node properties; one pointer node names the active run. The
procedures of mmkg's Neo4j plugin (``deploy/neo4j/plugin``) answer ``mmkg.predict.*`` from them.
"""

from mmkg.platform.serving.cache import cache_drop, cache_list, cache_load
from mmkg.platform.serving.predict import (
    Prediction,
    RelationPrediction,
    predict_head,
    predict_relation,
    predict_tail,
    score,
    similar,
)
from mmkg.platform.serving.readback import read_artifact
from mmkg.platform.serving.runs import activate_run, active_run_id, drop_run, get_run, list_runs
from mmkg.platform.serving.writeback import WriteSummary, write_artifact, write_run

__all__ = [
    "Prediction",
    "RelationPrediction",
    "WriteSummary",
    "activate_run",
    "active_run_id",
    "cache_drop",
    "cache_list",
    "cache_load",
    "drop_run",
    "get_run",
    "list_runs",
    "predict_head",
    "predict_relation",
    "predict_tail",
    "read_artifact",
    "score",
    "similar",
    "write_artifact",
    "write_run",
]
