"""``mmkg embeddings …`` and ``mmkg predict …``: serving trained embeddings from Neo4j."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from mmkg.cli.common import (
    JSON_OPTION,
    STATE,
    connect,
    handle_errors,
    load_settings,
    print_json,
    print_table,
)
from mmkg.errors import DataError

embeddings_app = typer.Typer(
    help="Write trained embeddings onto the graph as versioned runs; list, activate, drop.",
    no_args_is_help=True,
)
cache_app = typer.Typer(
    help="The plugin's in-heap cache of run matrices: load (and pin) ahead of queries, list, drop.",
    no_args_is_help=True,
)
predict_app = typer.Typer(
    help="Link prediction from the active embedding run (through the mmkg.* procedures).",
    no_args_is_help=True,
)

K_OPTION = typer.Option(10, "-k", "--top", min=1, max=10_000, help="How many answers.")
RUN_OPTION = typer.Option(None, "--run", help="Embedding run id (default: the active run).")
MODE_OPTION = typer.Option(
    "auto",
    "--mode",
    help="exact (score every entity), ann (the vector index, re-scored exactly) or auto "
    "(exact when the run fits in a third of the server's heap).",
)
LABEL_OPTION = typer.Option(None, "--label", help="Only candidates with this node label.")
KNOWN_OPTION = typer.Option(
    False, "--include-known", help="Also rank entities already linked by this relation."
)
CANDIDATES_OPTION = typer.Option(
    None, "--candidates", min=1, max=10_000, help="ANN candidates to re-score (default 10 k)."
)


@embeddings_app.command("write")
@handle_errors
def write(
    run_dir: Path = typer.Argument(..., file_okay=False, help="A run folder from `mmkg train`."),
    run_id: str | None = typer.Option(None, "--id", help="Run id (default: the folder's name)."),
    activate: bool = typer.Option(
        False, "--activate", help="Serve this run once it is written (atomic switch)."
    ),
    allow_missing: bool = typer.Option(
        False,
        "--allow-missing",
        help="Write the entities that are in the graph when some of the run's are not.",
    ),
    no_index: bool = typer.Option(
        False, "--no-index", help="Skip the ANN vector index (exact prediction only)."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Write even vectors that are not finite or a model at chance level on validation.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Put a run's entity and relation embeddings on the graph as a new embedding run.

    Vectors go to properties of their own, so serving goes on undisturbed while they are
    written; the run serves only after `--activate` or `mmkg embeddings activate`. Writing the
    same run again is a no-op; a write that was interrupted is finished.
    """
    from mmkg.platform.serving import write_run

    settings = load_settings()
    with connect() as graph:
        summary = write_run(
            graph,
            run_dir,
            settings,
            run_id=run_id,
            activate=activate,
            allow_missing=allow_missing,
            index=not no_index,
            force=force,
            show_progress=False if STATE.quiet else None,
        )
    if as_json:
        print_json(summary.to_dict())
        return
    if summary.already_written:
        typer.echo(f"embedding run {summary.run_id} is already written (status {summary.status})")
        return
    typer.echo(
        f"wrote embedding run {summary.run_id}: {summary.model}, dim {summary.dim}, "
        f"{summary.entities} entities, {summary.relations} relations, {summary.vectors} vectors "
        f"in {summary.write_seconds:.2f} s ({summary.vectors_per_second:,.0f} vectors/s)"
    )
    if summary.index:
        typer.echo(f"vector index {summary.index} online after {summary.index_seconds:.2f} s")
    if summary.missing_entities:
        typer.echo(f"{summary.missing_entities} entities of the run are not in the graph")
    typer.echo(
        "status: active (serving predictions)"
        if summary.activated
        else f"status: ready; serve it with `mmkg embeddings activate {summary.run_id}`"
    )


def _metric(run: dict[str, Any], split: str) -> Any:
    metrics = run.get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get(split), dict):
        return round(float(metrics[split].get("mrr", float("nan"))), 4)
    return None


@embeddings_app.command("list")
@handle_errors
def list_cmd(as_json: bool = JSON_OPTION) -> None:
    """The embedding runs in the graph, oldest first; `serving` marks the active one."""
    from mmkg.platform.serving import list_runs

    with connect() as graph:
        runs = list_runs(graph)
    if as_json:
        print_json(runs)
        return
    columns = ["id", "model", "dim", "entities", "status", "serving", "valid_mrr", "written_at"]
    rows = [
        [
            r["id"],
            r.get("model"),
            r.get("dim"),
            r.get("entity_count"),
            r.get("status"),
            "*" if r["serving"] else "",
            _metric(r, "valid"),
            r.get("written_at"),
        ]
        for r in runs
    ]
    print_table(columns, rows)


@embeddings_app.command("activate")
@handle_errors
def activate_cmd(run_id: str = typer.Argument(..., help="The run to serve.")) -> None:
    """Serve predictions from this run: one transaction moves the pointer, so a query sees
    either the old run or the new one, never a mix."""
    from mmkg.platform.serving import activate_run

    with connect() as graph:
        activate_run(graph, run_id)
    typer.echo(f"embedding run {run_id} is now active")


@embeddings_app.command("refresh")
@handle_errors
def refresh_cmd(
    base_run: str | None = typer.Option(None, "--base-run", help="Default: the active run."),
    epochs: int = typer.Option(100, "--epochs", min=1, help="Fold-in epochs for new triples."),
    run_id: str | None = typer.Option(None, "--id", help="Id of the new run."),
    activate: bool = typer.Option(True, "--activate/--no-activate", help="Serve the new run."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Give the entities added since a run vectors without retraining, as a new run: new
    entities with triples are folded in; a fused run also places entities from their own
    features (a description, a photo), so they are served too. As the worker's refresh."""
    from mmkg.platform.serving import activate_run, active_run_id, write_artifact
    from mmkg.platform.serving.refresh import refresh_artifact

    settings = load_settings()
    with connect() as graph:
        base = base_run or active_run_id(graph)
        if base is None:
            raise DataError("no active embedding run to refresh; train and write one first")
        folded, info = refresh_artifact(graph, base, epochs)
        if folded is None:
            out: dict[str, Any] = {"base": base, "new_entities": 0, "run_id": None}
        else:
            new_id = run_id or f"{base[:80]}.refresh-{int(time.time())}"
            write_artifact(graph, folded, settings, run_id=new_id,
                           show_progress=False if STATE.quiet else None,
                           extra={"base_run": base})  # fmt: skip
            if activate:
                activate_run(graph, new_id)
            out = {"base": base, "run_id": new_id, "activated": activate, "fold_in": info}
    if as_json:
        print_json(out)
    elif out["run_id"] is None:
        typer.echo(f"nothing new since {base}")
    else:
        placed = info.get("placed_from_features", 0)
        typer.echo(
            f"run {out['run_id']}: {info['new_entities']} new entities ({placed} placed from "
            f"their features, {info['triples']} triples folded in)"
            + ("; now active" if activate else "")
        )


@embeddings_app.command("drop")
@handle_errors
def drop_cmd(
    run_id: str = typer.Argument(..., help="The run to remove."),
    force: bool = typer.Option(
        False, "--force", help="Drop even the active run (then no run serves)."
    ),
) -> None:
    """Remove a run: its vector index, its vectors on every node, and its node."""
    from mmkg.platform.serving import drop_run

    with connect() as graph:
        removed = drop_run(graph, run_id, force=force)
    typer.echo(f"dropped embedding run {run_id} ({sum(removed.values())} vectors removed)")


def _show(rows: list[Any], as_json: bool) -> None:
    dicts = [r.to_dict() for r in rows]
    if as_json:
        print_json(dicts)
        return
    if not dicts:
        typer.echo("no answers")
        return
    columns = list(dicts[0])
    print_table(columns, [[d[c] for c in columns] for d in dicts])


@predict_app.command("tail")
@handle_errors
def tail_cmd(
    head: str = typer.Argument(..., help="Head entity id."),
    relation: str = typer.Argument(..., help="Relation name (as loaded) or relationship type."),
    k: int = K_OPTION,
    mode: str = MODE_OPTION,
    label: str | None = LABEL_OPTION,
    include_known: bool = KNOWN_OPTION,
    run: str | None = RUN_OPTION,
    candidates: int | None = CANDIDATES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The most plausible tails t of (HEAD)-[RELATION]->(t)."""
    from mmkg.platform.serving import predict_tail

    with connect() as graph:
        rows = predict_tail(
            graph, head, relation, k, exclude=not include_known, label=label, mode=mode,
            run=run, candidates=candidates,
        )  # fmt: skip
    _show(rows, as_json)


@predict_app.command("head")
@handle_errors
def head_cmd(
    relation: str = typer.Argument(..., help="Relation name (as loaded) or relationship type."),
    tail: str = typer.Argument(..., help="Tail entity id."),
    k: int = K_OPTION,
    mode: str = MODE_OPTION,
    label: str | None = LABEL_OPTION,
    include_known: bool = KNOWN_OPTION,
    run: str | None = RUN_OPTION,
    candidates: int | None = CANDIDATES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The most plausible heads h of (h)-[RELATION]->(TAIL)."""
    from mmkg.platform.serving import predict_head

    with connect() as graph:
        rows = predict_head(
            graph, relation, tail, k, exclude=not include_known, label=label, mode=mode,
            run=run, candidates=candidates,
        )  # fmt: skip
    _show(rows, as_json)


@predict_app.command("relation")
@handle_errors
def relation_cmd(
    head: str = typer.Argument(..., help="Head entity id."),
    tail: str = typer.Argument(..., help="Tail entity id."),
    k: int = K_OPTION,
    run: str | None = RUN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Relations ranked by how plausibly they link HEAD to TAIL."""
    from mmkg.platform.serving import predict_relation

    with connect() as graph:
        rows = predict_relation(graph, head, tail, k, run=run)
    _show(rows, as_json)


@predict_app.command("similar")
@handle_errors
def similar_cmd(
    entity: str = typer.Argument(..., help="Entity id."),
    k: int = K_OPTION,
    mode: str = MODE_OPTION,
    label: str | None = LABEL_OPTION,
    run: str | None = RUN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The entities nearest to ENTITY in embedding space."""
    from mmkg.platform.serving import similar

    with connect() as graph:
        rows = similar(graph, entity, k, label=label, mode=mode, run=run)
    _show(rows, as_json)


@cache_app.command("load")
@handle_errors
def cache_load_cmd(
    run: str | None = typer.Argument(None, help="Run id (default: the active run)."),
    index: str | None = typer.Option(
        None, "--index", help="Also build an ANN structure over it: hnsw."
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, max=256, help="Threads to load and build with."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Load a run's vectors into the server's heap now (not on the first query) and pin them;
    refused, with the figures, when they would not fit the cache's memory budget."""
    from mmkg.platform.serving import cache_load

    with connect() as graph:
        row = cache_load(graph, run, index=index, concurrency=concurrency)
    if as_json:
        print_json(row)
        return
    typer.echo(
        f"cached run {row['run']}: {row['rows']} vectors of dimension {row['dim']}, "
        f"{row['bytes'] / 2**20:.1f} MiB ({row['storage']}, index {row['index'] or 'none'}) "
        f"in {row['seconds']:.2f} s"
    )


@cache_app.command("list")
@handle_errors
def cache_list_cmd(as_json: bool = JSON_OPTION) -> None:
    """What the plugin holds in its cache, with size, load time and hits."""
    from mmkg.platform.serving import cache_list

    with connect() as graph:
        rows = cache_list(graph)
    if as_json:
        print_json(rows)
        return
    columns = ["run", "rows", "dim", "bytes", "storage", "index", "loaded_at", "hits", "pinned"]
    print_table(columns, [[r.get(c) for c in columns] for r in rows])


@cache_app.command("drop")
@handle_errors
def cache_drop_cmd(run: str = typer.Argument(..., help="Run id.")) -> None:
    """Forget a run's cached matrix (it is loaded again on its next exact query)."""
    from mmkg.platform.serving import cache_drop

    with connect() as graph:
        row = cache_drop(graph, run)
    if row["dropped"]:
        typer.echo(f"dropped run {run} from the cache ({row['bytes'] / 2**20:.1f} MiB freed)")
    else:
        typer.echo(f"run {run} was not cached")
