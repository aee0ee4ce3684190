"""``mmkg demo``: the README's main job."""

from __future__ import annotations

import json
from dataclasses import asdict

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
from mmkg.platform.api_keys import stored_key
from mmkg.platform.demo import DemoEmbeddings, demo_embeddings, load_demo
from mmkg.platform.demo_media import load_demo_media
from mmkg.platform.neo4j_server import start_server
from mmkg.web import daemon


@handle_errors
def demo(
    no_start: bool = typer.Option(
        False, "--no-start", help="Use the configured server as it is; do not start one."
    ),
    no_train: bool = typer.Option(
        False, "--no-train", help="Only load and query the graph; skip the embeddings."
    ),
    no_media: bool = typer.Option(
        False, "--no-media", help="Skip the demo's photos, texts and video (and their features)."
    ),
    no_serve: bool = typer.Option(
        False, "--no-serve", help="Do not start the workbench (mmkg serve --detach) at the end."
    ),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Start Neo4j without Neo4j Browser on 127.0.0.1:7474."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Start the managed Neo4j (with Neo4j Browser), load the demo graph and query it; train
    RotatE on it, write the embeddings back and answer a link-prediction query with
    CALL mmkg.predict.tail; ingest real photos, texts and a video linked to its entities; and
    start the workbench in the background, printing its URL and a login key.

    Safe to run again: nothing is loaded, trained or written twice.
    """
    settings = load_settings()
    browser_url = None
    if settings.uses_managed_server and not no_start:
        if not no_browser:
            settings = settings.model_copy(update={"neo4j_browser": True})
        status = start_server(settings)
        browser_url = status.browser_url
        if not as_json:
            typer.echo(f"Neo4j {status.version} running at {status.uri} (pid {status.pid})")
    show = False if STATE.quiet else None
    with connect() as graph:
        result = load_demo(graph, settings, show_progress=show)
        learned = None if no_train else demo_embeddings(graph, settings, show_progress=show)
        media = None if no_media else load_demo_media(graph, settings, show_progress=show)
        key = None if no_serve else stored_key(graph, settings.home / "web" / "demo-api-key")
    bench = None if no_serve else daemon.start(settings)
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
                "media": None if media is None else {**asdict(media), "folder": str(media.folder)},
                "workbench": None if bench is None else {"url": bench.url, "key": key},
                "neo4j_browser": browser_url,
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
    if media is not None:
        typer.echo(
            f"\ndemo media: {media.files} files in {media.folder} ({media.created} new), "
            f"{media.linked} links to entities; image features by {media.image_encoder}; "
            f"{media.entities_embedded} entity texts embedded for search"
        )
    if bench is not None:
        typer.echo(f"\nworkbench: {bench.url}  (log in with the key {key})")
    if browser_url:
        typer.echo(
            f"Neo4j Browser: {browser_url}  (user neo4j, password in "
            f"{settings.credentials_file}); try CALL mmkg.predict.tail('marie_curie', "
            "'award_received', 5)"
        )
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
