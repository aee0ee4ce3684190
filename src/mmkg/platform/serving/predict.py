"""The Python SDK over the plugin's procedures: what `CALL mmkg.predict.*` answers in Cypher."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mmkg.errors import InvalidRequestError
from mmkg.graph_schema import queries as Q
from mmkg.platform.serving.calls import call_read
from mmkg.platform.store import Graph

MODES = ("auto", "exact", "ann")


@dataclass
class Prediction:
    id: str
    name: str | None
    score: float
    rank: int
    run: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RelationPrediction:
    relation: str
    type: str
    score: float
    rank: int
    run: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _call(graph: Graph, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return call_read(graph, query, params)


def _options(
    exclude: bool, label: str | None, mode: str, run: str | None, candidates: int | None
) -> dict[str, Any]:
    if mode not in MODES:
        raise InvalidRequestError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    options: dict[str, Any] = {"exclude": exclude, "mode": mode}
    if label:
        options["label"] = label
    if run:
        options["run"] = run
    if candidates:
        options["candidates"] = candidates
    return options


def predict_tail(
    graph: Graph,
    head: str,
    relation: str,
    k: int = 10,
    *,
    exclude: bool = True,
    label: str | None = None,
    mode: str = "auto",
    run: str | None = None,
    candidates: int | None = None,
) -> list[Prediction]:
    """The ``k`` most plausible tails of ``(head, relation, ?)``, best first."""
    options = _options(exclude, label, mode, run, candidates)
    rows = _call(
        graph, Q.PREDICT_TAIL, {"head": head, "relation": relation, "k": k, "options": options}
    )
    return [Prediction(**r) for r in rows]


def predict_head(
    graph: Graph,
    relation: str,
    tail: str,
    k: int = 10,
    *,
    exclude: bool = True,
    label: str | None = None,
    mode: str = "auto",
    run: str | None = None,
    candidates: int | None = None,
) -> list[Prediction]:
    """The ``k`` most plausible heads of ``(?, relation, tail)``, best first."""
    options = _options(exclude, label, mode, run, candidates)
    rows = _call(
        graph, Q.PREDICT_HEAD, {"relation": relation, "tail": tail, "k": k, "options": options}
    )
    return [Prediction(**r) for r in rows]


def predict_relation(
    graph: Graph, head: str, tail: str, k: int = 10, *, run: str | None = None
) -> list[RelationPrediction]:
    """Relations ranked by the model's score of ``(head, r, tail)``."""
    options = {"run": run} if run else {}
    rows = _call(
        graph, Q.PREDICT_RELATION, {"head": head, "tail": tail, "k": k, "options": options}
    )
    return [RelationPrediction(**r) for r in rows]


def similar(
    graph: Graph,
    entity: str,
    k: int = 10,
    *,
    label: str | None = None,
    mode: str = "auto",
    run: str | None = None,
) -> list[Prediction]:
    """The entities nearest to ``entity`` in embedding space."""
    options = _options(True, label, mode, run, None)
    options.pop("exclude")
    rows = _call(graph, Q.SIMILAR, {"entity": entity, "k": k, "options": options})
    return [Prediction(**r) for r in rows]


def score(graph: Graph, head: str, relation: str, tail: str, *, run: str | None = None) -> float:
    """The model's score of one triple (higher is more plausible)."""
    rows = _call(graph, Q.SCORE, {"head": head, "relation": relation, "tail": tail, "run": run})
    return float(rows[0]["score"])
