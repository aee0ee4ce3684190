"""The encoder interface and registry."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from abc import ABC
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mmkg.errors import ConfigError

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


def encoder_key(spec: str, version: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", spec.split(":", 1)[0]).strip("_")[:20] or "enc"
    digest = hashlib.sha1(f"{spec}@{version}".encode()).hexdigest()[:8]
    return f"{stem}_{digest}"


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


Factory = Callable[[str, str], Encoder]
ENCODERS: dict[str, Factory] = {}


def register(kind: str) -> Callable[[Factory], Factory]:
    def wrap(factory: Factory) -> Factory:
        ENCODERS[kind] = factory
        return factory

    return wrap


_CACHE: dict[tuple[str, str], Encoder] = {}
_LOADS: dict[str, int] = {}
_LOCK = threading.Lock()


def loaded_encoders() -> dict[str, int]:
    """Specs loaded in this process, and how many times each model was read from disk."""
    with _LOCK:
        return dict(_LOADS)


def load_encoder(spec: str, device: str = "cpu") -> Encoder:
    """The encoder named by ``spec``, loaded once per process and device.

    ``spec`` is a registry name (``minilm``), ``kind:argument`` (``clip:/path``,
    ``st:/path``, ``cnn:/path``), or a local folder (its kind is detected).

    Raises:
        ConfigError: for an unknown kind, a missing folder, or a model that cannot be loaded.
    """
    # Imported for its registrations.
    from mmkg.platform.encoders import models

    spec = spec.strip()
    if not spec:
        raise ConfigError("encoder: empty name")
    with _LOCK:
        cached = _CACHE.get((spec, device))
        if cached is not None:
            return cached
        kind, _, arg = spec.partition(":")
        if kind not in ENCODERS or (kind != "minilm" and not arg):
            if Path(spec).expanduser().is_dir():
                kind, arg = models.detect_kind(Path(spec).expanduser()), spec
            elif kind not in ENCODERS:
                raise ConfigError(
                    f"unknown encoder {spec!r}: use minilm, clip:PATH, st:PATH, cnn:PATH or a "
                    f"local model folder (kinds: {', '.join(sorted(ENCODERS))})"
                )
        log.info("loading encoder %s on %s", spec, device)
        try:
            encoder = ENCODERS[kind](arg, device)
        except ConfigError:
            raise
        except Exception as e:  # a broken or foreign model folder: say which and why
            raise ConfigError(
                f"encoder {spec!r} could not be loaded: {type(e).__name__}: {e}"
            ) from e
        encoder.spec = spec
        _CACHE[(spec, device)] = encoder
        _LOADS[spec] = _LOADS.get(spec, 0) + 1
        return encoder
