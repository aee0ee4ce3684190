"""Encoders and video features without a server: the registry, MiniLM, a tiny CLIP, a tiny
CNN backbone, frame sampling and pooling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmkg.errors import ConfigError, DataError
from mmkg.platform.encoders import encode_video, load_encoder
from mmkg.platform.encoders.video import pool, probe_video, sample_frames
from tests.media_fixtures import build_tiny_clip, photo, write_video


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("m") / "clip")


def test_minilm_is_bundled_loaded_once_and_normalised() -> None:
    enc = load_encoder("minilm")
    assert enc is load_encoder("minilm")  # once per process
    assert enc.dim == 384 and enc.modalities == {"text"}
    assert enc.label.startswith("minilm@all-MiniLM-L6-v2/")
    vecs = enc.encode_texts(["a cat", "a rocket launch"])
    assert vecs.shape == (2, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ConfigError, match="does not encode images"):
        enc.encode_images([photo("coffee")])


def test_unknown_and_missing_encoders_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown encoder 'bert-huge'"):
        load_encoder("bert-huge")
    with pytest.raises(ConfigError, match="does not exist"):
        load_encoder(f"clip:{tmp_path / 'nope'}")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text('{"vision_config": {}, "text_config": {}}')
    with pytest.raises(ConfigError, match="could not be loaded"):
        load_encoder(f"clip:{tmp_path / 'broken'}")


def test_clip_puts_texts_and_images_in_one_space(clip_dir: Path) -> None:
    enc = load_encoder(f"clip:{clip_dir}")
    assert enc.modalities == {"text", "image"} and enc.kind == "clip"
    assert load_encoder(str(clip_dir)).kind == "clip"  # a bare folder is detected
    images = enc.encode_images([photo("astronaut"), photo("horse")])  # horse is 1-bit greyscale
    texts = enc.encode_texts(["an astronaut", "a horse"])
    assert images.shape == texts.shape == (2, enc.dim)
    again = enc.encode_images([photo("astronaut")])
    np.testing.assert_allclose(again[0], images[0], atol=1e-5)


def test_cnn_backbone(tmp_path: Path) -> None:
    from transformers import ConvNextImageProcessor, ResNetConfig, ResNetModel

    folder = tmp_path / "resnet"
    ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                             layer_type="basic")).save_pretrained(folder)  # fmt: skip
    ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=1.0).save_pretrained(folder)
    enc = load_encoder(f"cnn:{folder}")
    vecs = enc.encode_images([photo("coffee"), photo("rocket"), photo("coffee")])
    assert vecs.shape == (3, 16) and enc.dim == 16
    np.testing.assert_allclose(vecs[0], vecs[2], atol=1e-5)
    with pytest.raises(ConfigError, match="does not encode text"):
        enc.encode_texts(["x"])


def test_video_probe_sampling_and_pooling(clip_dir: Path, tmp_path: Path) -> None:
    clip = write_video(tmp_path / "v.mp4", frames=24, fps=12, scenes=3)
    info = probe_video(clip)
    assert (info.frames, info.fps, info.width, info.height) == (24, 12.0, 64, 64)
    assert info.duration == pytest.approx(2.0, abs=0.1)
    uniform = sample_frames(clip, info, 4)
    assert [round(t, 2) for t, _ in uniform] == [0.0, 0.67, 1.25, 1.92]
    scenes = sample_frames(clip, info, 3, "scenes")
    assert [round(t * 12) for t, _ in scenes] == [0, 8, 16]  # the first frame of each shot
    enc = load_encoder(f"clip:{clip_dir}")
    feats = encode_video(clip, enc, frames=6, pooling="attention", segments=3)
    assert feats.vector.shape == (enc.dim,) and feats.segments is not None
    assert feats.segments.shape == (3, enc.dim) and feats.sampled == 6
    frames = np.array([[1, 0], [1, 0], [1, 0.1], [0, 1]], dtype=np.float32)
    frames /= np.linalg.norm(frames, axis=1, keepdims=True)
    attn, mean = pool(frames, "attention"), pool(frames, "mean")
    assert attn[0] > mean[0]  # the outlier frame [0, 1] weighs less
    for how in ("mean", "max", "attention"):
        assert np.linalg.norm(pool(frames, how)) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(DataError, match="pooling"):
        pool(frames, "gru")


def test_undecodable_videos_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    with pytest.raises(DataError, match="not a decodable video"):
        probe_video(junk)
    text = tmp_path / "text.webm"
    text.write_text("hello")
    with pytest.raises(DataError, match="not a decodable video"):
        probe_video(text)
