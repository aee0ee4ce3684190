"""Quality runs: each model on FB15k-237 and WN18RR with `mmkg train`, checked by `mmkg eval`,
beside the published tuned results.

The configurations are committed in bench/configs/quality/<dataset>-<model>.json; each run
writes its folder under bench/runs/ (not committed) and its figures into
bench/results/quality.json. A configuration's ``max_seconds`` is the training budget on the
machine it ran on; ``--budget-scale`` multiplies it (a GPU or a longer night).

    .venv/bin/python bench/kge_quality.py                       # every configuration
    .venv/bin/python bench/kge_quality.py --only WN18RR-rotate --device cuda --budget-scale 10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from common import mmkg_json
from mmkg.platform.kge.run_dir import write_json

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CONFIGS = REPO / "bench" / "configs" / "quality"
RUNS = REPO / "bench" / "runs"
RESULTS = REPO / "bench" / "results" / "quality.json"

# ../shared/data/README.md: LibKGE's tuned results (ICLR 2020), filtered MRR / Hits@10.
PUBLISHED = {
    ("FB15k-237", "transe"): (0.313, 0.497),
    ("FB15k-237", "distmult"): (0.343, 0.531),
    ("FB15k-237", "complex"): (0.348, 0.536),
    ("FB15k-237", "rotate"): (0.333, 0.522),
    ("WN18RR", "transe"): (0.228, 0.520),
    ("WN18RR", "distmult"): (0.452, 0.530),
    ("WN18RR", "complex"): (0.475, 0.547),
    ("WN18RR", "rotate"): (0.478, 0.553),
}


def run_one(path: Path, device: str | None, scale: float) -> dict[str, Any]:
    spec = json.loads(path.read_text())
    dataset, family = spec["dataset"], spec["family"]
    settings = dict(spec["train"])
    if device:
        settings["device"] = device
    if settings.get("max_seconds"):
        settings["max_seconds"] = settings["max_seconds"] * scale
    run = RUNS / path.stem
    if run.exists():
        for child in sorted(run.iterdir()):
            child.unlink()
        run.rmdir()
    config_file = RUNS / f"{path.stem}.config.json"
    RUNS.mkdir(parents=True, exist_ok=True)
    config_file.write_text(json.dumps({k: v for k, v in settings.items() if k != "model"}))
    started = time.perf_counter()
    metrics = mmkg_json(
        "train", "--model", settings["model"], "--data", str(DATA / dataset),
        "--config", str(config_file), "--out", str(run), "--json",
    )  # fmt: skip
    wall = time.perf_counter() - started
    checked = mmkg_json("eval", str(run), "--split", "test")
    published_mrr, published_h10 = PUBLISHED[(dataset, family)]
    test = metrics["test"]
    return {
        "name": path.stem,
        "dataset": dataset,
        "model": settings["model"],
        "config": settings,
        "test_mrr": round(test["mrr"], 4),
        "test_hits@10": round(test["hits@10"], 4),
        "test_hits@1": round(test["hits@1"], 4),
        "test_mr": round(test["mr"], 1),
        "eval_check_mrr": round(checked["mrr"], 4),
        "valid_mrr": round(metrics["valid"]["mrr"], 4),
        "published_mrr": published_mrr,
        "published_hits@10": published_h10,
        "gap_mrr": round(test["mrr"] - published_mrr, 4),
        "within_0.01": test["mrr"] >= published_mrr - 0.01,
        "epochs": metrics["epochs"],
        "best_epoch": metrics["best_epoch"],
        "stopped": metrics["stopped"],
        "train_seconds": metrics["train_seconds"],
        "wall_seconds": round(wall, 1),
        "triples_per_second": metrics["triples_per_second"],
        "test_eval_seconds": test["seconds"],
        "peak_rss_gb": metrics["peak_rss_gb"],
        "device": settings.get("device", "cpu"),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="configuration name(s), e.g. WN18RR-rotate")
    parser.add_argument("--device", help="override every configuration's device (cpu, cuda)")
    parser.add_argument("--budget-scale", type=float, default=1.0)
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent: the quality runs need FB15k-237 and WN18RR")
    paths = sorted(CONFIGS.glob("*.json"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]
    results: list[dict[str, Any]] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    for path in paths:
        entry = run_one(path, args.device, args.budget_scale)
        print(json.dumps({k: v for k, v in entry.items() if k != "config"}), flush=True)
        results = [r for r in results if r["name"] != entry["name"]] + [entry]
        results.sort(key=lambda r: r["name"])
        write_json(RESULTS, results)


if __name__ == "__main__":
    main()
