"""Media ingest throughput against the encoder alone.

Starts its own managed Neo4j (temporary home, free port), builds N distinct JPEG photos from
the scikit-image and scikit-learn sample images (random crops, 512 px), and measures:

* the raw encoder: ``encode_images`` on the already decoded images, batch B;
* the whole ingest path, `ingest_media` on the folder: hashing, decoding, metadata, the same
  encoder at the same batch size, Neo4j writes, vector index;
* videos/s for M generated clips (8 frames sampled each);
* peak RSS of this process.

The encoder is CLIP ViT-B/32-sized (vision: 12 layers, width 768, patch 32, 224 px) with random
weights built locally — the compute of `clip-ViT-B-32`, which cannot be downloaded here — or
any local model given with --encoder clip:PATH.

    .venv/bin/python bench/media_throughput.py [--images 256] [--videos 16] [--batch 32]

Writes bench/results/media_throughput.json. Goal: ingest time / raw encoder time <= 1.15.
"""

from __future__ import annotations

import argparse
import logging
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.media_fixtures import PHOTOS, build_tiny_clip, photo, write_video  # noqa: E402

from common import free_port  # noqa: E402
from mmkg import __version__  # noqa: E402
from mmkg.graph_schema import queries as Q  # noqa: E402
from mmkg.platform.encoders import load_encoder  # noqa: E402
from mmkg.platform.kge.run_dir import write_json  # noqa: E402
from mmkg.platform.media import ingest_media  # noqa: E402
from mmkg.platform.neo4j_server import start_server, stop_server  # noqa: E402
from mmkg.platform.schema import apply_schema  # noqa: E402
from mmkg.platform.store import Graph  # noqa: E402
from mmkg.settings import Settings  # noqa: E402

CLEAR = Q.DELETE_ALL


def build_vit_b32_clip(path: Path) -> Path:
    """CLIP with ViT-B/32's shapes and random weights: the real model's compute."""
    from transformers import CLIPConfig, CLIPModel

    build_tiny_clip(path, image_size=224)  # tokenizer, processor, layout; model replaced below
    config = CLIPConfig(
        text_config={"vocab_size": 514, "hidden_size": 512, "intermediate_size": 2048,
                     "num_hidden_layers": 12, "num_attention_heads": 8,
                     "max_position_embeddings": 77, "bos_token_id": 0, "eos_token_id": 1,
                     "pad_token_id": 1},
        vision_config={"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                       "num_attention_heads": 12, "image_size": 224, "patch_size": 32},
        projection_dim=512,
    )  # fmt: skip
    CLIPModel(config).eval().save_pretrained(path)
    return path


def make_photos(folder: Path, n: int) -> list[Path]:
    from sklearn.datasets import load_sample_images

    sources = [photo(name) for name in PHOTOS]
    sources += [Image.fromarray(a) for a in load_sample_images().images]
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    paths = []
    for i in range(n):
        src = sources[i % len(sources)]
        w, h = src.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        img = src.crop((x, y, x + cw, y + ch)).resize((512, 512))
        paths.append(folder / f"photo_{i:04d}.jpg")
        img.save(paths[-1], quality=90)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--encoder", default=None, help="clip:PATH (default: random ViT-B/32)")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "media_throughput.json"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="mmkg-bench-media-"))
    spec = args.encoder or f"clip:{build_vit_b32_clip(work / 'vit-b32')}"
    photos = make_photos(work / "media" / "photos", args.images)
    (work / "media" / "videos").mkdir()
    for i in range(args.videos):
        write_video(work / "media" / "videos" / f"clip_{i:03d}.mp4", frames=48, size=128,
                    scenes=2 + i % 3)  # fmt: skip
    settings = Settings(
        home=work / "home",
        cache_dir=Path.home() / ".mmkg" / "cache",
        neo4j_bolt_port=free_port(),
        neo4j_uri=None,
        neo4j_heap="2g",
        neo4j_pagecache="1g",
        media_root=work / "media",
        image_encoder=spec,
        encoder_batch_size=args.batch,
        video_frames=8,
    )
    encoder = load_encoder(spec)
    decoded = [Image.open(p).convert("RGB") for p in photos]
    encoder.encode_images(decoded[: args.batch], args.batch)  # warm-up
    raw, ingest, videos = [], [], []
    start_server(settings)
    try:
        with Graph.connect(settings) as graph:
            for rep in range(args.repeats):
                t0 = time.perf_counter()
                encoder.encode_images(decoded, args.batch)
                raw.append(time.perf_counter() - t0)
                graph.run_autocommit(CLEAR)
                apply_schema(graph)
                summary = ingest_media(graph, [work / "media" / "photos"], settings,
                                       show_progress=False)  # fmt: skip
                assert summary.featurised == args.images and summary.failed == 0, summary
                ingest.append(summary.seconds)
                vs = ingest_media(graph, [work / "media" / "videos"], settings, show_progress=False)
                assert vs.featurised == args.videos and vs.failed == 0, vs
                videos.append(vs.seconds)
                print(f"repeat {rep + 1}: raw {raw[-1]:.2f} s, ingest {ingest[-1]:.2f} s, "
                      f"videos {videos[-1]:.2f} s", flush=True)  # fmt: skip
    finally:
        stop_server(settings)
        # Gigabytes of store, models and media: nothing worth keeping once measured.
        shutil.rmtree(work, ignore_errors=True)
    raw_s, ingest_s, video_s = (statistics.median(x) for x in (raw, ingest, videos))
    result: dict[str, Any] = {
        "benchmark": "media_throughput",
        "mmkg": __version__,
        "machine": {
            "cpus": psutil.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
            "python": platform.python_version(),
        },
        "encoder": encoder.describe(),
        "config": {
            "images": args.images,
            "videos": args.videos,
            "batch": args.batch,
            "video_frames": 8,
            "repeats": args.repeats,
            "image_size": "512x512 JPEG",
        },
        "raw_encoder_s": [round(x, 3) for x in raw],
        "ingest_s": [round(x, 3) for x in ingest],
        "video_ingest_s": [round(x, 3) for x in videos],
        "median": {
            "raw_images_per_s": round(args.images / raw_s, 2),
            "ingest_images_per_s": round(args.images / ingest_s, 2),
            "overhead_ratio": round(ingest_s / raw_s, 3),
            "videos_per_s": round(args.videos / video_s, 2),
        },
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "goals": {"overhead_ratio": 1.15},
    }
    write_json(args.out, result)
    print(result["median"])
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
