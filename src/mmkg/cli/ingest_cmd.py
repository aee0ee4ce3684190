"""``mmkg ingest triples | entities | literals | rdf | coco | media | interactions``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import typer

from mmkg.cli.common import JSON_OPTION, STATE, connect, handle_errors, load_settings, print_json
from mmkg.platform.ingest import IngestSummary, RejectThreshold, ingest_entities, ingest_triples
from mmkg.platform.readers.entities import ENTITY_FORMATS, EntityFormat
from mmkg.platform.readers.triples import TRIPLE_FORMATS, TRIPLE_ORDERS, TripleFormat, TripleOrder

app = typer.Typer(help="Load triples and entity texts into the graph.", no_args_is_help=True)

STRICT = typer.Option(
    False, "--strict", help="Fail before writing anything if any line is malformed."
)
REJECTS = typer.Option(
    None,
    "--rejects",
    help="Where to write malformed lines (TSV); default MMKG_HOME/rejects/<file>-<time>.tsv.",
)
PATH_ARG = typer.Argument(..., exists=True, dir_okay=False, readable=True, resolve_path=True)
MAX_REJECTS = typer.Option(
    None,
    "--max-rejects",
    help="Fail, before writing anything, when more than N records (or P%, e.g. 5%) are "
    "malformed. Without it a load fails only when every record is.",
)


def _report(summary: IngestSummary, as_json: bool) -> None:
    data: dict[str, Any] = summary.to_dict()
    if as_json:
        print_json(data)
        return
    typer.echo(f"{summary.kind} from {summary.source} in {summary.seconds:.1f} s")
    typer.echo(f"  records read:          {summary.records}")
    typer.echo(
        f"  entities:              {summary.entities_created} created, "
        f"{summary.entities_present} already present"
    )
    if summary.kind == "triples":
        typer.echo(
            f"  relationships:         {summary.relationships_created} created, "
            f"{summary.relationships_present} already present"
        )
        typer.echo(f"  relation types new:    {summary.relation_types_created}")
        if summary.seconds > 0:
            typer.echo(
                f"  throughput:            {summary.records / summary.seconds:,.0f} triples/s"
            )
    if summary.repeated_ids:
        typer.echo(f"  ids repeated (merged): {summary.repeated_ids}")
    typer.echo(f"  rejected:              {summary.rejected}")
    if summary.rejects_file:
        typer.echo(f"  rejects written to:    {summary.rejects_file}")


def _run(loader: Callable[..., IngestSummary], path: Path, as_json: bool, **options: Any) -> None:
    settings = load_settings()
    with connect() as graph:
        summary = loader(
            graph, path, settings, show_progress=False if STATE.quiet else None, **options
        )
    _report(summary, as_json)


@app.command()
@handle_errors
def triples(
    path: Path = PATH_ARG,
    fmt: str = typer.Option("tsv", "--format", help="tsv, csv or jsonl."),
    order: str = typer.Option(
        "hrt", "--order", help="Column order: hrt (head relation tail) or htr (WN9-IMG)."
    ),
    strict: bool = STRICT,
    rejects: Path | None = REJECTS,
    max_rejects: str | None = MAX_REJECTS,
    as_json: bool = JSON_OPTION,
) -> None:
    """Load triples; each relation becomes a native relationship type.

    Idempotent: running it again adds nothing; a run that was killed completes when re-run.
    """
    f: TripleFormat = fmt  # type: ignore[assignment]
    o: TripleOrder = order  # type: ignore[assignment]
    if fmt not in TRIPLE_FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(TRIPLE_FORMATS)}")
    if order not in TRIPLE_ORDERS:
        raise typer.BadParameter(f"--order must be one of {', '.join(TRIPLE_ORDERS)}")
    _run(
        ingest_triples,
        path,
        as_json,
        fmt=f,
        order=o,
        strict=strict,
        rejects_path=rejects,
        max_rejects=max_rejects,
    )


@app.command()
@handle_errors
def literals(
    path: Path = PATH_ARG,
    strict: bool = STRICT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Load numeric literals, entity<TAB>attribute<TAB>value (MMKB's format), onto existing
    entities, for fusion's numeric modality (`mmkg train --from-neo4j --modalities numeric`).

    Idempotent; ids the graph lacks are counted and named, bad lines are named with file:line.
    """
    from mmkg.platform.ingest.literals import ingest_literals

    with connect() as graph:
        summary = ingest_literals(graph, path, strict=strict)
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"{summary['literals']} literals of {summary['attributes']} attributes from "
        f"{summary['source']} in {summary['seconds']:.2f} s; {summary['unknown_entities']} "
        f"unknown entity id(s), {summary['rejected']} bad line(s)"
    )


@app.command()
@handle_errors
def rdf(
    path: Path = PATH_ARG,
    fmt: str | None = typer.Option(
        None,
        "--format",
        help="nt (N-Triples, streamed) or ttl (Turtle); default from the extension (.nt, .ttl).",
    ),
    lang: str = typer.Option(
        "en",
        "--lang",
        help="Language of the names and descriptions to keep; labels in others become aliases.",
    ),
    strict: bool = STRICT,
    rejects: Path | None = REJECTS,
    as_json: bool = JSON_OPTION,
) -> None:
    """Load RDF: IRI-to-IRI statements become relations (named foaf:knows where the prefix is
    known), rdfs:label / skos:prefLabel / schema:name the names, skos:altLabel the aliases,
    rdfs:comment / schema:description the descriptions, numeric literals numeric attributes.

    Idempotent; blank nodes keep stable ids; bad N-Triples lines are skipped and named with
    file:line (all of them fail the load; --strict fails on any).
    """
    from mmkg.platform.ingest.rdf import ingest_rdf
    from mmkg.platform.readers.rdf import RDF_FORMATS, RdfFormat

    if fmt is not None and fmt not in RDF_FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(RDF_FORMATS)}", param_hint="--format")
    settings = load_settings()
    with connect() as graph:
        summary = ingest_rdf(
            graph,
            path,
            settings,
            cast("RdfFormat | None", fmt),
            lang.lower(),
            strict,
            rejects,
            show_progress=False if STATE.quiet or as_json else None,
        )
    if as_json:
        print_json(summary.to_dict())
        return
    t = summary.triples
    typer.echo(
        f"{t.records} relations from {t.source} ({t.relationships_created} new, "
        f"{t.entities_created} entities created, {t.relation_types_created} new relation "
        f"types); {summary.entity_texts} entity texts; {summary.literals} numeric literals of "
        f"{summary.literal_attributes} attributes; {t.rejected} bad statement(s)"
        + (f" (in {t.rejects_file})" if t.rejects_file else "")
    )
    if summary.skipped_literals:
        left = ", ".join(f"{p} ×{n}" for p, n in list(summary.skipped_literals.items())[:5])
        typer.echo(f"left out (not names, descriptions or numbers): {left}")


@app.command()
@handle_errors
def coco(
    images: Path = typer.Option(
        ...,
        "--images",
        exists=True,
        file_okay=False,
        resolve_path=True,
        help="The folder the annotations' file_names are relative to.",
    ),
    instances: Path | None = typer.Option(
        None, "--instances", exists=True, dir_okay=False, resolve_path=True, help="instances_*.json"
    ),
    captions: Path | None = typer.Option(
        None, "--captions", exists=True, dir_okay=False, resolve_path=True, help="captions_*.json"
    ),
    wordnet: bool = typer.Option(
        False,
        "--wordnet",
        help="Map categories to the graph's "
        "WordNet entities of the same name (WN18RR, WN9-IMG ids).",
    ),
    image_encoder: str | None = typer.Option(
        None, "--image-encoder", help="Encoder of the images (default MMKG_IMAGE_ENCODER)."
    ),
    rejects: Path | None = REJECTS,
    as_json: bool = JSON_OPTION,
) -> None:
    """Load an MS-COCO annotation set: images as media, categories as entities, boxes as
    DEPICTS {box}, captions as Text media CAPTION_OF their image (`mmkg link media` links
    them to entities).

    Streams the JSON files; idempotent; bad records are skipped with their entry number.
    """
    from mmkg.platform.ingest.coco import ingest_coco

    settings = load_settings()
    if image_encoder:
        settings = settings.model_copy(update={"image_encoder": image_encoder})
    with connect() as graph:
        summary = ingest_coco(
            graph,
            settings,
            images,
            instances,
            captions,
            wordnet,
            rejects,
            show_progress=False if STATE.quiet or as_json else None,
        )
    if as_json:
        print_json(summary.to_dict())
        return
    s = summary
    typer.echo(
        f"{s.images_ingested} images ({s.images_missing} of {s.images_listed} listed are not in "
        f"{images}); {s.categories} categories ({len(s.categories_on_wordnet)} on WordNet "
        f"entities); {s.boxes} boxes ({s.boxes_skipped} skipped); {s.captions} captions "
        f"({s.captions_skipped} skipped); {s.rejected} bad record(s)"
        + (f" (in {s.rejects_file})" if s.rejects_file else "")
        + f" in {s.seconds:.1f} s"
    )


@app.command()
@handle_errors
def entities(
    path: Path = PATH_ARG,
    fmt: str | None = typer.Option(
        None, "--format", help="tsv, jsonl or json; default from the file's extension."
    ),
    name_sep: str | None = typer.Option(
        None,
        "--name-sep",
        help="Split a two-column TSV's second column at its first SEP into name and "
        "description (WN18RR's entity2text.txt: --name-sep ', ').",
    ),
    strict: bool = STRICT,
    rejects: Path | None = REJECTS,
    max_rejects: str | None = MAX_REJECTS,
    as_json: bool = JSON_OPTION,
) -> None:
    """Load entity names, descriptions and aliases (creating entities that are missing).

    Fields merge one by one: a non-empty value replaces the stored one, an empty or missing
    one keeps it; an id repeated in the file merges the same way, in file order.
    """
    f: EntityFormat | None = fmt  # type: ignore[assignment]
    if fmt is not None and fmt not in ENTITY_FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(ENTITY_FORMATS)}")
    _run(
        ingest_entities,
        path,
        as_json,
        fmt=f,
        name_sep=name_sep,
        strict=strict,
        rejects_path=rejects,
        max_rejects=max_rejects,
    )


@app.command("media")
@handle_errors
def media(
    paths: list[Path] = typer.Argument(None, help="Files or folders (recursively)."),
    manifest: Path | None = typer.Option(
        None,
        "--manifest",
        help="CSV or JSONL: path, entities, caption, relation (DEPICTS|MENTIONS), source. "
        "Its files are ingested too.",
    ),
    root: Path | None = typer.Option(
        None,
        "--root",
        help="Only files under this folder. Files and folders named here are taken wherever "
        "they are unless --root is given; a manifest's files must lie under --root (default "
        "MMKG_MEDIA_ROOT, or the current folder).",
    ),
    image_encoder: str | None = typer.Option(
        None, "--image-encoder", help="clip:PATH or cnn:PATH (default MMKG_IMAGE_ENCODER)."
    ),
    text_encoder: str | None = typer.Option(
        None, "--text-encoder", help="minilm, st:PATH (default MMKG_TEXT_ENCODER)."
    ),
    frames: int | None = typer.Option(None, "--frames", min=1, help="Frames sampled per video."),
    link: bool = typer.Option(
        False,
        "--link",
        help="Then link the ingested texts and images to entities (the entity "
        "linker: MENTIONS and DEPICTS with source 'linker'; see `mmkg link media`).",
    ),
    max_rejects: str | None = MAX_REJECTS,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ingest images, videos and .txt/.md documents as :Media nodes with features.

    Ids are the sha256 of the content, so ingesting again is a no-op. Bad files (corrupt,
    truncated, empty, unsupported, decompression bombs, videos without a decodable frame,
    symlinks, paths outside the root) are recorded as :MediaFailure nodes with their reason
    and skipped; the batch goes on.
    """
    from mmkg.platform.media import ingest_media

    settings = load_settings()
    updates: dict[str, Any] = {}
    if root is not None:
        updates["media_root"] = root
    if image_encoder is not None:
        updates["image_encoder"] = image_encoder
    if text_encoder is not None:
        updates["text_encoder"] = text_encoder
    if frames is not None:
        updates["video_frames"] = frames
    settings = settings.model_copy(update=updates)
    if not paths and manifest is None:
        raise typer.BadParameter("give files or folders, or --manifest")
    with connect() as graph:
        summary = ingest_media(
            graph,
            list(paths or []),
            settings,
            manifest,
            show_progress=False if STATE.quiet else None,
            restrict_paths=root is not None,
        )
        if link:
            from mmkg.platform.linking.media import link_media_in_graph

            ids = [i for kind in ("Text", "Image", "Video") for i in summary.ids.get(kind, [])]
            if ids:
                summary.links = link_media_in_graph(
                    graph, settings, ids=ids, show_progress=False if STATE.quiet else None
                ).to_dict()
    threshold = RejectThreshold.parse(max_rejects)
    total = summary.files + len([f for f in summary.failures if f.get("stage") == "discover"])
    failed_all = threshold.exceeded(summary.failed, max(total, summary.failed))
    if as_json:
        print_json(summary.to_dict())
        if failed_all:
            raise typer.Exit(1)
        return
    typer.echo(
        f"media ingest {summary.ingest_id}: {summary.files} files in {summary.seconds:.1f} s"
    )
    typer.echo(f"  created:      {summary.created} ({summary.present} already present)")
    typer.echo(f"  featurised:   {summary.featurised}  {summary.encoders}")
    typer.echo(f"  linked:       {summary.linked} links to entities")
    if summary.missing_entities:
        typer.echo(
            f"  unknown entities in the manifest: {', '.join(summary.missing_entities[:10])}"
        )
    if summary.links is not None:
        ln = summary.links
        typer.echo(
            f"  entity links: {ln['mentions']} mentions in {ln['texts']} texts, "
            f"{ln['depicts']} depictions in {ln['images']} images and {ln['videos']} videos"
        )
    typer.echo(f"  failed:       {summary.failed}")
    for failure in summary.failures[:20]:
        typer.echo(f"    {failure['path']}: {failure['reason']}")
    for note in summary.notes:
        typer.echo(f"  note: {note}")
    if failed_all:
        typer.secho(
            f"error: {summary.failed} of {max(total, summary.failed)} media failed "
            f"({threshold.describe()} allowed)",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(1)


@app.command()
@handle_errors
def interactions(
    path: Path = PATH_ARG,
    items: Path | None = typer.Option(
        None,
        "--items",
        exists=True,
        dir_okay=False,
        help="item<TAB>entity id per line: how the log's item ids name entities "
        "(MovieLens' numeric movie ids, for instance).",
    ),
    strict: bool = STRICT,
    rejects: Path | None = REJECTS,
    max_rejects: str | None = MAX_REJECTS,
    as_json: bool = JSON_OPTION,
) -> None:
    """Load an interaction log: user, item[, weight[, timestamp]] per line (CSV or TSV, with or
    without a header; MovieLens' u.data as it is) as (:User)-[:INTERACTED {weight, at}]->(item).

    Items must be entities of the graph already: unknown ones are counted and named, not
    created. A repeated (user, item) keeps its latest line; loading again changes nothing.
    """
    from mmkg.platform.ingest.interactions import ingest_interactions, read_item_map

    settings = load_settings()
    mapping = read_item_map(items) if items is not None else None
    with connect() as graph:
        summary = ingest_interactions(
            graph,
            path,
            settings,
            mapping,
            strict,
            max_rejects,
            rejects,
            show_progress=False if STATE.quiet else None,
        )
    if as_json:
        print_json(summary.to_dict())
        return
    typer.echo(f"interactions from {summary.source}")
    typer.echo(f"  lines read:            {summary.records}")
    typer.echo(f"  interactions written:  {summary.interactions} (user, item) pairs")
    typer.echo(f"  users created:         {summary.users_created}")
    if summary.repeated_pairs:
        typer.echo(f"  repeated pairs:        {summary.repeated_pairs} (latest line kept)")
    if summary.unknown_items:
        typer.echo(
            f"  unknown items:         {summary.unknown_items} interaction(s), e.g. "
            f"{', '.join(summary.unknown_examples[:5])}"
        )
    typer.echo(f"  rejected:              {summary.rejected}")
    if summary.rejects_file:
        typer.echo(f"  rejects written to:    {summary.rejects_file}")
