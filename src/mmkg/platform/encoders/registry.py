"""Encoder kinds by name, listable without loading anything, and ``load_encoder``.

``load_encoder("minilm")`` (the bundled all-MiniLM-L6-v2), ``load_encoder("clip:/m/clip")``
(a sentence-transformers CLIP: images and texts in one space), ``load_encoder("cnn:/m/resnet")``
(a transformers image backbone), ``load_encoder("st:/m/any")`` (any sentence-transformers text
model). Each model is loaded once per process and device.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from mmkg.errors import ConfigError
from mmkg.platform.encoders.base import Encoder
from mmkg.platform.registry import Registry

log = logging.getLogger(__name__)

Factory = Callable[[str, str], Encoder]

# Implementations are imported on first use: listing the kinds costs no model library import.
ENCODERS: Registry[Factory] = Registry("encoder")
ENCODERS.add(
    "minilm",
    "mmkg.platform.encoders.models:minilm",
    "all-MiniLM-L6-v2, bundled (offline), 384-d text vectors",
    modalities=["text"],
    needs_path=False,
)
ENCODERS.add(
    "st",
    "mmkg.platform.encoders.models:sentence_transformer",
    "any local sentence-transformers text model: st:PATH",
    modalities=["text"],
    needs_path=True,
)
ENCODERS.add(
    "clip",
    "mmkg.platform.encoders.models:clip",
    "a local CLIP folder: texts and images in one space: clip:PATH",
    modalities=["text", "image"],
    needs_path=True,
)
# The image encoder that needs no model folder: what the demo and the workbench's search by
# image use when MMKG_IMAGE_ENCODER is unset.
OFFLINE_IMAGE_ENCODER = "effnet"
ENCODERS.add(
    OFFLINE_IMAGE_ENCODER,
    "mmkg.platform.encoders.imagenet:effnet",
    "EfficientNet-Lite0 (ImageNet weights, bundled, offline), 1280-d image features",
    modalities=["image"],
    needs_path=False,
)
ENCODERS.add(
    "cnn",
    "mmkg.platform.encoders.models:cnn",
    "a local transformers image backbone (ResNet, ConvNeXt…): cnn:PATH",
    modalities=["image"],
    needs_path=True,
)


def detect_kind(path: Path) -> str:
    """clip for a CLIP folder, cnn for a transformers image backbone, st otherwise."""
    config = path / "config.json"
    if config.is_file():
        data = json.loads(config.read_text(encoding="utf-8"))
        if "vision_config" in data and "text_config" in data:
            return "clip"
        if data.get("model_type") in ("resnet", "convnext", "convnextv2", "regnet", "efficientnet"):
            return "cnn"
    return "st"


_CACHE: dict[tuple[str, str], Encoder] = {}
_LOADS: dict[str, int] = {}
_LOCK = threading.Lock()


def loaded_encoders() -> dict[str, int]:
    """Specs loaded in this process, and how many times each model was read from disk."""
    with _LOCK:
        return dict(_LOADS)


def parse_spec(spec: str) -> tuple[str, str]:
    """``(kind, argument)`` of an encoder spec; a local folder's kind is detected.

    Raises:
        ConfigError: an empty spec, an unknown kind, or a kind that needs a path without one.
    """
    spec = spec.strip()
    if not spec:
        raise ConfigError("encoder: empty name")
    kind, _, arg = spec.partition(":")
    if kind in ENCODERS and (arg or not ENCODERS.entry(kind).meta.get("needs_path")):
        return ENCODERS.canonical(kind), arg
    if Path(spec).expanduser().is_dir():
        return detect_kind(Path(spec).expanduser()), spec
    if kind in ENCODERS:
        raise ConfigError(f"encoder {spec!r}: {kind} needs a model folder, as {kind}:PATH")
    raise ConfigError(
        f"unknown encoder {spec!r}: use {', '.join(ENCODERS.names())} (kinds needing a folder "
        "take kind:PATH) or a local model folder"
    )


def load_encoder(spec: str, device: str = "cpu") -> Encoder:
    """The encoder named by ``spec``, loaded once per process and device.

    ``spec`` is a registry name (``minilm``), ``kind:argument`` (``clip:/path``,
    ``st:/path``, ``cnn:/path``), or a local folder (its kind is detected).

    Raises:
        ConfigError: for an unknown kind, a missing folder, or a model that cannot be loaded.
    """
    spec = spec.strip()
    kind, arg = parse_spec(spec)
    with _LOCK:
        cached = _CACHE.get((spec, device))
        if cached is not None:
            return cached
        log.info("loading encoder %s on %s", spec, device)
        try:
            encoder = ENCODERS.get(kind)(arg, device)
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
