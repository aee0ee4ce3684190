"""The ``mmkg`` console script."""

from __future__ import annotations

import typer

from mmkg import __version__
from mmkg.cli import (
    apps_cmd,
    data_cmd,
    demo_cmd,
    ingest_cmd,
    kge_cmd,
    link_cmd,
    neo4j_cmd,
    schema_cmd,
    search_cmd,
    serving_cmd,
    web_cmd,
    worker_cmd,
)
from mmkg.cli.common import STATE, configure_logging

app = typer.Typer(
    help="mmkg: a multimodal knowledge graph that lives in Neo4j and learns.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
app.add_typer(neo4j_cmd.app, name="neo4j")
app.add_typer(schema_cmd.app, name="schema")
app.add_typer(ingest_cmd.app, name="ingest")
app.add_typer(data_cmd.export_app, name="export")
app.command()(data_cmd.stats)
app.command()(data_cmd.cypher)
app.command()(demo_cmd.demo)
app.command()(kge_cmd.train)
app.command("eval")(kge_cmd.eval_cmd)
app.command()(kge_cmd.models)
app.command("cold-split")(kge_cmd.cold_split)
app.add_typer(serving_cmd.embeddings_app, name="embeddings")
app.add_typer(serving_cmd.predict_app, name="predict")
app.add_typer(serving_cmd.cache_app, name="cache")
app.add_typer(search_cmd.search_app, name="search")
app.add_typer(search_cmd.features_app, name="features")
app.add_typer(link_cmd.link_app, name="link")
app.command()(worker_cmd.worker)
app.command()(worker_cmd.beat)
app.add_typer(worker_cmd.submit_app, name="submit")
app.command()(worker_cmd.jobs)
app.command()(web_cmd.serve)
app.command()(apps_cmd.ask)
app.command()(apps_cmd.recommend)
app.add_typer(web_cmd.api_key_app, name="api-key")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mmkg {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="More logging (-vv: debug)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings; no progress bars."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Settings come from MMKG_* environment variables (see the README)."""
    STATE.quiet = quiet
    configure_logging(verbose, quiet)


if __name__ == "__main__":
    app()
