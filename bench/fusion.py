"""Fusion runs: the same model and budget with structure only and with each modality, through
`mmkg train` as a user runs it, on the full split and on a seeded cold-start split.

The configurations are in bench/configs/fusion/<name>.json: ``dataset`` (a folder of
../shared/data), ``cold`` (train on `mmkg cold-split`'s split of it, seed 0, 10% of the
entities held out, 1000 valid and 3000 test bridging triples), ``text`` / ``numeric``
(files under ../shared/data; ``text: "wikidata"`` writes ``label: description`` lines from
the dataset's entity2wikidata.json) and ``train`` (the training settings, fusion included). Each run
writes its folder under bench/runs/fusion/ (not committed) and its figures into
bench/results/fusion.json, with the structure-only run's figures beside each fused one.

    .venv/bin/python bench/fusion.py                         # every configuration
    .venv/bin/python bench/fusion.py --only WN18RR-structure --only WN18RR-text-attention
    .venv/bin/python bench/fusion.py --throughput   # per-epoch speed, one process, each fusion
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from common import mmkg_json
from mmkg.platform.kge.run_dir import write_json

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
CONFIGS = REPO / "bench" / "configs" / "fusion"
RUNS = REPO / "bench" / "runs" / "fusion"
RESULTS = REPO / "bench" / "results" / "fusion.json"


def cold_folder(dataset: str) -> Path:
    folder = RUNS / f"{dataset}-cold-split"
    if not (folder / "split.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        mmkg_json("cold-split", str(DATA / dataset), "--out", str(folder), "--test-max", "3000",
              "--json")  # fmt: skip
    return folder


def wikidata_texts(dataset: str) -> Path:
    """``id<TAB>label: description`` from the dataset's entity2wikidata.json (FB15k-237)."""
    out = RUNS / f"{dataset}-wikidata-text.txt"
    if not out.is_file():
        entries = json.loads((DATA / dataset / "entity2wikidata.json").read_text())
        lines = []
        for mid, entry in sorted(entries.items()):
            label = (entry.get("label") or "").strip()
            text = ": ".join(x for x in (label, (entry.get("description") or "").strip()) if x)
            if text:
                lines.append(f"{mid}\t{' '.join(text.split())}\n")
        RUNS.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(lines), encoding="utf-8")
    return out


def _section(metrics: dict[str, Any], key: str) -> dict[str, Any] | None:
    part = metrics["test"].get(key)
    if not part:
        return None
    return {k: round(part[k], 4) for k in ("mrr", "hits@1", "hits@10")} | {
        "triples": part["triples"]
    }


def run_one(path: Path) -> dict[str, Any]:
    spec = json.loads(path.read_text())
    settings = dict(spec["train"])
    folder = cold_folder(spec["dataset"]) if spec.get("cold") else DATA / spec["dataset"]
    run = RUNS / path.stem
    shutil.rmtree(run, ignore_errors=True)
    RUNS.mkdir(parents=True, exist_ok=True)
    config_file = RUNS / f"{path.stem}.config.json"
    config_file.write_text(json.dumps({k: v for k, v in settings.items() if k != "model"}))
    args = ["train", "--model", settings["model"], "--data", str(folder),
            "--config", str(config_file), "--out", str(run), "--json"]  # fmt: skip
    if spec.get("text") == "wikidata":
        args += ["--text", str(wikidata_texts(spec["dataset"]))]
    elif spec.get("text"):
        args += ["--text", str(DATA / spec["text"])]
    if spec.get("numeric"):
        args += ["--numeric", str(DATA / spec["numeric"])]
    started = time.perf_counter()
    metrics = mmkg_json(*args)
    wall = time.perf_counter() - started
    test = metrics["test"]
    return {
        "name": path.stem,
        "dataset": spec["dataset"],
        "split": "cold-start" if spec.get("cold") else "standard",
        "modalities": sorted(metrics.get("fusion", {}).get("modalities", {})),
        "fusion": settings.get("fusion", "none"),
        "align_weight": settings.get("align_weight", 0.0),
        "config": settings,
        "test_mrr": round(test["mrr"], 4),
        "test_hits@1": round(test["hits@1"], 4),
        "test_hits@10": round(test["hits@10"], 4),
        "unseen_entity_triples": _section(metrics, "unseen_entity_triples"),
        "seen_entity_triples": _section(metrics, "seen_entity_triples"),
        "valid_mrr": round(metrics["valid"]["mrr"], 4),
        "mean_weights": metrics.get("fusion", {}).get("mean_weights"),
        "epochs": metrics["epochs"],
        "best_epoch": metrics["best_epoch"],
        "train_seconds": metrics["train_seconds"],
        "seconds_per_epoch": round(metrics["train_seconds"] / max(metrics["epochs"], 1), 2),
        "triples_per_second": metrics["triples_per_second"],
        "wall_seconds": round(wall, 1),
        "peak_rss_gb": metrics["peak_rss_gb"],
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def compare(results: list[dict[str, Any]]) -> None:
    """Each fused run beside the structure-only run of the same dataset and split."""
    base = {(r["dataset"], r["split"]): r for r in results if r["fusion"] == "none"}
    for r in results:
        b = base.get((r["dataset"], r["split"]))
        if b is None or r is b:
            r.pop("vs_structure", None)
            continue
        r["vs_structure"] = {
            "test_mrr_gain": round(r["test_mrr"] - b["test_mrr"], 4),
            "throughput_ratio": round(r["triples_per_second"] / b["triples_per_second"], 3),
        }
        if r["unseen_entity_triples"] and b["unseen_entity_triples"]:
            r["vs_structure"]["unseen_mrr_gain"] = round(
                r["unseen_entity_triples"]["mrr"] - b["unseen_entity_triples"]["mrr"], 4
            )


def throughput(epochs: int = 2) -> None:
    """Training speed per epoch at equal settings in one process: structure only against each
    fusion with WN18RR's glosses (the last epoch counts: the first one compiles)."""
    from mmkg.platform.kge.config import make_config
    from mmkg.platform.kge.data import load_folder
    from mmkg.platform.kge.features import encode_text_file
    from mmkg.platform.kge.trainer import Trainer, peak_rss_gb
    from mmkg.settings import get_settings

    data = load_folder(DATA / "WN18RR")
    cache = get_settings().resolved_cache_dir / "features"
    glosses = DATA / "WN18RR" / "entity2text.txt"
    text = encode_text_file(glosses, data.entity_ids, "minilm", cache, show_progress=False)
    data.valid, data.test = data.valid[:0], data.test[:0]
    spec = json.loads((CONFIGS / "WN18RR-structure.json").read_text())["train"]
    base = {**spec, "epochs": epochs, "eval_every": 0, "num_procs": 1, "max_seconds": None}
    rows = []
    for fusion in ("none", "concat", "gate", "attention"):
        data.features = [text] if fusion != "none" else []
        extra = {"fusion": fusion, "align_weight": 0.1} if fusion != "none" else {}
        trainer = Trainer(data, make_config(base["model"], {**base, **extra}), show_progress=False)
        trainer.fit()
        last = trainer.state.history[-1]
        rows.append({"fusion": fusion, "triples_per_second": last["triples_per_second"],
                     "seconds_per_epoch": last["seconds"]})  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    for row in rows:
        row["ratio_to_structure"] = round(
            row["triples_per_second"] / rows[0]["triples_per_second"], 3
        )
    write_json(RESULTS.with_name("fusion_throughput.json"), {
        "dataset": "WN18RR", "model": base["model"], "dim": base["dim"], "processes": 1,
        "text": text.describe(), "rows": rows, "peak_rss_gb": peak_rss_gb(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="configuration name(s)")
    parser.add_argument(
        "--throughput", action="store_true", help="per-epoch speed of each fusion, one process"
    )
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent: the fusion runs need ../shared/data")
    if args.throughput:
        throughput()
        return
    paths = sorted(CONFIGS.glob("*.json"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]
    results: list[dict[str, Any]] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    for path in paths:
        entry = run_one(path)
        results = [r for r in results if r["name"] != entry["name"]] + [entry]
        results.sort(key=lambda r: r["name"])
        compare(results)
        write_json(RESULTS, results)
        print(json.dumps({k: v for k, v in entry.items() if k != "config"}), flush=True)


if __name__ == "__main__":
    main()
