"""Counts of what the graph holds: entities, relationships per type, media per label."""

from __future__ import annotations

from typing import Any

from mmkg.errors import QueryError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.model import DEPICTS, MENTIONS
from mmkg.platform.store import Graph


def _relationships_per_type(graph: Graph) -> dict[str, int]:
    try:
        data = graph.read(Q.GRAPH_COUNTS)[0]["data"]
        return {
            r["relationshipType"]: int(r["count"])
            for r in data.get("relationships", [])
            if "relationshipType" in r and "startLabel" not in r and "endLabel" not in r
        }
    except (QueryError, IndexError, KeyError):
        return {row["type"]: int(row["n"]) for row in graph.read(Q.RELATIONSHIPS_PER_TYPE_SCAN)}


def graph_stats(graph: Graph) -> dict[str, Any]:
    """Entities, relation types, relationships (total and per mmkg relation), media."""
    labels = graph.read(Q.LABEL_COUNTS)[0]
    per_type = _relationships_per_type(graph)
    relations = graph.read(Q.RELATION_TYPES)
    per_relation = {
        r["type"]: {"name": r["name"], "count": per_type.get(r["type"], 0)} for r in relations
    }
    return {
        "entities": labels["entities"],
        "relation_types": labels["relation_types"],
        "relationships": sum(v["count"] for v in per_relation.values()),
        "relationships_per_type": dict(
            sorted(per_relation.items(), key=lambda kv: (-kv[1]["count"], kv[0]))
        ),
        "media": {
            "total": labels["media"],
            "Image": labels["images"],
            "Video": labels["videos"],
            "Text": labels["texts"],
            DEPICTS: per_type.get(DEPICTS, 0),
            MENTIONS: per_type.get(MENTIONS, 0),
        },
    }
