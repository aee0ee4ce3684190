"""mmkg against PyKEEN: the same data, model, dimension, negatives, batch, epochs, loss and
optimizer, trained one after the other in this one command on this machine.

Both train with sLCWA. mmkg shares each chunk's negatives between its positives (DGL-KE's
joint sampling), updates only the rows a batch touched (row-wise Adagrad) and runs one
Hogwild process per core; PyKEEN draws negatives per positive and runs dense Adagrad in one
process with PyTorch's intra-op threads. Throughput is training triples (positives) per
second over the whole training, compilation and start-up included; each model is then
evaluated, filtered, on the test split: mmkg's by its evaluator, PyKEEN's by PyKEEN's
RankBasedEvaluator (tests/unit/kge/test_evaluate.py shows the two agree).

    .venv/bin/python bench/kge_vs_pykeen.py --dataset WN18RR --model transe --epochs 20
    .venv/bin/python bench/kge_vs_pykeen.py --dataset FB15k-237 --model rotate --epochs 4

With ``--pykeen-config FILE`` (bench/configs/pykeen/) the peer runs at its own settings
instead: PyKEEN's ``pipeline()`` on the file as written, and mmkg on the same file through
``mmkg train --pykeen-config``'s mapping (negatives drawn per positive, as PyKEEN), plus, with
``--chunk N``, mmkg with N positives sharing their negatives. Validation MRR is probed every
``--probe-every`` epochs without choosing the model by it (both tools keep the last epoch),
which gives mmkg's time to reach PyKEEN's final validation MRR.

    .venv/bin/python bench/kge_vs_pykeen.py --dataset kinships \
        --pykeen-config bench/configs/pykeen/rotate_docs.json --chunk 16

``--dataset`` names a folder of ../shared/data or one of the datasets that ship inside the
PyKEEN package (nations, kinships, umls). Each run adds (or replaces) its entry, per dataset,
model and learning rate (or configuration file), in bench/results/kge_vs_pykeen.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from mmkg.platform.kge.callbacks import Callback
from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.data import KGDataset, load_folder
from mmkg.platform.kge.evaluate import evaluate
from mmkg.platform.kge.pykeen_config import map_pykeen_config
from mmkg.platform.kge.run_dir import write_json
from mmkg.platform.kge.trainer import Trainer, cpu_count, train

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "bench" / "results" / "kge_vs_pykeen.json"

# Shared settings per model: the loss each model is usually trained with in both tools.
SETUPS: dict[str, dict[str, Any]] = {
    # TransE (L2) with unit-norm entities (PyKEEN's TransE), margin ranking loss, Adagrad.
    "transe": {"model": "transe_l2", "loss": "margin", "margin": 1.0, "gamma": 0.0,
               "adversarial_temperature": 0.0, "lr": 0.05, "entity_norm": True},
    # RotatE with the self-adversarial loss of its paper (NSSA in PyKEEN), Adagrad.
    "rotate": {"model": "rotate", "loss": "logistic", "gamma": 6.0,
               "adversarial_temperature": 1.0, "lr": 0.05},
}  # fmt: skip


def _peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)


def run_mmkg(data: KGDataset, setup: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    # PyKEEN starts TransE from unit-norm vectors; uniform(±√(3/d)) has the same norm.
    scale = {"init_scale": (3.0 / args.dim) ** 0.5} if setup["model"] == "transe_l2" else {}
    overrides = {
        **scale,
        **{k: v for k, v in setup.items() if k != "model"},
        "dim": args.dim, "batch_size": args.batch_size, "negatives": args.negatives,
        "neg_chunk_size": args.chunk, "epochs": args.epochs, "eval_every": 0,
        "optimizer": setup.get("optimizer", "adagrad"), "seed": args.seed, "num_procs": args.procs,
    }  # fmt: skip
    config = make_config(setup["model"], overrides)
    with tempfile.TemporaryDirectory(prefix="mmkg-bench-") as tmp:
        result = train(data, config, Path(tmp) / "run", show_progress=False)
        history = json.loads((Path(tmp) / "run" / "history.json").read_text())
    test = result.metrics["test"]
    steady = statistics.median(h["triples_per_second"] for h in history[1:] or history)
    return {
        "train_seconds": result.metrics["train_seconds"],
        "triples_per_second": result.metrics["triples_per_second"],
        "steady_triples_per_second": round(steady, 1),
        "processes": result.metrics["processes"],
        "test_mrr": round(test["mrr"], 4),
        "test_hits@10": round(test["hits@10"], 4),
        "eval_seconds": test["seconds"],
        "peak_rss_gb": result.metrics["peak_rss_gb"],
        "config": config.model_dump(),
    }


def run_pykeen(data: KGDataset, setup: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.losses import MarginRankingLoss, NSSALoss
    from pykeen.models import RotatE, TransE
    from pykeen.training import SLCWATrainingLoop
    from pykeen.triples import CoreTriplesFactory

    torch.manual_seed(args.seed)
    mapped = {s: torch.from_numpy(data.split(s)) for s in ("train", "valid", "test")}
    factory = CoreTriplesFactory.create(
        mapped["train"], num_entities=data.num_entities, num_relations=data.num_relations
    )
    if setup["model"] == "rotate":
        loss = NSSALoss(
            margin=setup["gamma"], adversarial_temperature=setup["adversarial_temperature"]
        )
        model = RotatE(triples_factory=factory, embedding_dim=args.dim // 2, loss=loss,
                       random_seed=args.seed)  # fmt: skip
    else:
        loss = MarginRankingLoss(margin=setup["margin"])
        model = TransE(triples_factory=factory, embedding_dim=args.dim, scoring_fct_norm=2,
                       loss=loss, random_seed=args.seed)  # fmt: skip
    optimizer = torch.optim.Adagrad(model.get_grad_params(), lr=setup["lr"])
    loop = SLCWATrainingLoop(
        model=model,
        triples_factory=factory,
        optimizer=optimizer,
        negative_sampler="basic",
        negative_sampler_kwargs={"num_negs_per_pos": args.negatives},
    )
    started = time.perf_counter()
    loop.train(triples_factory=factory, num_epochs=args.epochs, batch_size=args.batch_size,
               use_tqdm=False)  # fmt: skip
    seconds = time.perf_counter() - started
    eval_started = time.perf_counter()
    result = RankBasedEvaluator(filtered=True).evaluate(
        model, mapped["test"], additional_filter_triples=[mapped["train"], mapped["valid"]],
        batch_size=256, use_tqdm=False,
    )  # fmt: skip
    return {
        "train_seconds": round(seconds, 2),
        "triples_per_second": round(len(data.train) * args.epochs / seconds, 1),
        "threads": torch.get_num_threads(),
        "test_mrr": round(float(result.get_metric("both.realistic.inverse_harmonic_mean_rank")), 4),
        "test_hits@10": round(float(result.get_metric("both.realistic.hits_at_10")), 4),
        "eval_seconds": round(time.perf_counter() - eval_started, 2),
        "peak_rss_gb": _peak_rss_gb(),
    }


def load_dataset(name: str) -> KGDataset:
    """A folder of ../shared/data, else a dataset shipped inside the PyKEEN package."""
    if (DATA / name).is_dir():
        return load_folder(DATA / name)
    import pykeen

    bundled = Path(pykeen.__file__).parent / "datasets" / name.lower()
    if (bundled / "train.txt").is_file():
        return load_folder(bundled)
    raise SystemExit(f"dataset {name} is neither in {DATA} nor shipped with PyKEEN")


class ValidationProbe(Callback):
    """Validation MRR every ``every`` epochs, recorded against training seconds so far; it
    chooses nothing (the run keeps its last epoch, as PyKEEN's pipeline does)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.curve: list[dict[str, float]] = []

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> str | None:
        if self.every and (trainer.state.epoch % self.every == 0 or trainer.is_last_epoch):
            result = evaluate(trainer.model, trainer.data.valid, trainer.filter_index, 0, False)
            self.curve.append({"epoch": trainer.state.epoch,
                               "train_seconds": round(trainer.state.train_seconds, 2),
                               "valid_mrr": round(result.mrr, 4)})  # fmt: skip
        return None


def run_mmkg_mapped(
    data: KGDataset, overrides: dict[str, Any], model: str, args: argparse.Namespace
) -> dict[str, Any]:
    config = make_config(model, {**overrides, "seed": args.seed})
    probe = ValidationProbe(args.probe_every)
    result = Trainer(data, config, None, show_progress=False, extra_callbacks=[probe]).fit()
    test = result.metrics["test"]
    return {
        "train_seconds": result.metrics["train_seconds"],
        "triples_per_second": result.metrics["triples_per_second"],
        "processes": result.metrics["processes"],
        "processes_reason": result.metrics["processes_reason"],
        "neg_chunk_size": config.neg_chunk_size,
        "test_mrr": round(test["mrr"], 4),
        "test_hits@10": round(test["hits@10"], 4),
        "valid_curve": probe.curve,
        "peak_rss_gb": result.metrics["peak_rss_gb"],
        "config": config.model_dump(),
    }


def run_pykeen_pipeline(
    data: KGDataset, pipeline_kwargs: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.pipeline import pipeline
    from pykeen.triples import CoreTriplesFactory

    mapped = {s: torch.from_numpy(data.split(s)) for s in ("train", "valid", "test")}
    factories = {
        split: CoreTriplesFactory.create(
            mapped[split], num_entities=data.num_entities, num_relations=data.num_relations
        )
        for split in mapped
    }
    kwargs = {k: v for k, v in pipeline_kwargs.items()
              if k not in ("dataset", "dataset_kwargs", "metadata")}  # fmt: skip
    started = time.perf_counter()
    result = pipeline(training=factories["train"], validation=factories["valid"],
                      testing=factories["test"], random_seed=args.seed, device="cpu",
                      use_tqdm=False, **kwargs)  # fmt: skip
    total = time.perf_counter() - started
    valid = RankBasedEvaluator(filtered=True).evaluate(
        result.model, mapped["valid"], additional_filter_triples=[mapped["train"], mapped["test"]],
        batch_size=256, use_tqdm=False,
    )  # fmt: skip
    epochs = int(pipeline_kwargs.get("training_kwargs", {}).get("num_epochs", 5))
    metric = result.metric_results.get_metric
    return {
        "train_seconds": round(result.train_seconds, 2),
        "pipeline_seconds": round(total, 2),
        "triples_per_second": round(len(data.train) * epochs / result.train_seconds, 1),
        "threads": torch.get_num_threads(),
        "test_mrr": round(float(metric("both.realistic.inverse_harmonic_mean_rank")), 4),
        "test_hits@10": round(float(metric("both.realistic.hits_at_10")), 4),
        "valid_mrr": round(float(valid.get_metric("both.realistic.inverse_harmonic_mean_rank")), 4),
        "peak_rss_gb": _peak_rss_gb(),
    }


def _time_to(curve: list[dict[str, float]], target: float) -> float | None:
    return next((p["train_seconds"] for p in curve if p["valid_mrr"] >= target), None)


def main_pykeen_config(args: argparse.Namespace) -> None:
    import pykeen.version

    raw = json.loads(Path(args.pykeen_config).read_text())
    pipeline_kwargs = raw.get("pipeline", raw)
    mapping = map_pykeen_config(raw)
    data = load_dataset(args.dataset)
    entry: dict[str, Any] = {
        "dataset": args.dataset,
        "pykeen_config": Path(args.pykeen_config).name,
        "pipeline": pipeline_kwargs,
        "unhonoured": mapping.unhonoured,
        "machine": {
            "cpus": cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    variants = {"mmkg": {}}
    if args.chunk:
        variants[f"mmkg_chunk{args.chunk}"] = {"neg_chunk_size": args.chunk}
    for name, extra in variants.items():
        entry[name] = run_mmkg_mapped(data, {**mapping.overrides, **extra}, mapping.model, args)
        print(name, json.dumps({k: v for k, v in entry[name].items() if k != "config"}))
    if args.only != "mmkg":
        entry["pykeen"] = run_pykeen_pipeline(data, pipeline_kwargs, args)
        entry["pykeen"]["version"] = pykeen.version.get_version()
        print("pykeen", json.dumps(entry["pykeen"]))
        theirs = entry["pykeen"]
        for name in variants:
            ours = entry[name]
            ours["throughput_ratio"] = round(
                ours["triples_per_second"] / theirs["triples_per_second"], 2
            )
            ours["mrr_difference"] = round(ours["test_mrr"] - theirs["test_mrr"], 4)
            reached = _time_to(ours["valid_curve"], theirs["valid_mrr"])
            ours["seconds_to_pykeen_valid_mrr"] = reached
            print(f"{name}: {ours['throughput_ratio']}x, MRR {ours['mrr_difference']:+.4f}, "
                  f"reaches PyKEEN's valid MRR after {reached} s")  # fmt: skip
    results: list[dict[str, Any]] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    key = (args.dataset, entry["pykeen_config"])
    results = [r for r in results if (r["dataset"], r.get("pykeen_config")) != key]
    results.append(entry)
    write_json(RESULTS, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="WN18RR")
    parser.add_argument("--model", choices=sorted(SETUPS), default="transe")
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--negatives", type=int, default=64)
    parser.add_argument("--chunk", type=int, default=128, help="mmkg: positives per negative chunk")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--procs", type=int, default=0, help="mmkg Hogwild processes (0: per core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--lr", type=float, help="learning rate of both (default: the model's setup)"
    )
    parser.add_argument("--only", choices=["mmkg", "pykeen"], help="run one side only (debugging)")
    parser.add_argument("--pykeen-config", help="a PyKEEN pipeline configuration (JSON)")
    parser.add_argument(
        "--probe-every",
        type=int,
        default=10,
        help="--pykeen-config: validation MRR every N epochs (0: never)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.pykeen_config:
        if args.chunk == parser.get_default("chunk"):
            args.chunk = 0  # per-positive draws only, unless a chunk is asked for
        main_pykeen_config(args)
        return
    data = load_dataset(args.dataset)
    setup = dict(SETUPS[args.model])
    if args.lr is not None:
        setup["lr"] = args.lr
    entry: dict[str, Any] = {
        "dataset": args.dataset,
        "model": args.model,
        "shared": {
            "dim": args.dim,
            "batch_size": args.batch_size,
            "negatives_per_positive": args.negatives,
            "epochs": args.epochs,
            "optimizer": "adagrad",
            **{k: v for k, v in setup.items() if k != "model"},
        },
        "machine": {
            "cpus": cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if args.only != "pykeen":
        entry["mmkg"] = run_mmkg(data, setup, args)
        print("mmkg  ", json.dumps({k: v for k, v in entry["mmkg"].items() if k != "config"}))
    if args.only != "mmkg":
        import pykeen.version

        entry["pykeen"] = run_pykeen(data, setup, args)
        entry["pykeen"]["version"] = pykeen.version.get_version()
        print("pykeen", json.dumps(entry["pykeen"]))
    if "mmkg" in entry and "pykeen" in entry:
        ours, theirs = entry["mmkg"], entry["pykeen"]
        entry["throughput_ratio"] = round(
            ours["triples_per_second"] / theirs["triples_per_second"], 2
        )
        entry["mrr_difference"] = round(ours["test_mrr"] - theirs["test_mrr"], 4)
        print(f"ratio {entry['throughput_ratio']}x, MRR difference {entry['mrr_difference']:+.4f}")
    results: list[dict[str, Any]] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    key = (args.dataset, args.model, setup["lr"])
    results = [
        r
        for r in results
        if "shared" not in r or (r["dataset"], r["model"], r["shared"]["lr"]) != key
    ]
    results.append(entry)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS, results)


if __name__ == "__main__":
    main()
