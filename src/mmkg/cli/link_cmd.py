"""``mmkg link text | media | train | evaluate``: entity linking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from mmkg.cli.common import JSON_OPTION, STATE, connect, handle_errors, load_settings, print_json

link_app = typer.Typer(
    help="Entity linking: connect text and media to the graph's entities.", no_args_is_help=True
)

THRESHOLD = typer.Option(
    None,
    "--threshold",
    min=0.0,
    max=1.0,
    help="Links scored below this are NIL (default the model's calibrated threshold).",
)
MODEL = typer.Option(
    None,
    "--model",
    help="A linker model from `mmkg link train` (default MMKG_LINKER_MODEL, "
    "else the packaged one).",
)

IMAGE_METHOD = typer.Option(
    "auto",
    "--image-method",
    help="imagenet (EfficientNet-Lite0's classes are WordNet synsets: WordNet graphs), clip "
    "(zero-shot against the entities' CLIP text vectors: any graph) or auto (clip when the "
    "image encoder is a CLIP with entity vectors, else imagenet).",
)
IMAGE_THRESHOLD = typer.Option(
    0.1, "--image-threshold", min=0.0, max=1.0, help="Least probability of an image link."
)
IMAGE_K = typer.Option(3, "--image-k", min=1, max=100, help="Most entities linked per image.")


def _settings(model: Path | None, threshold: float | None) -> Any:
    settings = load_settings()
    updates: dict[str, Any] = {}
    if model is not None:
        updates["linker_model"] = model
    if threshold is not None:
        updates["linker_threshold"] = threshold
    return settings.model_copy(update=updates)


def read_documents(path: Path) -> list[str]:
    """One document per line of a UTF-8 file; a bad byte is reported with its offset."""
    from mmkg.errors import DataError

    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 (byte offset {e.start} in the file: 0x{data[e.start]:02x})"
        ) from None
    return text.splitlines()


@link_app.command("text")
@handle_errors
def text(
    document: str | None = typer.Argument(None, help="The text to link."),
    file: Path | None = typer.Option(None, "--file", "-f", help="One document per line."),
    model: Path | None = MODEL,
    threshold: float | None = THRESHOLD,
    as_json: bool = JSON_OPTION,
) -> None:
    """Link the entities a text mentions (no links are written; entities without a text
    vector get one first, as context needs them).

    Prints each mention with its character offsets, surface, entity id, name and score;
    --json prints, per document, its mentions. An empty document has no mentions; a long
    one is cut into windows, not refused.
    """
    from mmkg.platform.linking.linker import TextLinker

    if (document is None) == (file is None):
        raise typer.BadParameter("give a TEXT or --file F (one document per line), not both")
    docs = [document or ""] if file is None else read_documents(file)
    settings = _settings(model, threshold)
    with connect() as graph:
        linker = TextLinker.from_graph(
            graph, settings, show_progress=False if STATE.quiet else None
        )
        linked = linker.link(docs, show_progress=False if STATE.quiet else None)
    if as_json:
        print_json(
            [
                {"document": i + (1 if file else 0), "linker": linker.model.label, **d.to_dict()}
                for i, d in enumerate(linked)
            ]
        )
        return
    for n, d in enumerate(linked):
        if file is not None:
            typer.echo(f"document {n + 1}: {len(d.mentions)} mentions")
        for m in d.mentions:
            typer.echo(
                f"  [{m.start}:{m.end}] {m.surface!r} → {m.entity} ({m.name}) score {m.score:.3f}"
            )
        if not d.mentions and file is None:
            typer.echo("no entities found")
    for note in linker.notes:
        typer.echo(f"note: {note}")


@link_app.command("media")
@handle_errors
def media(
    all_media: bool = typer.Option(False, "--all", help="Every text, image and video medium."),
    unlinked: bool = typer.Option(
        False, "--unlinked", help="Only media the linker has not linked yet."
    ),
    ids: list[str] = typer.Option(None, "--id", help="These media (content ids); repeatable."),
    images: bool = typer.Option(True, "--images/--no-images", help="Link images and videos too."),
    texts: bool = typer.Option(True, "--texts/--no-texts", help="Link text documents."),
    image_method: str = IMAGE_METHOD,
    image_threshold: float = IMAGE_THRESHOLD,
    image_k: int = IMAGE_K,
    model: Path | None = MODEL,
    threshold: float | None = THRESHOLD,
    as_json: bool = JSON_OPTION,
) -> None:
    """Link stored media to entities and write the edges (replacing the linker's earlier
    ones, never a manifest's): Text → MENTIONS, Image and Video → DEPICTS."""
    from mmkg.platform.linking.media import link_media_in_graph

    chosen = sum([all_media, unlinked, bool(ids)])
    if chosen != 1:
        raise typer.BadParameter("give exactly one of --all, --unlinked or --id ID")
    settings = _settings(model, threshold)
    with connect() as graph:
        summary = link_media_in_graph(
            graph,
            settings,
            ids=list(ids) if ids else None,
            unlinked=unlinked,
            texts=texts,
            images=images,
            image_method=image_method,
            image_threshold=image_threshold,
            image_k=image_k,
            show_progress=False if STATE.quiet else None,
        )
    if as_json:
        print_json(summary.to_dict())
        return
    typer.echo(
        f"linked {summary.texts} texts ({summary.mentions} mentions), {summary.images} images "
        f"and {summary.videos} videos ({summary.depicts} depictions) in "
        f"{summary.seconds:.1f} s with {summary.linker}"
    )
    for s in summary.skipped[:20]:
        typer.echo(f"  skipped {s['id'][:16]} {s['path']}: {s['reason']}")
    for note in summary.notes:
        typer.echo(f"note: {note}")


@link_app.command("train")
@handle_errors
def train(
    labelled: Path = typer.Argument(
        ..., help="JSONL: {text, mentions: [{start, end, entity}], split: train|valid|test}."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the model (JSON)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Fit a linker model on a labelled set against this graph: the regressions on its
    train documents, the NIL threshold on its valid ones; scores its test ones."""
    from mmkg.platform.linking.labelled import read_labelled
    from mmkg.platform.linking.linker import TextLinker
    from mmkg.platform.linking.train import evaluate, featurise, fit, untrained

    docs = read_labelled(labelled)
    parts = {s: [d for d in docs if d.split == s] for s in ("train", "valid", "test")}
    if not parts["train"] or not parts["valid"]:
        from mmkg.errors import DataError

        raise DataError(
            f"{labelled}: needs documents with split 'train' and 'valid' (found "
            f"{', '.join(f'{k} {len(v)}' for k, v in parts.items())})"
        )
    settings = load_settings()
    show = False if STATE.quiet else None
    with connect() as graph:
        linker = TextLinker.from_graph(graph, settings, model=untrained(), show_progress=show)
        feats = {s: featurise(linker, v, show) for s, v in parts.items() if v}
        model = fit(
            linker,
            feats["train"],
            feats["valid"],
            trained_on={"set": str(labelled), "documents": len(parts["train"])},
        )
        report: dict[str, Any] = {
            "model": model.label,
            "threshold": model.threshold,
            "validation_f1": model.validation["f1"],
        }
        if "test" in feats:
            report["test"] = evaluate(linker, parts["test"], linker.score(feats["test"].batch))
    model.save(out)
    report["out"] = str(out)
    if as_json:
        print_json(report)
        return
    typer.echo(
        f"wrote {out}: {model.label}, NIL below {model.threshold}, "
        f"validation F1 {model.validation['f1']:.3f}"
    )
    if "test" in report:
        t = report["test"]
        typer.echo(
            f"test: precision {t['precision']:.3f} recall {t['recall']:.3f} "
            f"F1 {t['f1']:.3f} on {t['gold_mentions']} mentions"
        )
