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
from mmkg.platform.demo import load_demo
from mmkg.platform.neo4j_server import start_server


@handle_errors
def demo(
    no_start: bool = typer.Option(
        False, "--no-start", help="Use the configured server as it is; do not start one."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Start the managed Neo4j, apply the schema, load the demo graph, show stats and a query.

    Safe to run again: nothing is loaded twice.
    """
    settings = load_settings()
    if settings.uses_managed_server and not no_start:
        status = start_server(settings)
        if not as_json:
            typer.echo(f"Neo4j {status.version} running at {status.uri} (pid {status.pid})")
    with connect() as graph:
        result = load_demo(graph, settings, show_progress=False if STATE.quiet else None)
    if as_json:
        print_json(
            {
                "entities": result.entities.to_dict(),
                "triples": result.triples.to_dict(),
                "stats": result.stats,
                "query": result.query,
                "params": result.params,
                "rows": [dict(zip(result.columns, r, strict=True)) for r in result.rows],
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
    typer.echo(
        "\nnext: mmkg stats, mmkg cypher \"MATCH (e:Entity {id: 'marie_curie'})-[r]->(x) "
        'RETURN type(r), x.name"'
    )
