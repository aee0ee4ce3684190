"""``mmkg train``, ``mmkg eval`` and ``mmkg models``: knowledge-graph embeddings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from mmkg.cli.common import JSON_OPTION, STATE, connect, handle_errors, load_settings, print_json
from mmkg.errors import ConfigError


def _dataset(
    data: Path | None, from_neo4j: bool, order: str, valid: float, test: float, seed: int
) -> Any:
    from mmkg.platform.kge.data import from_export, load_folder

    if (data is None) == (not from_neo4j):
        raise ConfigError("give exactly one of --data DIR or --from-neo4j")
    if data is not None:
        if order not in ("hrt", "htr"):
            raise ConfigError(f"--order must be hrt or htr, not {order!r}")
        return load_folder(data, order)  # type: ignore[arg-type]
    from mmkg.platform.export import export_triples

    with connect() as graph:
        export = export_triples(graph)
    return from_export(export, valid, test, seed)


def train(
    model: str = typer.Option(
        ..., "--model", "-m", help="transe_l1, transe_l2 (transe), distmult, complex or rotate."
    ),
    out: Path = typer.Option(..., "--out", "-o", file_okay=False, help="Run folder to write."),
    data: Path | None = typer.Option(
        None, "--data", file_okay=False, help="Folder with train/valid/test.txt."
    ),
    from_neo4j: bool = typer.Option(False, "--from-neo4j", help="Train on the graph in Neo4j."),
    dim: int | None = typer.Option(None, "--dim", "-d", help="Real numbers per entity vector."),
    epochs: int | None = typer.Option(None, "--epochs", "-e"),
    batch_size: int | None = typer.Option(None, "--batch-size", "-b"),
    lr: float | None = typer.Option(None, "--lr"),
    optimizer: str | None = typer.Option(
        None, "--optimizer", help="adagrad (row-wise), adagrad_elementwise or adam (lazy)."
    ),
    training: str | None = typer.Option(None, "--training", help="slcwa, kvsall or 1vsall."),
    loss: str | None = typer.Option(
        None, "--loss", help="margin, logistic, softplus (slcwa); bce, ce."
    ),
    gamma: float | None = typer.Option(None, "--gamma", help="Margin inside TransE/RotatE scores."),
    margin: float | None = typer.Option(None, "--margin", help="Margin of the margin loss."),
    negatives: int | None = typer.Option(None, "--negatives", "-n", help="Negatives per chunk."),
    neg_chunk_size: int | None = typer.Option(
        None, "--neg-chunk-size", help="Positives sharing negatives."
    ),
    neg_sampler: str | None = typer.Option(None, "--neg-sampler", help="uniform or degree."),
    adversarial_temperature: float | None = typer.Option(
        None, "--adv-temperature", help="0 turns self-adversarial weighting off."
    ),
    regularizer: str | None = typer.Option(None, "--regularizer", help="none, l2 or n3."),
    reg_weight: float | None = typer.Option(None, "--reg-weight"),
    label_smoothing: float | None = typer.Option(None, "--label-smoothing"),
    init_scale: float | None = typer.Option(None, "--init-scale"),
    entity_norm: bool | None = typer.Option(
        None, "--entity-norm/--no-entity-norm", help="Unit-norm entity vectors (TransE)."
    ),
    seed: int | None = typer.Option(None, "--seed"),
    device: str | None = typer.Option(None, "--device", help="cpu or cuda[:n]."),
    num_procs: int | None = typer.Option(
        None, "--num-procs", help="Hogwild processes; 0 = one per core; 1 = deterministic."
    ),
    eval_every: int | None = typer.Option(
        None, "--eval-every", help="Validate every N epochs (0: never)."
    ),
    patience: int | None = typer.Option(
        None, "--patience", help="Early stop after N validations without gain."
    ),
    max_seconds: float | None = typer.Option(None, "--max-seconds", help="Training time budget."),
    no_compile: bool = typer.Option(
        False, "--no-compile", help="Do not torch.compile the pairwise kernels."
    ),
    config_file: Path | None = typer.Option(
        None, "--config", dir_okay=False, help="JSON with any of these settings (options win)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its checkpoint."
    ),
    order: str = typer.Option("hrt", "--order", help="Column order of --data files: hrt or htr."),
    valid_fraction: float = typer.Option(
        0.05, "--valid-fraction", help="--from-neo4j: share held out for validation."
    ),
    test_fraction: float = typer.Option(
        0.05, "--test-fraction", help="--from-neo4j: share held out for test."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train knowledge-graph embeddings and write a self-describing run folder."""
    handle_errors(_train)(**locals())


def _train(**opts: Any) -> None:
    from mmkg.platform.kge.config import make_config
    from mmkg.platform.kge.trainer import train as run_training

    overrides: dict[str, Any] = {}
    if opts["config_file"] is not None:
        try:
            overrides.update(json.loads(Path(opts["config_file"]).read_text("utf-8")))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read --config {opts['config_file']}: {e}") from None
        overrides.pop("model", None)
    for key in (
        "dim", "epochs", "batch_size", "lr", "optimizer", "training", "loss", "gamma", "margin",
        "negatives", "neg_chunk_size", "neg_sampler", "adversarial_temperature", "regularizer",
        "reg_weight", "label_smoothing", "init_scale", "entity_norm", "seed", "device", "num_procs",
        "eval_every", "patience", "max_seconds",
    ):  # fmt: skip
        if opts[key] is not None:
            overrides[key] = opts[key]
    if opts["no_compile"]:
        overrides["compile"] = False
    config = make_config(opts["model"], overrides)
    data = _dataset(
        opts["data"], opts["from_neo4j"], opts["order"], opts["valid_fraction"],
        opts["test_fraction"], config.seed,
    )  # fmt: skip
    settings = load_settings()
    result = run_training(
        data, config, opts["out"], opts["resume"], None if not STATE.quiet else False,
        settings.kge_max_memory,
    )  # fmt: skip
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


def eval_cmd(
    run: Path = typer.Argument(..., file_okay=False, exists=True, help="A training run folder."),
    data: Path | None = typer.Option(
        None, "--data", file_okay=False, help="Dataset folder; default the run's own."
    ),
    split: str = typer.Option("test", "--split", help="valid or test."),
    order: str = typer.Option("hrt", "--order", help="Column order of --data files: hrt or htr."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda[:n]."),
    batch_size: int = typer.Option(0, "--batch-size", help="Queries per batch; 0 = auto."),
) -> None:
    """Filtered MRR, MR and Hits@1/3/10 of a trained run, printed as JSON."""
    handle_errors(_eval)(run, data, split, order, device, batch_size)


def _eval(
    run: Path, data: Path | None, split: str, order: str, device: str, batch_size: int
) -> None:
    from mmkg.platform.kge.run_dir import run_dataset
    from mmkg.platform.kge.trainer import evaluate_run

    if split not in ("valid", "test"):
        raise ConfigError(f"--split must be valid or test, not {split!r}")
    dataset = run_dataset(run, data, order)
    print_json(evaluate_run(run, dataset, split, device, batch_size))


def models(as_json: bool = JSON_OPTION) -> None:
    """The registered models and their default training settings."""
    from mmkg.platform.kge.models import MODELS

    table = {name: {"summary": s.summary, **s.defaults} for name, s in MODELS.items()}
    if as_json:
        print_json(table)
        return
    for name, spec in table.items():
        typer.echo(f"{name:10} {spec.pop('summary')}")
        typer.echo("           " + ", ".join(f"{k}={v}" for k, v in spec.items()))
