"""``mmkg search text | image`` and ``mmkg features entities``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from mmkg.platform.media import SearchHit

search_app = typer.Typer(
    help="Cross-modal semantic search through Neo4j's vector indexes.", no_args_is_help=True
)
features_app = typer.Typer(help="Compute features of graph nodes.", no_args_is_help=True)

TARGET = typer.Option("text", "--target", "-t", help="image, video, text or entity.")
K = typer.Option(10, "-k", "--top", min=1, max=10_000, help="How many results.")


def _show(hits: list[SearchHit], as_json: bool) -> None:
    rows = [h.to_dict() for h in hits]
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo("nothing found")
        return
    print_table(
        ["rank", "kind", "name", "score", "file", "id"],
        [[i + 1, r["kind"], r["name"], round(r["score"], 4),
          (r["uri"] or "").rsplit("/", 1)[-1], r["id"][:16]] for i, r in enumerate(rows)],
    )  # fmt: skip


@search_app.command("text")
@handle_errors
def text(
    query: str = typer.Argument(..., help="What to look for, in words."),
    target: str = TARGET,
    k: int = K,
    as_json: bool = JSON_OPTION,
) -> None:
    """Media or entities matching a text query (images and videos through CLIP's text side)."""
    from mmkg.platform.media import search_text

    with connect() as graph:
        _show(search_text(graph, query, load_settings(), target, k), as_json)


@search_app.command("image")
@handle_errors
def image(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The query image."),
    target: str = typer.Option("image", "--target", "-t", help="image, video or entity."),
    k: int = K,
    as_json: bool = JSON_OPTION,
) -> None:
    """Media or entities similar to an image (through the image encoder)."""
    from mmkg.platform.media import search_image

    with connect() as graph:
        _show(search_image(graph, file, load_settings(), target, k), as_json)


@features_app.command("entities")
@handle_errors
def entities(
    encoder: str | None = typer.Option(
        None,
        "--encoder",
        help="Text encoder (default MMKG_TEXT_ENCODER); clip:PATH for image-to-entity search.",
    ),
    all_entities: bool = typer.Option(
        False, "--all", help="Recompute entities that already have features."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Embed every entity's name and description, and index the vectors for search."""
    from mmkg.platform.media import embed_entities

    with connect() as graph:
        result = embed_entities(
            graph, load_settings(), encoder, only_missing=not all_entities,
            show_progress=False if STATE.quiet else None,
        )  # fmt: skip
    if as_json:
        print_json(result)
    else:
        typer.echo(
            f"embedded {result['entities']} entities with {result['encoder']} in "
            f"{result['seconds']:.1f} s; index {result['index']}"
        )
