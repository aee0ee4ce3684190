"""The encoder interface; the kinds are registered in :mod:`mmkg.platform.encoders.registry`."""

from __future__ import annotations

import hashlib
import logging
import os
from abc import ABC
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mmkg.errors import ConfigError
from mmkg.graph_schema.names import encoder_key

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]

# Model hubs are out of reach on mmkg's machines; a local path or an installed package is the
# norm. Users with network access may unset these before importing mmkg.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class Encoder(ABC):
    """Turns texts and/or images into unit-length float32 vectors of one space."""

    spec: str  # what the user named: "minilm", "clip:/path"
    kind: str  # the registry entry
    modalities: frozenset[str]
    dim: int
    version: str  # what identifies the weights (package version or a digest of the config)

    @property
    def key(self) -> str:
        """Identifier-safe name of this encoder's vectors (``feat_<key>`` properties)."""
        return encoder_key(self.spec, self.version)

    @property
    def label(self) -> str:
        return f"{self.spec}@{self.version}"

    def encode_texts(self, texts: Sequence[str], batch_size: int = 32) -> F32:
        raise ConfigError(f"encoder {self.spec!r} does not encode text")

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> F32:
        raise ConfigError(f"encoder {self.spec!r} does not encode images")

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "kind": self.kind,
            "modalities": sorted(self.modalities),
            "dim": self.dim,
            "version": self.version,
            "key": self.key,
        }


def unit_rows(x: npt.NDArray[Any]) -> F32:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def folder_version(path: Path) -> str:
    """A short digest of a model folder's config and weight sizes: changes when the model does."""
    h = hashlib.sha1()
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix in (".json", ".txt", ".safetensors", ".bin"):
            h.update(str(f.relative_to(path)).encode())
            h.update(str(f.stat().st_size).encode())
            if f.suffix == ".json":
                h.update(f.read_bytes())
    return h.hexdigest()[:12]
