"""Image linking: the ImageNet classifier (real EfficientNet-Lite0 weights) on real photos,
the class → WordNet entity mapping, and CLIP's probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from mmkg.errors import ConfigError
from mmkg.platform.encoders import load_encoder
from mmkg.platform.encoders.imagenet import imagenet_synsets, load_classifier
from mmkg.platform.linking.images import (
    class_entities,
    clip_links,
    imagenet_links,
    video_links,
)
from tests.media_fixtures import photo

CATS = {"n02123045", "n02123159", "n02124075", "n02123394", "n02123597"}


def test_the_shipped_class_table_is_imagenets_order() -> None:
    synsets = imagenet_synsets()
    assert len(synsets) == 1000 == len(set(synsets))
    assert synsets[0] == "n01440764" and synsets[281] == "n02123045"  # tench; tabby


def test_classes_map_to_either_wordnet_id_form() -> None:
    assert class_entities(["n02123045", "n02124075", "n09999999"], {"02123045", "n02124075"}) == [
        "02123045",
        "n02124075",
        None,
    ]


def test_links_take_the_likeliest_classes_in_the_graph_above_the_threshold() -> None:
    probs = np.asarray([[0.6, 0.3, 0.1], [0.05, 0.05, 0.9]])
    ents = ["a", None, "c"]
    links = imagenet_links(probs, ents, ["n1", "n2", "n3"], threshold=0.08, k=2)
    assert [(x.entity, x.label) for x in links[0]] == [("a", "n1"), ("c", "n3")]
    assert [x.entity for x in links[1]] == ["c"]  # "a" is below the threshold
    clip = clip_links([(["x", "y"], [0.30, 0.25]), ([], [])], threshold=0.001, k=5)
    assert [x.entity for x in clip[0]] == ["x", "y"] and clip[1] == []
    assert abs(sum(x.score for x in clip[0]) - 1.0) < 1e-3 and clip[0][0].score > 0.99


def test_efficientnet_lite0_sees_the_cat_and_the_espresso() -> None:
    clf = load_classifier()
    probs = clf.probabilities([photo("chelsea"), photo("coffee")])
    assert probs.shape == (2, 1000) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    top5 = [{clf.synsets[i] for i in np.argsort(-row)[:5]} for row in probs]
    assert top5[0] & CATS
    assert "n07920052" in top5[1]  # espresso
    assert load_classifier() is clf  # loaded once per process


def test_effnet_encoder_gives_unit_image_features_that_find_the_same_scene() -> None:
    enc = load_encoder("effnet")
    assert enc.modalities == {"image"} and enc.dim == 1280 and enc.label.startswith("effnet@")
    cat, coffee, rocket = photo("chelsea"), photo("coffee"), photo("rocket")
    # The same cat, cropped: a near neighbour; other scenes lie further away.
    crop = cat.crop((20, 10, cat.width - 40, cat.height - 20))
    v = enc.encode_images([cat, crop, coffee, rocket])
    assert v.shape == (4, 1280) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sims = v @ v[0]
    assert sims[1] > 0.8 and sims[1] > sims[2] + 0.2 and sims[1] > sims[3] + 0.2
    assert np.allclose(enc.encode_images([cat])[0], v[0], atol=1e-5)  # deterministic
    assert load_encoder("effnet") is enc and enc.classifier is load_classifier()
    with pytest.raises(ConfigError, match="does not encode text"):
        enc.encode_texts(["a cat"])


def test_video_links_are_segments_of_consecutive_frames() -> None:
    # Frames at 0, 1, 2, 3 s of a 4 s clip: "a" in frames 0-1 and 3, "c" in frames 2-3.
    probs = np.asarray([[0.9, 0.0, 0.1], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.5, 0.0, 0.5]])
    links = video_links(
        [0.0, 1.0, 2.0, 3.0],
        probs,
        ["a", None, "c"],
        ["n1", "n2", "n3"],
        threshold=0.3,
        k=2,
        duration=4.0,
    )
    spans = sorted((x.entity, x.segment_start, x.segment_end, x.score) for x in links)
    assert spans == [("a", 0.0, 2.0, 0.85), ("a", 3.0, 4.0, 0.5), ("c", 2.0, 4.0, 0.65)]
