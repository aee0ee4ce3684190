"""Entity linking benchmark: the FB15k-237 linking set, ablations, images, throughput, memory.

Starts its own managed Neo4j, loads FB15k-237 (names, Wikidata descriptions and aliases, the
train triples), gives entities MiniLM text vectors, derives the labelled set
(mmkg.platform.linking.labelled: Wikidata descriptions, gold from the triples that join
their entities; 60/20/20 by document; one entity in twenty held out as NIL), then:

- fits the linker on train, calibrates NIL on validation, scores test: precision, recall,
  F1 and accuracy on ambiguous mentions (a surface naming two or more entities);
- one ablation row per signal (the model refitted without it), the alias-prior-only model
  (learned on the prior features, NIL calibrated) and the unlearned most-frequent baseline;
- throughput: documents/s of `TextLinker.link` end to end (NER, candidates, context vectors,
  coherence queries) on the test documents, median of 3 rounds; peak RSS;
- gazetteer memory: bytes per alias measured on a table of 1,000,000 aliases;
- images: top-1/top-5 of linking the real sample photos (scikit-image, scikit-learn) to
  WordNet entities with EfficientNet-Lite0's ImageNet classes.

    .venv/bin/python bench/linking.py [--data ../shared/data/FB15k-237] [--save-model]

Writes bench/results/linking.json; --save-model writes the fitted model where the package
ships it (src/mmkg/platform/linking/default_linker.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import free_port
from mmkg import __version__
from mmkg.graph_schema import queries as Q
from mmkg.platform.ingest import ingest_entities, ingest_triples
from mmkg.platform.linking.gazetteer import Gazetteer
from mmkg.platform.linking.labelled import derive_fb15k237, held_out
from mmkg.platform.linking.linker import TextLinker
from mmkg.platform.linking.model import SIGNALS
from mmkg.platform.linking.train import evaluate, featurise, fit, most_frequent, untrained
from mmkg.platform.neo4j_server import start_server, stop_server
from mmkg.platform.schema import apply_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "FB15k-237"
MODEL_PATH = REPO / "src" / "mmkg" / "platform" / "linking" / "default_linker.json"
log = logging.getLogger("bench.linking")


def load_graph(graph: Graph, data: Path, settings: Settings) -> dict[str, Any]:
    started = time.perf_counter()
    if graph.read(Q.COUNT_ENTITIES)[0]["n"] == 0:
        ingest_entities(graph, data / "entity2text.txt", settings, fmt="tsv", show_progress=False)
        ingest_entities(
            graph, data / "entity2wikidata.json", settings, fmt="json", show_progress=False
        )
        ingest_triples(graph, data / "train.txt", settings, show_progress=False)
    from mmkg.platform.media.search import embed_entities

    embedded = embed_entities(graph, settings, show_progress=False)
    return {"seconds": round(time.perf_counter() - started, 1), "embedded": embedded["entities"]}


def gazetteer_memory(n: int = 1_000_000) -> dict[str, Any]:
    """Bytes per alias of a gazetteer of ``n`` distinct two-word aliases."""
    import tracemalloc

    tracemalloc.start()
    gaz = Gazetteer(((f"alias{i} name{i % 977}", i, i % 3 == 0) for i in range(n)), frozenset())
    _, peak = tracemalloc.get_traced_memory()
    current = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {
        "aliases": len(gaz),
        "bytes": current,
        "bytes_per_alias": round(current / n, 1),
        "build_peak_bytes": peak,
        "estimate_bytes": gaz.nbytes(),
    }


# The real photos at hand and the ImageNet classes (WordNet synsets) that name what they show.
# scikit-image's astronaut has no ImageNet class and is left out.
PHOTO_GOLD: dict[str, set[str]] = {
    "chelsea": {"n02123045", "n02123159", "n02124075", "n02123394", "n02123597"},  # a cat
    "coffee": {"n07920052", "n07930864", "n03063599"},  # espresso, cup, coffee mug
    "rocket": {"n03773504", "n04008634", "n04266014"},  # missile, projectile, space shuttle
    "camera": {"n04485082", "n04069434", "n03976467"},  # tripod, reflex camera, Polaroid
    "china": {"n03877845", "n03781244", "n04346328", "n02825657"},  # palace, monastery, stupa…
    "flower": {"n11939491"},  # daisy
}


def image_linking(wordnet: Path) -> dict[str, Any]:
    """Top-1/top-5 of linking the sample photos to the entities of WordNet graphs."""
    import skimage.data
    from PIL import Image
    from sklearn.datasets import load_sample_images

    from mmkg.platform.encoders.imagenet import load_classifier
    from mmkg.platform.linking.images import class_entities, imagenet_links

    photos = {
        n: Image.fromarray(getattr(skimage.data, n)()).convert("RGB")
        for n in ("chelsea", "coffee", "rocket", "camera")
    }
    for fname, arr in zip(load_sample_images().filenames, load_sample_images().images, strict=True):
        photos[Path(fname).stem] = Image.fromarray(arr)
    clf = load_classifier()
    t = time.perf_counter()
    probs = clf.probabilities(list(photos.values()))
    seconds = time.perf_counter() - t
    graphs = {
        "WN18RR": {
            ln.split("\t")[0]
            for ln in (wordnet / "WN18RR" / "entity2text.txt")
            .read_text(encoding="utf-8")
            .splitlines()
        },
        "WN9-IMG": {
            ln.split("\t")[0]
            for ln in (wordnet / "WN9-IMG" / "entity2id.txt")
            .read_text(encoding="utf-8")
            .splitlines()
        },
    }
    out: dict[str, Any] = {
        "classifier": clf.version,
        "seconds_per_image": round(seconds / len(photos), 3),
    }
    for name, present in graphs.items():
        ents = class_entities(clf.synsets, present)
        links = imagenet_links(probs, ents, clf.synsets, threshold=0.0, k=5)
        per, top1, top5, judged = {}, 0, 0, 0
        for (photo, gold), ls in zip(
            PHOTO_GOLD.items(), [links[list(photos).index(p)] for p in PHOTO_GOLD], strict=True
        ):
            reachable = {g for g in gold if ents[clf.synsets.index(g)] is not None}
            labels = [x.label for x in ls]
            per[photo] = {"top5": labels, "gold_in_graph": sorted(reachable)}
            if reachable:
                judged += 1
                top1 += int(bool(labels) and labels[0] in gold)
                top5 += int(bool(set(labels) & gold))
        out[name] = {
            "classes_in_graph": int(sum(e is not None for e in ents)),
            "photos_judged": judged,
            "top1": round(top1 / judged, 3) if judged else None,
            "top5": round(top5 / judged, 3) if judged else None,
            "photos": per,
        }
    return out


def run(data: Path, home: Path | None, save_model: bool) -> dict[str, Any]:
    home = home or Path(tempfile.mkdtemp(prefix="mmkg-bench-linking-"))
    settings = Settings(
        home=home,
        cache_dir=Path.home() / ".mmkg" / "cache",
        neo4j_bolt_port=free_port(),
        neo4j_uri=None,
    )
    start_server(settings)
    out: dict[str, Any] = {}
    try:
        with Graph.connect(settings) as graph:
            apply_schema(graph)
            out["load"] = load_graph(graph, data, settings)
            docs = derive_fb15k237(data)
            split = {s: [d for d in docs if d.split == s] for s in ("train", "valid", "test")}
            out["dataset"] = {
                s: {
                    "documents": len(v),
                    "mentions": sum(len(d.mentions) for d in v),
                    "nil": sum(g.entity is None for d in v for g in d.mentions),
                }
                for s, v in split.items()
            }
            linker = TextLinker.from_graph(
                graph, settings, model=untrained(), embed_missing=False, exclude=held_out
            )
            out["index"] = linker.index.stats
            t = time.perf_counter()
            feats = {s: featurise(linker, v) for s, v in split.items()}
            out["featurise_seconds"] = round(time.perf_counter() - t, 1)
            rows: dict[str, Any] = {}
            variants: dict[str, tuple[str, ...]] = {"full": tuple(SIGNALS)}
            for s in SIGNALS:
                if s != "prior":
                    variants[f"without {s}"] = tuple(x for x in SIGNALS if x != s)
            variants["prior only"] = ("prior",)
            full_model = None
            for name, signals in variants.items():
                model = fit(
                    linker,
                    feats["train"],
                    feats["valid"],
                    signals,
                    trained_on={
                        "set": "FB15k-237 linking (bench/linking.py)",
                        "documents": len(split["train"]),
                    },
                )
                row = evaluate(linker, split["test"], linker.score(feats["test"].batch))
                row["threshold"] = model.threshold
                row["signals"] = list(signals)
                rows[name] = row
                log.info("%s: %s", name, row)
                if name == "full":
                    full_model = model
            rows["most frequent (unlearned)"] = evaluate(
                linker, split["test"], predicted=most_frequent(linker, feats["test"])
            )
            out["text"] = rows
            assert full_model is not None
            linker.model, linker.threshold = full_model, full_model.threshold
            linker.types = full_model.types.compiled()
            out["model"] = {
                "label": full_model.label,
                "threshold": full_model.threshold,
                "validation_f1": full_model.validation["f1"],
            }
            if save_model:
                full_model.save(MODEL_PATH)
            single = [d.text for d in split["test"]]
            # "A sentence or two": four descriptions joined make documents of ~150 characters.
            joined = [". ".join(single[i : i + 4]) + "." for i in range(0, len(single), 4)]
            out["throughput"] = {}
            for name, texts in (("descriptions", single), ("two_sentences", joined)):
                rounds = []
                for _ in range(3):
                    t = time.perf_counter()
                    linker.link(texts, show_progress=False)
                    rounds.append(len(texts) / (time.perf_counter() - t))
                out["throughput"][name] = {
                    "documents": len(texts),
                    "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
                    "docs_per_second_median": round(statistics.median(rounds), 1),
                    "rounds": [round(r, 1) for r in rounds],
                }
    finally:
        stop_server(settings)
    out["images"] = image_linking(data.parent)
    out["gazetteer_memory"] = gazetteer_memory()
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def machine() -> dict[str, Any]:
    import platform

    import psutil

    return {
        "mmkg": __version__,
        "cpus": psutil.cpu_count(),
        "python": platform.python_version(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--home", type=Path, default=None, help="reuse a Neo4j home (development)")
    ap.add_argument("--save-model", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "linking.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    result = {"machine": machine(), **run(args.data, args.home, args.save_model)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
