"""Fitting the recommender from the graph and serving it through the plugin.

    summary = fit_recommender(graph, settings)        # `mmkg recommend --fit`
    recs = recommend(graph, "u42", k=10)              # `mmkg recommend u42`, CALL mmkg.recommend

The catalogue is every entity users interacted with plus every entity whose facts look like
theirs (its relation profile's cosine with the interacted items' mean profile at least
``catalogue_threshold``, :mod:`mmkg.platform.profiles`): a new film with a genre, a country and
a description is a candidate before anyone has seen it. The item vectors are written as an
inner-product embedding run (``kind: recommender``) over those entities, the user vectors on
the User nodes, and the run is made the recommender the plugin serves; the previous recommender
run is dropped. Link prediction's run is untouched.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from mmkg.errors import DataError, InvalidRequestError, UnknownUserError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.names import RunNames
from mmkg.platform.ingest.common import batched
from mmkg.platform.kge.triples import TripleSet
from mmkg.platform.recommend.model import FitConfig, FitResult, ItemFacts, ItemFeatures, fit
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

MODALITIES = ("facts", "structure", "text", "image")
FACTS_PER_ITEM = 128
MAX_K = 1000


@dataclass
class Interactions:
    users: list[str]
    items: list[str]  # the catalogue, interacted items first
    user_index: np.ndarray[Any, Any]  # per interaction
    item_index: np.ndarray[Any, Any]
    weights: np.ndarray[Any, Any]
    at: np.ndarray[Any, Any]


def read_interactions(graph: Graph) -> tuple[list[str], list[str], list[float], list[float]]:
    rows = graph.read(Q.EXPORT_INTERACTIONS)
    if not rows:
        raise DataError(
            "the graph has no interactions: load a log with `mmkg ingest interactions FILE`"
        )
    return (
        [r["user"] for r in rows],
        [r["item"] for r in rows],
        [float(r["weight"] if r["weight"] is not None else 1.0) for r in rows],
        [float(r["at"] if r["at"] is not None else 0.0) for r in rows],
    )


def graph_triples(graph: Graph) -> TripleSet | None:
    """The graph's facts, or None when it has none."""
    from mmkg.errors import ExportError
    from mmkg.platform.export import export_triples

    try:
        return export_triples(graph).to_triple_set()
    except ExportError:
        return None


def catalogue(
    triples: TripleSet | None, interacted: list[str], threshold: float
) -> tuple[list[str], int]:
    """The interacted items, then the entities whose facts resemble theirs; and how many of
    those were added."""
    from mmkg.platform.profiles import Profiles

    if triples is None:
        return list(interacted), 0  # no facts at all: only what users have touched
    profiles = Profiles.from_triples(triples)
    rows = [profiles.entity_index[e] for e in interacted if e in profiles.entity_index]
    if not rows:
        return list(interacted), 0
    mean = np.asarray(profiles.profile[rows].mean(axis=0)).ravel()
    mean /= max(float(np.linalg.norm(mean)), 1e-12)
    fit_all = np.asarray(profiles.profile @ mean).ravel()
    have = set(interacted)
    extra = [
        profiles.entity_ids[i]
        for i in np.flatnonzero(fit_all >= threshold)
        if profiles.entity_ids[i] not in have
    ]
    return list(interacted) + sorted(extra), len(extra)


def item_facts(
    triples: TripleSet, ids: list[str], width: int = FACTS_PER_ITEM, seed: int = 0
) -> ItemFacts:
    """Each item's neighbours (either direction), at most ``width`` of them (a sample, for
    hubs), as indices into the vocabulary of every neighbour any item has."""
    rng = np.random.default_rng(seed)
    t = triples.triples
    position = {e: i for i, e in enumerate(triples.entity_ids)}
    rows = np.asarray([position.get(e, -1) for e in ids])
    item_of = np.full(len(triples.entity_ids), -1, dtype=np.int64)
    item_of[rows[rows >= 0]] = np.flatnonzero(rows >= 0)
    pairs = np.concatenate(
        [np.stack([item_of[t[:, 0]], t[:, 2]], 1), np.stack([item_of[t[:, 2]], t[:, 0]], 1)]
    )
    pairs = np.unique(pairs[pairs[:, 0] >= 0], axis=0)
    vocab, inverse = np.unique(pairs[:, 1], return_inverse=True)
    out = np.full((len(ids), width), -1, dtype=np.int64)
    starts = np.searchsorted(pairs[:, 0], np.arange(len(ids) + 1))
    for i in range(len(ids)):
        mine = inverse[starts[i] : starts[i + 1]]
        if len(mine) > width:
            mine = rng.choice(mine, width, replace=False)
        out[i, : len(mine)] = mine
    return ItemFacts(out, [triples.entity_ids[v] for v in vocab])


def _unit(values: np.ndarray[Any, Any], mask: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out = np.asarray(values, dtype=np.float32).copy()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    out /= np.maximum(norms, 1e-12)
    out[~mask] = 0.0
    return out


def item_features(
    graph: Graph, settings: Settings, ids: list[str], names: tuple[str, ...]
) -> tuple[list[ItemFeatures], list[str]]:
    """The modalities ``names`` over the catalogue ``ids``; notes on those left out."""
    from mmkg.platform.encoders import load_encoder
    from mmkg.platform.encoders.registry import OFFLINE_IMAGE_ENCODER
    from mmkg.platform.graph_features import read_modality
    from mmkg.platform.serving.readback import read_artifact
    from mmkg.platform.serving.runs import active_run_id

    out: list[ItemFeatures] = []
    notes: list[str] = []
    position = {e: i for i, e in enumerate(ids)}
    for name in names:
        if name == "facts":
            continue  # not a feature matrix: item_facts
        if name == "structure":
            run_id = active_run_id(graph)
            if run_id is None:
                notes.append("structure: no embedding run is serving (mmkg train --publish)")
                continue
            art = read_artifact(graph, run_id)
            values = np.zeros((len(ids), art.dim), dtype=np.float32)
            mask = np.zeros(len(ids), dtype=bool)
            for row, e in enumerate(art.entity_ids):
                i = position.get(e)
                if i is not None:
                    values[i], mask[i] = art.entities[row], True
            source = f"run:{run_id}"
        else:
            spec = settings.text_encoder if name == "text" else settings.image_encoder
            spec = spec or OFFLINE_IMAGE_ENCODER
            encoder = load_encoder(spec, settings.encoder_device)
            modality = read_modality(graph, ids, name, encoder.label, encoder.dim)
            values, mask, source = modality.rows(np.arange(len(ids))), modality.mask, encoder.label
        if not mask.any():
            notes.append(f"{name}: no catalogue item has it")
            continue
        out.append(ItemFeatures(name, _unit(values, mask), mask, source))
    return out, notes


def last_interactions(users: np.ndarray[Any, Any], at: np.ndarray[Any, Any]) -> Any:
    """A mask of each user's latest interaction, for users with at least three."""
    order = np.lexsort((at, users))
    out = np.zeros(len(users), dtype=bool)
    counts = np.bincount(users)
    ends = np.cumsum(counts[counts > 0]) - 1
    last = order[ends]
    out[last[counts[users[last]] >= 3]] = True
    return out


def fit_early_stopped(
    uix: np.ndarray[Any, Any],
    iix: np.ndarray[Any, Any],
    at: np.ndarray[Any, Any],
    n_users: int,
    features: list[ItemFeatures],
    n_items: int,
    config: FitConfig,
    show_progress: bool | None = None,
    facts: ItemFacts | None = None,
) -> tuple[FitResult, str]:
    """Early stopping on each user's latest interaction (Hits@10), then a refit on every
    interaction for as many epochs as were best."""
    held = last_interactions(uix, at)
    if not held.any():
        return fit(uix, iix, n_users, features, n_items, config, show_progress, facts), (
            "no user has three interactions: no validation, all epochs trained"
        )
    keep = ~held
    probe = fit(
        uix[keep],
        iix[keep],
        n_users,
        features,
        n_items,
        config,
        show_progress,
        facts,
        (uix[held], iix[held]),
    )
    epochs = probe.best_epoch or config.epochs
    result = fit(
        uix, iix, n_users, features, n_items, replace(config, epochs=epochs), show_progress, facts
    )
    result.valid_hits = probe.valid_hits
    result.best_epoch = epochs
    note = (
        f"validation Hits@10 {max(probe.valid_hits, default=0):.4f} at epoch {epochs} of "
        f"{len(probe.valid_hits)} ({int(held.sum())} users' latest interactions held out), "
        "then refitted on all interactions"
    )
    return result, note


@dataclass
class FitSummary:
    run: str
    users: int
    interactions: int
    items: int
    warm_items: int
    cold_items: int
    features: list[dict[str, Any]]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_recommender(
    graph: Graph,
    settings: Settings,
    config: FitConfig | None = None,
    modalities: tuple[str, ...] = MODALITIES,
    catalogue_threshold: float = 0.5,
    run_id: str | None = None,
    show_progress: bool | None = None,
) -> FitSummary:
    """Fit on the graph's interactions and publish (see the module's docstring).

    Raises:
        DataError: no interactions; InvalidRequestError: an unknown modality.
    """
    from mmkg.platform.kge.artifact import artifact_from_tables
    from mmkg.platform.serving import write_artifact

    bad = [m for m in modalities if m not in MODALITIES]
    if bad:
        raise InvalidRequestError(f"unknown modality {bad[0]!r}: use {', '.join(MODALITIES)}")
    config = config or FitConfig()
    started = time.perf_counter()
    users, items, _, at = read_interactions(graph)
    user_ids = sorted(set(users))
    interacted = sorted(set(items))
    triples = graph_triples(graph)
    ids, added = catalogue(triples, interacted, catalogue_threshold)
    facts = item_facts(triples, ids) if "facts" in modalities and triples is not None else None
    if "text" in modalities:
        from mmkg.platform.media.search import embed_entities

        embed_entities(graph, settings, only_missing=True, show_progress=show_progress)
    features, notes = item_features(graph, settings, ids, modalities)
    u_pos = {u: i for i, u in enumerate(user_ids)}
    i_pos = {e: i for i, e in enumerate(ids)}
    uix = np.asarray([u_pos[u] for u in users], dtype=np.int64)
    iix = np.asarray([i_pos[e] for e in items], dtype=np.int64)
    result, note = fit_early_stopped(
        uix, iix, np.asarray(at), len(user_ids), features, len(ids), config, show_progress, facts
    )
    notes.append(note)
    config = replace(config, epochs=len(result.history))
    run_id = run_id or time.strftime("rec-%Y%m%d-%H%M%S")
    keys = {r["id"]: r["key"] for r in graph.read(Q.ENTITY_KEYS, {"ids": ids})}
    artifact = artifact_from_tables(
        "distmult",
        0.0,
        False,
        ids,
        result.items,
        [],
        np.zeros((0, config.dim), np.float32),
        entity_keys=[keys[e] for e in ids],
        params={"recommender": asdict(config), "catalogue_threshold": catalogue_threshold},
        metrics={"loss": result.history[-1:], "features": result.features, "epochs": config.epochs},
    )
    previous = graph.read(Q.RECOMMENDER_RUN)[0]["id"]
    prop = RunNames.for_run(run_id).user
    write_artifact(
        graph,
        artifact,
        settings,
        run_id=run_id,
        show_progress=show_progress,
        extra={"kind": "recommender", "user_property": prop, "interaction": "INTERACTED"},
    )
    for part in batched(list(range(len(user_ids))), settings.ingest_batch_size):
        rows = [{"id": user_ids[i], "vector": result.users[i].tolist()} for i in part]
        graph.write(Q.SET_USER_VECTORS, {"rows": rows, "property": prop})
    graph.write(Q.SET_RECOMMENDER_RUN, {"id": run_id})
    if previous and previous != run_id:
        from mmkg.platform.serving.runs import drop_run

        graph.write(Q.REMOVE_USER_VECTORS, {"property": RunNames.for_run(previous).user})
        try:
            drop_run(graph, previous)
        except DataError as e:  # already gone: nothing left to clean up
            log.info("previous recommender %s: %s", previous, e)
    warm = len(interacted)
    return FitSummary(
        run_id,
        len(user_ids),
        len(users),
        len(ids),
        warm,
        added,
        result.features,
        round(time.perf_counter() - started, 2),
        notes,
    )


@dataclass
class Recommendation:
    id: str
    name: str | None
    score: float
    rank: int
    run: str
    because: dict[str, Any] | None = None  # user → item → shared entity → this item

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(
    graph: Graph, user: str, k: int = 10, *, explain: bool = True, run: str | None = None
) -> list[Recommendation]:
    """The ``k`` items the user most likely interacts with next, excluding those they have,
    each with an explanation path read from the graph.

    Raises:
        InvalidRequestError: ``k`` outside 1..1000; UnknownUserError: no such user;
        NoActiveRunError: no recommender fitted yet.
    """
    from mmkg.platform.serving.calls import call_read

    if not 1 <= k <= MAX_K:
        raise InvalidRequestError(f"k must lie in 1..{MAX_K}, got {k}")
    if not graph.read(Q.USER_EXISTS, {"id": user}):
        raise UnknownUserError(
            f"unknown user {user!r}: users come from `mmkg ingest interactions FILE`"
        )
    options = {"run": run} if run else {}
    rows = call_read(graph, Q.RECOMMEND, {"user": user, "k": k, "options": options})
    ids = [r["id"] for r in rows]
    names = {r["id"]: r["name"] for r in graph.read(Q.ENTITY_NAMES_OF, {"ids": ids})}
    recs = [
        Recommendation(
            r["id"], names.get(r["id"]), round(float(r["score"]), 5), int(r["rank"]), r["run"]
        )
        for r in rows
    ]
    if explain and recs:
        paths = {
            r["id"]: r for r in graph.read(Q.EXPLAIN_RECOMMENDATIONS, {"user": user, "ids": ids})
        }
        for rec in recs:
            p = paths.get(rec.id)
            if p is None:
                continue
            first = (
                (p["item"], p["relation1"], p["shared"])
                if p["item_is_head"]
                else (p["shared"], p["relation1"], p["item"])
            )
            second = (
                (p["shared"], p["relation2"], rec.id)
                if p["shared_is_head"]
                else (rec.id, p["relation2"], p["shared"])
            )
            rec.because = {
                "item": {"id": p["item"], "name": p["item_name"]},
                "shared": {"id": p["shared"], "name": p["shared_name"]},
                "path": [
                    {"head": user, "relation": "INTERACTED", "tail": p["item"]},
                    {"head": first[0], "relation": first[1], "tail": first[2]},
                    {"head": second[0], "relation": second[1], "tail": second[2]},
                ],
            }
    return recs
