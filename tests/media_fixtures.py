"""Real photos, generated videos, documents and bad files for the media tests; a tiny CLIP.

The CLIP is randomly initialised and built locally (no weights can be downloaded); it runs
the real loading and encoding code of sentence-transformers and transformers.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "horse")

DOCS = {
    "cat.txt": "A cat sleeps on a sunny windowsill, curled up and purring.",
    "rocket.md": "# Launch\nA rocket lifts off from the launch pad, carrying a satellite to orbit.",
    "coffee.txt": "Freshly brewed espresso in a small cup, the morning coffee ritual.",
    "horse.txt": "A horse gallops across the open meadow, its mane flying in the wind.",
    "astronaut.txt": "An astronaut floats outside the space station during a spacewalk.",
}


def _bytes_to_unicode() -> list[str]:
    bs = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def build_tiny_clip(path: Path, dim: int = 32, image_size: int = 32, seed: int = 0) -> Path:
    """A randomly initialised CLIP folder that sentence-transformers loads offline."""
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizerFast,
    )

    path.mkdir(parents=True, exist_ok=True)
    chars = _bytes_to_unicode()
    tokens = ["<|startoftext|>", "<|endoftext|>", *chars, *(c + "</w>" for c in chars)]
    (path / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (path / "merges.txt").write_text("#version: 0.2\n")
    (path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}))
    tokenizer = CLIPTokenizerFast.from_pretrained(str(path))
    processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    torch.manual_seed(seed)
    common = {"hidden_size": dim, "intermediate_size": 2 * dim, "num_hidden_layers": 2,
              "num_attention_heads": 2}  # fmt: skip
    config = CLIPConfig(
        text_config={"vocab_size": len(tokens), "max_position_embeddings": 77, "bos_token_id": 0,
                     "eos_token_id": 1, "pad_token_id": 1, **common},
        vision_config={"image_size": image_size, "patch_size": 8, **common},
        projection_dim=dim,
    )  # fmt: skip
    CLIPModel(config).eval().save_pretrained(path)
    CLIPProcessor(image_processor=processor, tokenizer=tokenizer).save_pretrained(path)
    (path / "modules.json").write_text(
        json.dumps(
            [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.CLIPModel"}]
        )
    )
    return path


def photo(name: str) -> Image.Image:
    import skimage.data

    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def write_photos(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in PHOTOS:
        out[name] = folder / f"{name}.jpg"
        photo(name).save(out[name], quality=90)
    from sklearn.datasets import load_sample_images

    for fname, arr in zip(load_sample_images().filenames, load_sample_images().images, strict=True):
        p = folder / Path(fname).name.replace(".jpg", ".png")
        Image.fromarray(arr).save(p)
        out[p.stem] = p
    return out


def write_video(
    path: Path, frames: int = 24, size: int = 64, fps: int = 12, scenes: int = 2
) -> Path:
    """A generated clip: ``scenes`` shots of different solid colours with a moving square."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            shot = i * scenes // frames
            arr = np.zeros((size, size, 3), np.uint8)
            arr[..., shot % 3] = 200
            x = (i * 3) % (size - 16)
            arr[20:36, x : x + 16] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_slideshow(path: Path, photos: list[str], seconds: float = 1.0, fps: int = 8) -> Path:
    """A clip showing each of the real ``photos`` in turn for ``seconds`` (224×224)."""
    from mmkg.platform.demo_media import write_slideshow as slideshow

    return slideshow(path, [photo(name) for name in photos], seconds, fps)


def write_docs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, text in DOCS.items():
        out[name] = folder / name
        out[name].write_text(text, encoding="utf-8")
    return out


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return (
            struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def write_bad_files(folder: Path, outside: Path) -> dict[str, Path]:
    """One file per kind of bad input, each expected to be recorded as a failure."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "_tmp.jpg"
    photo("coffee").save(good, quality=90)
    data = good.read_bytes()
    good.unlink()
    bad = {
        "truncated": folder / "truncated.jpg",
        "corrupt": folder / "corrupt.png",
        "empty": folder / "empty.jpg",
        "unsupported": folder / "notes.docx",
        "bomb": folder / "bomb.png",
        "no_frames": folder / "noframes.mp4",
        "symlink": folder / "link.jpg",
    }
    bad["truncated"].write_bytes(data[: len(data) // 2])
    bad["corrupt"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    bad["empty"].write_bytes(b"")
    bad["unsupported"].write_bytes(b"PK\x03\x04 not really")
    bad["bomb"].write_bytes(_png_header_only(30_000, 30_000))  # 900 Mpx declared, 60 bytes
    bad["no_frames"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    outside.mkdir(parents=True, exist_ok=True)
    target = outside / "secret.jpg"
    photo("chelsea").save(target)
    bad["symlink"].symlink_to(target)
    return bad
