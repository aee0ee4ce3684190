"""``mmkg schema apply | show``."""

from __future__ import annotations

import typer

from mmkg.cli.common import JSON_OPTION, connect, handle_errors, print_json, print_table
from mmkg.platform.schema import SchemaReport, apply_schema, describe_schema

app = typer.Typer(help="Apply or show the graph schema.", no_args_is_help=True)


def _show(report: SchemaReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
        return
    typer.echo(f"schema version {report.version} (this mmkg: {report.target_version})")
    if report.applied_now:
        typer.echo(f"applied now: migrations {report.applied_now}")
    typer.echo("\nmigrations:")
    print_table(
        ["version", "description", "applied_at"],
        [[m["version"], m["description"], m["applied_at"]] for m in report.migrations],
        max_width=80,
    )
    typer.echo("\nconstraints:")
    print_table(
        ["name", "type", "on", "properties"],
        [[c["name"], c["type"], c["labelsOrTypes"], c["properties"]] for c in report.constraints],
    )
    typer.echo("\nindexes:")
    print_table(
        ["name", "type", "on", "properties", "state"],
        [
            [i["name"], i["type"], i["labelsOrTypes"], i["properties"], i["state"]]
            for i in report.indexes
        ],
    )


@app.command()
@handle_errors
def apply(as_json: bool = JSON_OPTION) -> None:
    """Apply pending schema migrations (idempotent; each is recorded in the graph)."""
    with connect() as graph:
        _show(apply_schema(graph), as_json)


@app.command()
@handle_errors
def show(as_json: bool = JSON_OPTION) -> None:
    """Show the schema version, migrations, constraints and indexes in the graph."""
    with connect() as graph:
        _show(describe_schema(graph), as_json)


@app.command()
@handle_errors
def repair(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Only report what would be merged; change nothing."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Merge nodes that share a unique key (made while the schema was not applied), so that
    `mmkg schema apply` can create its constraints.

    In each group the node with the smallest element id stays; the others' relationships move
    to it, their properties fill its gaps, and they are deleted. Duplicated relationships
    between the same two entities are then removed.
    """
    from mmkg.platform.schema_repair import repair_duplicates

    with connect() as graph:
        report = repair_duplicates(graph, dry_run=dry_run)
    if as_json:
        print_json(report.to_dict())
        return
    if not report.duplicates and not report.duplicate_relationships:
        typer.echo("no duplicates: nothing to repair")
        return
    verb = "would merge" if dry_run else "merged"
    for d in report.duplicates:
        typer.echo(
            f"{verb} {d['extra']} extra :{d['label']} node(s) sharing {d['groups']} {d['key']}(s) "
            f"(e.g. {', '.join(repr(v) for v in d['sample'])})"
        )
    if report.relationships_retyped:
        typer.echo(f"{verb} the relationships of {report.relationships_retyped} duplicate type(s)")
    if not dry_run:
        typer.echo(
            f"removed {report.nodes_removed} node(s), moved {report.relationships_moved} "
            f"relationship(s), removed {report.relationships_removed} duplicated relationship(s)"
        )
        typer.echo("now run `mmkg schema apply`")
    elif report.duplicate_relationships:
        typer.echo(f"would remove {report.duplicate_relationships} duplicated relationship(s)")
