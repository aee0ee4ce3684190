"""Evaluation speed: the exact filtered evaluation of FB15k-237 test (20,466 triples, both
sides, 14,541 entities) for every model, and what the fused pairwise kernels buy.

The time does not depend on the values of the embeddings, so each model is evaluated with
freshly initialised ones. For the two models whose scores are not matrix products (TransE
L1, RotatE), the same 1,000 triples are also evaluated with eager PyTorch, to measure the
speed-up of ``torch.compile``.

    .venv/bin/python bench/kge_eval.py [--dim 400] [--repeats 3]

Writes bench/results/kge_eval.json. Goal: ≤ 30 s per full evaluation on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from mmkg.platform.kge.config import make_config
from mmkg.platform.kge.data import load_folder
from mmkg.platform.kge.evaluate import FilterIndex, evaluate
from mmkg.platform.kge.kernels import set_compile
from mmkg.platform.kge.models import MODELS, build_model
from mmkg.platform.kge.run_dir import write_json
from mmkg.platform.kge.trainer import cpu_count, peak_rss_gb

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "FB15k-237"
RESULTS = REPO / "bench" / "results" / "kge_eval.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dim", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent")
    torch.set_num_threads(cpu_count())
    data = load_folder(DATA)
    index = FilterIndex(data.known_triples(), data.num_relations)
    sample = data.test[:1000]
    out: dict[str, Any] = {
        "dataset": "FB15k-237 test",
        "triples": len(data.test),
        "entities": data.num_entities,
        "dim": args.dim,
        "cpus": cpu_count(),
        "torch": torch.__version__,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "models": {},
    }
    for name in sorted(MODELS):
        config = make_config(name, {"dim": args.dim})
        model = build_model(config, data.num_entities, data.num_relations, torch.Generator())
        set_compile(True)
        evaluate(model, sample[:64], index, 0, False)  # compile and warm up
        times = [evaluate(model, data.test, index, 0, False).seconds for _ in range(args.repeats)]
        entry: dict[str, Any] = {
            "median_seconds": round(statistics.median(times), 2),
            "seconds": [round(t, 2) for t in times],
        }
        if name in ("transe_l1", "rotate"):
            compiled = evaluate(model, sample, index, 0, False).seconds
            set_compile(False)
            eager = evaluate(model, sample, index, 0, False).seconds
            set_compile(True)
            entry.update(
                sample_triples=len(sample),
                sample_compiled_seconds=round(compiled, 2),
                sample_eager_seconds=round(eager, 2),
                compile_speedup=round(eager / compiled, 1),
            )
        out["models"][name] = entry
        print(name, json.dumps(entry), flush=True)
    out["peak_rss_gb"] = peak_rss_gb()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS, out)


if __name__ == "__main__":
    main()
