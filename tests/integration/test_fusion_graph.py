"""Fusion on the graph, end to end, as a user runs it: entity texts, photos that depict
entities and numeric literals feed `mmkg train --from-neo4j` with attention fusion; the run is
written back; an entity that arrives with only a description is placed by `mmkg embeddings
refresh` and `CALL mmkg.predict.tail` answers for it (the real Neo4j and plugin)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmkg.platform.demo import load_demo
from mmkg.platform.encoders.registry import load_encoder
from mmkg.platform.kge.fusion import place_from_features
from mmkg.platform.media.ingest import ingest_media
from mmkg.platform.media.search import embed_entities
from mmkg.platform.serving import active_run_id, get_run, predict_tail, read_artifact
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import CLEAR, run_cli
from tests.media_fixtures import build_tiny_clip, write_photos

TRAIN = ["--model", "rotate", "--dim", "32", "--epochs", "40", "--batch-size", "256",
         "--negatives", "32", "--neg-chunk-size", "32", "--gamma", "6", "--lr", "0.05",
         "--no-compile", "--eval-every", "10", "--fusion", "attention",
         "--align-weight", "0.1"]  # fmt: skip
NEWCOMER = (
    "id\tname\tdescription\naurelia_nowak\tAurelia Nowak\tPolish physicist and chemist who "
    "studied radioactivity in Paris and received the Nobel Prize in Physics\n"
)


@pytest.fixture(scope="module")
def fused(session_graph: Graph, neo4j_settings: Settings, tmp_path_factory: Any) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fusion")
    clip = build_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")
    settings = neo4j_settings.model_copy(
        update={"media_root": root, "image_encoder": f"clip:{clip}"}
    )
    g = session_graph
    g.run_autocommit(CLEAR)
    load_demo(g, settings, show_progress=False)
    photos = write_photos(root / "photos")
    manifest = root / "manifest.csv"
    manifest.write_text(
        "path,entities,caption,relation,source\n"
        "photos/astronaut.jpg,united_states,Eileen Collins,,NASA\n"
        "photos/chelsea.jpg,france,a cat,,skimage\n"
        "photos/coffee.jpg,brazil;colombia,coffee,,skimage\n",
        encoding="utf-8",
    )
    ingest_media(g, [root / "photos"], settings, manifest, show_progress=False)
    embed_entities(g, settings, show_progress=False)
    literals = root / "literals.tsv"
    literals.write_text(
        "france\tpopulation\t68000000\ngermany\tpopulation\t84000000\n"
        "poland\tpopulation\t37000000\nfrance\tarea_km2\t643801\nbrazil\tpopulation\t203000000\n"
        "atlantis\tpopulation\t1\n"
    )
    loaded = json.loads(
        run_cli(settings, "-q", "ingest", "literals", str(literals), "--json").stdout
    )
    assert loaded["literals"] == 5 and loaded["attributes"] == 2
    assert loaded["unknown_entities"] == 1 and loaded["unknown_examples"] == ["atlantis"]
    run = root / "run"
    out = run_cli(
        settings, "-q", "train", "--from-neo4j", *TRAIN, "--modalities", "text,image,numeric",
        "--image-encoder", f"clip:{clip}", "--out", str(run), "--json",
    )  # fmt: skip
    metrics = json.loads(out.stdout)
    run_cli(settings, "-q", "embeddings", "write", str(run), "--id", "fused-demo", "--activate")
    return {"settings": settings, "metrics": metrics, "run": run, "clip": clip,
            "photos": photos, "root": root}  # fmt: skip


def test_the_graph_s_modalities_train_an_attention_fusion(fused: dict[str, Any]) -> None:
    report = fused["metrics"]["fusion"]
    assert set(report["modalities"]) == {"text", "image", "numeric"}
    text = load_encoder("minilm")
    assert report["modalities"]["text"]["source"] == text.label
    assert report["modalities"]["image"]["entities"] == 4  # the photos depict 4 entities
    assert report["modalities"]["numeric"]["entities"] == 4
    assert set(report["mean_weights"]) == {"structure", "text", "image", "numeric"}
    assert fused["metrics"]["valid"]["mrr"] > 0.05
    assert (fused["run"] / "fusion_head.npz").is_file()


def test_a_new_entity_with_only_a_description_is_placed_and_served(
    fused: dict[str, Any], session_graph: Graph
) -> None:
    settings, g = fused["settings"], session_graph
    new = fused["root"] / "newcomer.tsv"
    new.write_text(NEWCOMER, encoding="utf-8")
    run_cli(settings, "-q", "ingest", "entities", str(new))
    run_cli(settings, "-q", "features", "entities")
    out = run_cli(settings, "-q", "embeddings", "refresh", "--json")
    refreshed = json.loads(out.stdout)
    info = refreshed["fold_in"]
    assert info["new_entities"] == 1 and info["placed_from_features"] == 1
    assert info["triples"] == 0
    run_id = refreshed["run_id"]
    assert active_run_id(g) == run_id and get_run(g, run_id)["base_run"] == "fused-demo"

    answers = predict_tail(g, "aurelia_nowak", "field_of_work", 5, exclude=False)
    assert len(answers) == 5 and {a.run for a in answers} == {run_id}
    rows = g.read("CALL mmkg.predict.tail('aurelia_nowak', 'citizen_of', 3) YIELD id RETURN id")
    assert len(rows) == 3

    # The served vector is the fusion head's placement of the newcomer's own text vector.
    from mmkg.platform.graph_features import read_modality

    served = read_artifact(g, run_id)
    i = served.entity_ids.index("aurelia_nowak")
    assert served.fusion is not None
    text = next(m for m in served.fusion.modalities if m["name"] == "text")
    modality = read_modality(g, ["aurelia_nowak"], "text", text["source"], text["width"])
    want, has = place_from_features(served.fusion, [modality])
    assert has.tolist() == [True]
    np.testing.assert_allclose(served.entities[i], want[0], rtol=1e-5, atol=1e-6)
    # The base run's rows are unchanged.
    base = read_artifact(g, "fused-demo")
    j = base.entity_ids.index("marie_curie")
    np.testing.assert_array_equal(served.entities[served.entity_ids.index("marie_curie")],
                                  base.entities[j])  # fmt: skip


def test_literals_with_bad_lines_are_named_and_strict_writes_nothing(
    fused: dict[str, Any], session_graph: Graph
) -> None:
    settings = fused["settings"]
    bad = fused["root"] / "bad_literals.tsv"
    bad.write_text("germany\tarea_km2\t357022\nfrance\tarea_km2\tbig\nspain\tarea_km2\n")
    refused = run_cli(settings, "ingest", "literals", str(bad), "--strict", check=False)
    assert refused.returncode != 0
    assert "bad_literals.tsv:2: value 'big' is not a number" in refused.stderr
    assert "bad_literals.tsv:3: expected 'entity<TAB>attribute<TAB>value'" in refused.stderr
    prop = session_graph.read(
        "MATCH (a:LiteralAttribute {name: 'area_km2'}) RETURN a.property AS p"
    )[0]["p"]
    germany = session_graph.read(f"MATCH (e:Entity {{id: 'germany'}}) RETURN e.{prop} AS v")
    assert germany[0]["v"] is None  # --strict: nothing was written
    lenient = json.loads(run_cli(settings, "-q", "ingest", "literals", str(bad), "--json").stdout)
    assert lenient["literals"] == 1 and lenient["rejected"] == 2


def test_graph_modalities_that_are_missing_are_named_with_the_command_that_makes_them(
    fused: dict[str, Any], tmp_path: Path
) -> None:
    settings = fused["settings"]
    bad = run_cli(settings, "train", "--from-neo4j", *TRAIN, "--modalities", "video",
                  "--image-encoder", f"clip:{fused['clip']}", "--out", str(tmp_path / "r"),
                  check=False)  # fmt: skip
    assert bad.returncode != 0
    assert "modality 'video': no entity has video features" in bad.stderr
    assert "mmkg ingest media" in bad.stderr
    unknown = run_cli(settings, "train", "--from-neo4j", *TRAIN, "--modalities", "smell",
                      "--out", str(tmp_path / "r2"), check=False)  # fmt: skip
    assert unknown.returncode != 0 and "--modalities: unknown smell" in unknown.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
