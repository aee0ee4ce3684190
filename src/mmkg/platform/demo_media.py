"""The demo graph's media: real photos (scikit-image's and scikit-learn's bundled samples),
a few short texts and one generated video, linked to the demo's entities by a manifest.

Images and video frames get the bundled EfficientNet-Lite0's features unless an image encoder
is configured, so searching by image works offline; entities get MiniLM vectors of their name
and description, so searching by text finds them and the media that depict them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmkg.platform import atomic
from mmkg.platform.encoders.registry import OFFLINE_IMAGE_ENCODER
from mmkg.platform.store import Graph
from mmkg.settings import Settings

if TYPE_CHECKING:
    from PIL import Image

# (file, source, sample name, entities it depicts, caption). The captions say what the
# sample libraries document about each photo.
PHOTOS: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    ("hubble_deep_field.jpg", "skimage", "hubble_deep_field", ("astronomy",),
     "The Hubble Deep Field: thousands of galaxies"),
    ("moon.png", "skimage", "moon", ("astronomy",), "The surface of the Moon"),
    ("astronaut.png", "skimage", "astronaut", ("united_states",),
     "NASA astronaut Eileen Collins"),
    ("retina.jpg", "skimage", "retina", ("medicine", "biology"), "A human retina"),
    ("immunohistochemistry.png", "skimage", "immunohistochemistry", ("medicine", "biology"),
     "Immunohistochemical staining of a tissue sample"),
    ("china.jpg", "sklearn", "china.jpg", ("china",), "A temple in China"),
    ("flower.jpg", "sklearn", "flower.jpg", ("biology",), "A flower"),
)  # fmt: skip
TEXTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("curie.txt", ("marie_curie", "pierre_curie", "nobel_prize_in_physics"),
     "Marie and Pierre Curie\n\nMarie Curie and Pierre Curie shared the 1903 Nobel Prize in "
     "Physics with Henri Becquerel for their research on radioactivity. Marie Curie later "
     "won the Nobel Prize in Chemistry for discovering polonium and radium.\n"),
    ("einstein.txt", ("albert_einstein", "ulm", "eth_zurich"),
     "Albert Einstein\n\nAlbert Einstein was born in Ulm in 1879 and studied at ETH Zurich. "
     "His theory of relativity changed physics.\n"),
    ("turing.txt", ("alan_turing", "university_of_cambridge", "computer_science"),
     "Alan Turing\n\nAlan Turing studied mathematics at the University of Cambridge and laid "
     "the foundations of computer science with his universal machine.\n"),
)  # fmt: skip
# A slideshow of two astronomy photos, 1.5 s each: two segments the entity page shows.
VIDEO = ("astronomy_slideshow.mp4", ("hubble_deep_field", "moon"), ("astronomy",),
         "A slideshow: the Hubble Deep Field, then the Moon")  # fmt: skip


def sample_photo(source: str, name: str) -> Image.Image:
    from PIL import Image as PILImage

    if source == "skimage":
        import skimage.data

        return PILImage.fromarray(getattr(skimage.data, name)()).convert("RGB")
    from sklearn.datasets import load_sample_image

    return PILImage.fromarray(load_sample_image(name)).convert("RGB")


def write_slideshow(
    path: Path, images: Sequence[Image.Image], seconds: float = 1.0, fps: int = 8, side: int = 224
) -> Path:
    """An MPEG-4 clip showing each image in turn for ``seconds``."""
    import av
    import numpy as np

    with atomic.atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        for image in images:
            arr = np.asarray(image.convert("RGB").resize((side, side)))
            for _ in range(round(seconds * fps)):
                for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_demo_media(folder: Path) -> Path:
    """Write the files (once) and their manifest; returns the manifest's path."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for fname, source, name, entities, caption in PHOTOS:
        target = folder / fname
        if not target.is_file():
            with atomic.atomic_path(target) as tmp:
                sample_photo(source, name).save(tmp, format="PNG" if fname.endswith(".png")
                                                else "JPEG", quality=90)  # fmt: skip
        rows.append({"path": fname, "entities": list(entities), "caption": caption,
                     "relation": "DEPICTS", "source": "demo"})  # fmt: skip
    for fname, entities, text in TEXTS:
        target = folder / fname
        if not target.is_file():
            atomic.write_text(target, text)
        rows.append({"path": fname, "entities": list(entities), "relation": "MENTIONS",
                     "source": "demo"})  # fmt: skip
    fname, photos, entities, caption = VIDEO
    if not (folder / fname).is_file():
        write_slideshow(folder / fname, [sample_photo("skimage", p) for p in photos], 1.5)
    rows.append({"path": fname, "entities": list(entities), "caption": caption,
                 "relation": "DEPICTS", "source": "demo"})  # fmt: skip
    manifest = folder / "manifest.jsonl"
    atomic.write_text(manifest, "".join(json.dumps(r) + "\n" for r in rows))
    return manifest


@dataclass
class DemoMedia:
    folder: Path
    files: int
    created: int
    linked: int
    entities_embedded: int
    image_encoder: str


def load_demo_media(
    graph: Graph, settings: Settings, show_progress: bool | None = None
) -> DemoMedia:
    """Ingest the demo media with their links, and give entities text vectors (idempotent)."""
    from mmkg.platform.media import ingest_media
    from mmkg.platform.media.search import embed_entities

    folder = settings.home / "demo-media"
    manifest = write_demo_media(folder)
    use = settings.model_copy(
        update={
            "media_root": folder,
            "image_encoder": settings.image_encoder or OFFLINE_IMAGE_ENCODER,
            "video_segments": max(settings.video_segments, 2),
        }
    )
    summary = ingest_media(graph, [], use, manifest, show_progress=show_progress)
    embedded = embed_entities(graph, settings, show_progress=show_progress)
    return DemoMedia(
        folder=folder,
        files=summary.files,
        created=summary.created,
        linked=summary.linked,
        entities_embedded=int(embedded["entities"]),
        image_encoder=str(use.image_encoder),
    )
