"""What every command shares: settings, the graph connection, output and error handling."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError

from mmkg.errors import ConfigError, MmkgError
from mmkg.platform.store import Graph
from mmkg.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


class State:
    settings: Settings | None = None
    quiet: bool = False


STATE = State()


def load_settings() -> Settings:
    if STATE.settings is None:
        try:
            STATE.settings = Settings()
        except ValidationError as e:
            raise ConfigError(f"invalid MMKG_* setting:\n{e}") from e
    return STATE.settings


def configure_logging(verbose: int, quiet: bool) -> None:
    """mmkg's own progress at INFO by default, warnings only with ``-q``; ``-v`` adds the
    libraries' INFO messages, ``-vv`` everyone's DEBUG."""
    if quiet:
        root, ours = logging.WARNING, logging.WARNING
    elif verbose == 0:
        root, ours = logging.WARNING, logging.INFO
    elif verbose == 1:
        root, ours = logging.INFO, logging.INFO
    else:
        root, ours = logging.DEBUG, logging.DEBUG
    logging.basicConfig(level=root, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(root)
    logging.getLogger("mmkg").setLevel(ours)
    # The driver logs every retry at WARNING; ours say what matters.
    logging.getLogger("neo4j").setLevel(logging.ERROR if verbose < 2 else logging.DEBUG)
    # The filesystem broker has no host, and kombu says so on every connection.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print mmkg's errors as one clear message and exit 1, instead of a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except MmkgError as e:
            typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None

    return wrapper


@contextmanager
def connect() -> Iterator[Graph]:
    """The process's one connection to the configured database."""
    graph = Graph.connect(load_settings())
    try:
        yield graph
    finally:
        graph.close()


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 60) -> None:
    """A plain-text table, cells cut to ``max_width`` characters."""
    cells = [[_cell(v) for v in row] for row in rows]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    typer.echo(line)
    typer.echo("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    typer.echo(line)
    for row in cells:
        typer.echo("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    typer.echo(line)
    typer.echo(f"{len(rows)} row{'s' if len(rows) != 1 else ''}")
