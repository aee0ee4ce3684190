"""Encoders: text, image and video into vectors, by name, behind one interface.

``load_encoder("minilm")`` (the bundled all-MiniLM-L6-v2), ``load_encoder("clip:/m/clip")``
(a sentence-transformers CLIP: images and texts in one space), ``load_encoder("cnn:/m/resnet")``
(a transformers image backbone), ``load_encoder("st:/m/any")`` (any sentence-transformers text
model). Each model is loaded once per process. Videos go through an image encoder
(:mod:`mmkg.platform.encoders.video`).
"""

from mmkg.platform.encoders.base import (
    ENCODERS,
    Encoder,
    encoder_key,
    load_encoder,
    loaded_encoders,
)
from mmkg.platform.encoders.video import VideoFeatures, encode_video

__all__ = [
    "ENCODERS",
    "Encoder",
    "VideoFeatures",
    "encode_video",
    "encoder_key",
    "load_encoder",
    "loaded_encoders",
]
