"""``mmkg train``, ``mmkg eval`` and ``mmkg models``: knowledge-graph embeddings."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import typer

from mmkg.cli.common import JSON_OPTION, STATE, connect, handle_errors, load_settings, print_json
from mmkg.cli.options import given, option_parameters, with_parameters
from mmkg.errors import ConfigError
from mmkg.platform.kge.config import TrainConfig


def _dataset(opts: dict[str, Any], seed: int) -> Any:
    from mmkg.platform.kge.data import from_triple_set, load_folder

    data, from_neo4j, order = opts["data"], opts["from_neo4j"], opts["order"]
    if (data is None) == (not from_neo4j):
        raise ConfigError("give exactly one of --data DIR or --from-neo4j")
    if data is not None:
        if opts["modalities"]:
            raise ConfigError("--modalities reads the graph's features: use it with --from-neo4j")
        if order not in ("hrt", "htr"):
            raise ConfigError(f"--order must be hrt or htr, not {order!r}")
        return load_folder(data, order)
    from mmkg.platform.export import export_triples
    from mmkg.platform.graph_features import parse_modalities, read_graph_modalities

    names = parse_modalities(opts["modalities"])
    with connect() as graph:
        export = export_triples(graph)
        dataset = from_triple_set(
            export.to_triple_set(), opts["valid_fraction"], opts["test_fraction"], seed
        )
        dataset.features = read_graph_modalities(
            graph, load_settings(), dataset.entity_ids, names, opts["text_encoder"],
            opts["image_encoder"],
        )  # fmt: skip
    return dataset


def _kw(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)  # fmt: skip


_MODEL_HELP = TrainConfig.model_fields["model"].description
_TRAIN_OPTIONS: list[inspect.Parameter] = [
    _kw("model", str | None, typer.Option(None, "--model", "-m", help=_MODEL_HELP)),
    _kw("out", Path, typer.Option(..., "--out", "-o", file_okay=False,
                                  help="Run folder to write.")),
    _kw("data", Path | None, typer.Option(None, "--data", file_okay=False,
                                          help="Folder with train/valid/test.txt.")),
    _kw("from_neo4j", bool, typer.Option(False, "--from-neo4j",
                                         help="Train on the graph in Neo4j.")),
    _kw("config_file", Path | None, typer.Option(
        None, "--config", dir_okay=False, help="JSON with any of these settings (options win).")),
    _kw("pykeen_config", Path | None, typer.Option(
        None, "--pykeen-config", dir_okay=False,
        help="A PyKEEN pipeline configuration (JSON), run as the closest mmkg equivalent; "
             "settings it cannot honour are printed. --config and options win over it.")),
    _kw("resume", bool, typer.Option(False, "--resume",
                                     help="Continue the run in --out from its checkpoint.")),
    _kw("order", str, typer.Option("hrt", "--order",
                                   help="Column order of --data files: hrt or htr.")),
    _kw("valid_fraction", float, typer.Option(
        0.05, "--valid-fraction", help="--from-neo4j: share held out for validation.")),
    _kw("test_fraction", float, typer.Option(
        0.05, "--test-fraction", help="--from-neo4j: share held out for test.")),
    _kw("text", Path | None, typer.Option(
        None, "--text", dir_okay=False,
        help="Fusion: entity texts, id<TAB>text (e.g. WN18RR's entity2text.txt), encoded by "
             "--text-encoder and cached under MMKG_HOME/cache/features.")),
    _kw("text_encoder", str | None, typer.Option(
        None, "--text-encoder",
        help="Encoder of --text (default minilm), or whose entity vectors --modalities text "
             "reads (default MMKG_TEXT_ENCODER).")),
    _kw("numeric", Path | None, typer.Option(
        None, "--numeric", dir_okay=False,
        help="Fusion: numeric literals, entity<TAB>attribute<TAB>value (MMKB's format).")),
    _kw("features", list[str] | None, typer.Option(
        None, "--features",
        help="Fusion: precomputed vectors NAME=FILE (FILE.npy with FILE.ids, or TSV "
             "id<TAB>v1 v2 …); repeat for several, e.g. image=clip.npy.")),
    _kw("modalities", str | None, typer.Option(
        None, "--modalities",
        help="Fusion with --from-neo4j: modalities read from the graph, comma-separated: text "
             "(entity vectors of `mmkg features entities`), image, video (features of the "
             "media that depict or mention each entity, mean-pooled).")),
    _kw("image_encoder", str | None, typer.Option(
        None, "--image-encoder",
        help="Encoder whose media features --modalities image/video reads; default "
             "MMKG_IMAGE_ENCODER.")),
    _kw("as_json", bool, JSON_OPTION),
]  # fmt: skip


def train(**opts: Any) -> None:
    """Train knowledge-graph embeddings and write a self-describing run folder.

    Every training setting is an option below (defaults per model: `mmkg models`); --config
    takes a JSON file of them, and options given on the command line win over it.
    """
    handle_errors(_train)(**opts)


with_parameters(train, _TRAIN_OPTIONS + option_parameters(TrainConfig, exclude={"model"}))


def _train(**opts: Any) -> None:
    from mmkg.platform.kge.config import make_config
    from mmkg.platform.kge.trainer import Trainer

    overrides: dict[str, Any] = {}
    model = opts["model"]
    if opts["pykeen_config"] is not None:
        from mmkg.platform.kge.pykeen_config import read_pykeen_config

        mapped = read_pykeen_config(Path(opts["pykeen_config"]))
        overrides.update(mapped.overrides)
        model = model or mapped.model
        for note in mapped.unhonoured:
            typer.echo(f"PyKEEN config: {note}", err=True)
    if model is None:
        raise ConfigError("give --model (or a --pykeen-config that names one)")
    if opts["config_file"] is not None:
        try:
            overrides.update(json.loads(Path(opts["config_file"]).read_text("utf-8")))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read --config {opts['config_file']}: {e}") from None
        overrides.pop("model", None)
    overrides.update(given(opts, TrainConfig))
    overrides.pop("model", None)
    config = make_config(model, overrides)
    data = _dataset(opts, config.seed)
    settings = load_settings()
    data.features += _modalities(opts, data.entity_ids, settings)
    result = Trainer(
        data, config, opts["out"], resume=opts["resume"],
        show_progress=None if not STATE.quiet else False, max_memory=settings.kge_max_memory,
    ).fit()  # fmt: skip
    if opts["as_json"]:
        print_json(result.metrics)
        return
    m = result.metrics
    typer.echo(
        f"trained {m['model']} for {m['epochs']} epochs in {m['train_seconds']:.1f} s "
        f"({m['triples_per_second']:.0f} triples/s, {m['processes']} process(es)); "
        f"stopped: {m['stopped']}"
    )
    for split in ("valid", "test"):
        if split in m:
            s = m[split]
            typer.echo(
                f"{split:5}  MRR {s['mrr']:.4f}  MR {s['mr']:.1f}  Hits@1 {s['hits@1']:.4f}  "
                f"Hits@3 {s['hits@3']:.4f}  Hits@10 {s['hits@10']:.4f}"
            )
    typer.echo(f"run folder: {result.run}")


def _modalities(opts: dict[str, Any], entity_ids: list[str], settings: Any) -> list[Any]:
    from mmkg.platform.kge.features import load_modalities

    return load_modalities(
        entity_ids,
        text=opts["text"],
        text_encoder=opts["text_encoder"] or "minilm",
        numeric=opts["numeric"],
        vectors=opts["features"] or (),
        cache=settings.resolved_cache_dir / "features",
        show_progress=None if not STATE.quiet else False,
    )


def eval_cmd(
    run: Path = typer.Argument(..., file_okay=False, exists=True, help="A training run folder."),
    data: Path | None = typer.Option(
        None, "--data", file_okay=False, help="Dataset folder; default the run's own."
    ),
    split: str = typer.Option("test", "--split", help="valid or test."),
    order: str = typer.Option("hrt", "--order", help="Column order of --data files: hrt or htr."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda[:n]."),
    batch_size: int = typer.Option(0, "--batch-size", help="Queries per batch; 0 = auto."),
    text: Path | None = typer.Option(
        None,
        "--text",
        dir_okay=False,
        help="Fusion runs: texts of entities new to the run (id<TAB>text), to place them.",
    ),
    text_encoder: str = typer.Option("minilm", "--text-encoder", help="Encoder of --text."),
    numeric: Path | None = typer.Option(
        None, "--numeric", dir_okay=False, help="Fusion runs: numeric literals of new entities."
    ),
    features: list[str] | None = typer.Option(
        None, "--features", help="Fusion runs: NAME=FILE vectors of new entities."
    ),
) -> None:
    """Filtered MRR, MR and Hits@1/3/10 of a trained run, printed as JSON.

    With feature options (fusion runs), entities of --data that the run never saw are placed
    from their features by the run's fusion head and reported in their own section
    (unseen_entity_triples); without, triples that name them are counted and skipped.
    """  # fmt: skip
    handle_errors(_eval)(
        run, data, split, order, device, batch_size,
        {"text": text, "text_encoder": text_encoder, "numeric": numeric, "features": features},
    )  # fmt: skip


def _eval(
    run: Path, data: Path | None, split: str, order: str, device: str, batch_size: int,
    feature_opts: dict[str, Any],
) -> None:  # fmt: skip
    from mmkg.platform.kge.data import read_id_map
    from mmkg.platform.kge.run_dir import load_fusion_head, run_dataset
    from mmkg.platform.kge.trainer import evaluate_run

    if split not in ("valid", "test"):
        raise ConfigError(f"--split must be valid or test, not {split!r}")
    cold = any(feature_opts[k] for k in ("text", "numeric", "features"))
    dataset = run_dataset(run, data, order, extend=cold)
    placed = None
    report: dict[str, Any] = {}
    if cold:
        import numpy as np

        from mmkg.platform.kge.features import load_modalities
        from mmkg.platform.kge.fusion import place_from_features

        head = load_fusion_head(run)
        known = len(read_id_map(run / "entities.dict"))
        new_ids = dataset.entity_ids[known:]
        placed_count = 0
        if new_ids:
            modalities = load_modalities(
                dataset.entity_ids, text=feature_opts["text"],
                text_encoder=feature_opts["text_encoder"], numeric=feature_opts["numeric"],
                vectors=feature_opts["features"] or (),
                cache=load_settings().resolved_cache_dir / "features",
                show_progress=None if not STATE.quiet else False,
            )  # fmt: skip
            rows = np.arange(known, len(dataset.entity_ids))
            placed, has = place_from_features(head, [m.subset(rows) for m in modalities], device)
            placed_count = int(has.sum())
        report = {"new_entities": len(new_ids), "placed_from_features": placed_count}
    result = evaluate_run(run, dataset, split, device, batch_size, placed)
    if cold:
        result["cold_start"] = report
    print_json(result)


def cold_split(
    data: Path = typer.Argument(..., file_okay=False, help="Folder with train/valid/test.txt."),
    out: Path = typer.Option(..., "--out", "-o", file_okay=False, help="Folder to write."),
    fraction: float = typer.Option(0.1, "--fraction", help="Share of entities held out."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw."),
    valid_max: int = typer.Option(1000, "--valid-max", help="Bridging triples in valid."),
    test_max: int = typer.Option(0, "--test-max", help="Bridging triples in test; 0 = all."),
    order: str = typer.Option("hrt", "--order", help="Column order of DATA's files: hrt or htr."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A seeded cold-start split: entities held out of training with all their triples;
    valid and test join one held-out and one seen entity (protocol in split.json)."""
    handle_errors(_cold_split)(data, out, fraction, seed, valid_max, test_max, order, as_json)


def _cold_split(
    data: Path, out: Path, fraction: float, seed: int, valid_max: int, test_max: int,
    order: str, as_json: bool,
) -> None:  # fmt: skip
    from mmkg.platform.kge.cold_split import cold_start_split

    if order not in ("hrt", "htr"):
        raise ConfigError(f"--order must be hrt or htr, not {order!r}")
    description = cold_start_split(data, out, fraction, seed, valid_max, test_max, order)  # type: ignore[arg-type]
    if as_json:
        print_json(description)
        return
    typer.echo(
        f"held out {description['held_out_entities']} of {description['entities']} entities: "
        f"train {description['train']}, valid {description['valid_bridging']} bridging, test "
        f"{description['test_bridging']} bridging + {description['test_seen']} seen; in {out}"
    )


def models(as_json: bool = JSON_OPTION) -> None:
    """The registered models and their default training settings."""
    from mmkg.platform.kge.specs import MODELS

    table = {
        e.name: {
            "summary": e.summary,
            **e.load().defaults,
            "capabilities": e.load().capabilities.to_dict(),
        }
        for e in MODELS.entries()
    }
    if as_json:
        print_json(table)
        return
    for name, spec in table.items():
        typer.echo(f"{name:10} {spec.pop('summary')}")
        typer.echo("           " + ", ".join(f"{k}={v}" for k, v in spec.items()))
