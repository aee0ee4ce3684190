"""``mmkg export triples``, ``mmkg stats`` and ``mmkg cypher``."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from mmkg.cli.common import JSON_OPTION, connect, handle_errors, print_json, print_table
from mmkg.platform.cypher import parse_param, run_cypher
from mmkg.platform.export import export_triples, write_export
from mmkg.platform.stats import graph_stats

export_app = typer.Typer(help="Export the graph for training.", no_args_is_help=True)


@export_app.command("triples")
@handle_errors
def export_triples_cmd(
    out: Path = typer.Argument(..., file_okay=False, help="Folder to write (created if needed)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write triples.tsv, triples.npy, entities.dict, relations.dict and meta.json to OUT."""
    started = time.perf_counter()
    with connect() as graph:
        export = export_triples(graph)
    meta = write_export(export, out)
    meta.pop("relation_types")
    meta["out"] = str(out)
    meta["seconds"] = round(time.perf_counter() - started, 3)
    if as_json:
        print_json(meta)
    else:
        typer.echo(
            f"exported {meta['triples']} triples, {meta['entities']} entities and "
            f"{meta['relations']} relations to {out} in {meta['seconds']:.2f} s"
        )


@handle_errors
def stats(as_json: bool = JSON_OPTION) -> None:
    """Entities, relationships per type, and media per label."""
    with connect() as graph:
        data = graph_stats(graph)
    if as_json:
        print_json(data)
        return
    typer.echo(f"entities:       {data['entities']}")
    typer.echo(f"relation types: {data['relation_types']}")
    typer.echo(f"relationships:  {data['relationships']}")
    media = data["media"]
    typer.echo(
        f"media:          {media['total']} ({media['Image']} images, {media['Video']} videos, "
        f"{media['Text']} texts; {media['DEPICTS']} DEPICTS, {media['MENTIONS']} MENTIONS links)"
    )
    per_type = data["relationships_per_type"]
    if per_type:
        typer.echo("")
        print_table(
            ["type", "relation", "count"],
            [[t, v["name"], v["count"]] for t, v in per_type.items()],
        )


@handle_errors
def cypher(
    statement: str = typer.Argument(..., help="One Cypher statement."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="name=value (value read as JSON if it parses); repeatable."
    ),
    write: bool = typer.Option(
        False, "--write", help="Allow the statement to change the graph (read-only otherwise)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run one Cypher statement against the configured database and print the result.

    Read-only unless --write; a write reports what it changed (nodes created, properties set…).
    """
    params = dict(parse_param(p) for p in param)
    with connect() as graph:
        result = run_cypher(graph, statement, params, write=write)
    if as_json:
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        print_json({"rows": rows, "counters": result.counters} if write else rows)
        return
    if result.columns:
        print_table(result.columns, result.rows)
    if write:
        changed = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.counters.items())
        typer.echo(changed or "no changes")
