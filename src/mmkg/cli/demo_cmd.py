"""``mmkg demo``: the README's main job."""

from __future__ import annotations

import json

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
from mmkg.platform.demo import DemoEmbeddings, demo_embeddings, load_demo
from mmkg.platform.neo4j_server import start_server


@handle_errors
def demo(
    no_start: bool = typer.Option(
        False, "--no-start", help="Use the configured server as it is; do not start one."
    ),
    no_train: bool = typer.Option(
        False, "--no-train", help="Only load and query the graph; skip the embeddings."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Start the managed Neo4j, load the demo graph, query it; then train RotatE on it, write
    the embeddings back, and answer a link-prediction query with CALL mmkg.predict.tail.

    Safe to run again: nothing is loaded, trained or written twice.
    """
    settings = load_settings()
    if settings.uses_managed_server and not no_start:
        status = start_server(settings)
        if not as_json:
            typer.echo(f"Neo4j {status.version} running at {status.uri} (pid {status.pid})")
    show = False if STATE.quiet else None
    with connect() as graph:
        result = load_demo(graph, settings, show_progress=show)
        learned = None if no_train else demo_embeddings(graph, settings, show_progress=show)
    if as_json:
        print_json(
            {
                "entities": result.entities.to_dict(),
                "triples": result.triples.to_dict(),
                "stats": result.stats,
                "query": result.query,
                "params": result.params,
                "rows": [dict(zip(result.columns, r, strict=True)) for r in result.rows],
                "embeddings": None if learned is None else _embeddings_json(learned),
            }
        )
        return
    e, t, s = result.entities, result.triples, result.stats
    typer.echo(
        f"demo graph: {e.entities_created} entities created ({e.entities_present} already there), "
        f"{t.relationships_created} relationships created ({t.relationships_present} already there)"
    )
    typer.echo(
        f"graph now holds {s['entities']} entities, {s['relationships']} relationships "
        f"of {s['relation_types']} types"
    )
    typer.echo("\nsample Cypher query (parameters " + json.dumps(result.params) + "):\n")
    typer.echo(result.query + "\n")
    print_table(result.columns, result.rows)
    if learned is not None:
        _show_embeddings(learned)
    typer.echo(
        "\nnext: mmkg stats, mmkg predict tail albert_einstein educated_at, mmkg cypher "
        "\"MATCH (e:Entity {id: 'marie_curie'})-[r]->(x) RETURN type(r), x.name\""
    )


def _embeddings_json(learned: DemoEmbeddings) -> dict[str, object]:
    return {
        "run_id": learned.run_id,
        "run_dir": str(learned.run_dir),
        "trained_now": learned.trained_now,
        "train_seconds": learned.train_seconds,
        "test_mrr": learned.test_mrr,
        "write": learned.write,
        "query": learned.query,
        "params": learned.params,
        "rows": [dict(zip(learned.columns, r, strict=True)) for r in learned.rows],
    }


def _show_embeddings(learned: DemoEmbeddings) -> None:
    if learned.trained_now:
        mrr = f", test MRR {learned.test_mrr:.3f}" if learned.test_mrr is not None else ""
        typer.echo(
            f"\ntrained RotatE on the demo graph in {learned.train_seconds:.1f} s{mrr} "
            f"({learned.run_dir}); wrote it back as embedding run {learned.run_id} and "
            "activated it"
        )
    else:
        typer.echo(f"\nembedding run {learned.run_id} is already in the graph and active")
    typer.echo(
        "\nlink prediction in Cypher (parameters " + json.dumps(learned.params) + "): people "
        "the graph gives no citizenship, the model's best guess, and the country they were "
        "born in:\n"
    )
    typer.echo(learned.query + "\n")
    print_table(learned.columns, learned.rows)
