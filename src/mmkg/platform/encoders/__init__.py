"""Encoders: text, image and video into vectors, by name, behind one interface.

The kinds are listed in :data:`ENCODERS` (nothing is loaded until one is used); videos go
through an image encoder (:mod:`mmkg.platform.encoders.video`).
"""

from mmkg.graph_schema.names import encoder_key
from mmkg.platform.encoders.base import Encoder
from mmkg.platform.encoders.registry import ENCODERS, load_encoder, loaded_encoders, parse_spec
from mmkg.platform.encoders.video import VideoFeatures, encode_video

__all__ = [
    "ENCODERS",
    "Encoder",
    "VideoFeatures",
    "encode_video",
    "encoder_key",
    "load_encoder",
    "loaded_encoders",
    "parse_spec",
]
