"""Media ingestion and cross-modal search end to end: real photos, generated videos, real
MiniLM, a local tiny CLIP, the real Neo4j server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmkg.errors import IngestError
from mmkg.graph_schema.model import DEPICTS
from mmkg.platform.encoders import load_encoder
from mmkg.platform.media import embed_entities, ingest_media, search_image, search_text
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from tests.integration.conftest import CLEAR, run_cli
from tests.media_fixtures import (
    build_tiny_clip,
    write_bad_files,
    write_docs,
    write_photos,
    write_video,
)

ENTITIES = [
    ("cat", "Cat", "a small domesticated carnivorous mammal kept as a pet"),
    ("rocket", "Rocket", "a vehicle propelled by rocket engines into space"),
    ("coffee", "Coffee", "a brewed drink prepared from roasted coffee beans"),
    ("horse", "Horse", "a large domesticated hoofed mammal used for riding"),
    ("astronaut_ent", "Astronaut", "a person trained to travel into outer space"),
]


@pytest.fixture(scope="module")
def media(session_graph: Graph, neo4j_settings: Settings, tmp_path_factory: Any) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("media")
    clip = build_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")
    settings = neo4j_settings.model_copy(
        update={"media_root": root, "image_encoder": f"clip:{clip}", "video_frames": 4}
    )
    session_graph.run_autocommit(CLEAR)
    session_graph.write(
        "UNWIND $rows AS r MERGE (e:Entity {id: r[0]}) SET e.name = r[1], e.description = r[2]",
        {"rows": [list(e) for e in ENTITIES]},
    )
    photos = write_photos(root / "photos")
    (root / "videos").mkdir()
    videos = {
        name: write_video(root / "videos" / f"{name}.mp4", scenes=shots)
        for name, shots in (("two_shots", 2), ("three_shots", 3))
    }
    docs = write_docs(root / "docs")
    manifest = root / "manifest.csv"
    manifest.write_text(
        "path,entities,caption,relation,source\n"
        "photos/astronaut.jpg,astronaut_ent,Eileen Collins,,NASA\n"
        "photos/chelsea.jpg,cat;nobody_here,Chelsea the cat,,skimage\n"
        "docs/rocket.md,rocket,,MENTIONS,hand-written\n",
        encoding="utf-8",
    )
    summary = ingest_media(session_graph, [root / "photos", root / "videos", root / "docs"],
                           settings, manifest, show_progress=False)  # fmt: skip
    return {"root": root, "settings": settings, "summary": summary, "photos": photos,
            "videos": videos, "docs": docs, "manifest": manifest, "clip": clip}  # fmt: skip


def test_media_become_nodes_with_metadata_features_and_links(
    session_graph: Graph, media: dict[str, Any]
) -> None:
    s = media["summary"]
    assert s.failed == 0, s.failures
    n = len(media["photos"]) + len(media["videos"]) + len(media["docs"])
    assert s.files == n and s.created == n and s.featurised == n
    assert s.linked == 3 and s.missing_entities == ["nobody_here"]
    g = session_graph
    counts = g.read("MATCH (m:Media) RETURN [l IN labels(m) WHERE l <> 'Media'][0] AS kind, "
                    "count(*) AS n ORDER BY kind")  # fmt: skip
    assert {r["kind"]: r["n"] for r in counts} == {"Image": 7, "Text": 5, "Video": 2}
    img = g.read("MATCH (m:Image) WHERE m.path ENDS WITH 'astronaut.jpg' RETURN m {.*} AS m")[0][
        "m"
    ]
    assert (img["width"], img["height"], img["mime"]) == (512, 512, "image/jpeg")
    assert len(img["id"]) == 64 and img["caption"] == "Eileen Collins"
    clip = load_encoder(media["settings"].image_encoder)
    prop = f"feat_{clip.key}"
    assert len(img[prop]) == clip.dim and img[f"{prop}_encoder"] == clip.label
    video = g.read("MATCH (m:Video) WHERE m.path ENDS WITH 'three_shots.mp4' RETURN m {.*} AS m")[
        0
    ]["m"]
    assert (
        video["frames"] == 24
        and video["fps"] == 12
        and video["duration"] == pytest.approx(2.0, abs=0.1)
    )
    assert video["sampled_frames"] == 4 and len(video[prop]) == clip.dim
    links = g.read(f"MATCH (m:Media)-[r:{DEPICTS}|MENTIONS]->(e:Entity) "
                   "RETURN e.id AS e, type(r) AS t, r.source AS s ORDER BY e")  # fmt: skip
    assert [(r["e"], r["t"], r["s"]) for r in links] == [
        ("astronaut_ent", "DEPICTS", "NASA"), ("cat", "DEPICTS", "skimage"),
        ("rocket", "MENTIONS", "hand-written")]  # fmt: skip


def test_ingesting_again_is_a_no_op(session_graph: Graph, media: dict[str, Any]) -> None:
    root = media["root"]
    again = ingest_media(session_graph, [root / "photos", root / "videos", root / "docs"],
                         media["settings"], media["manifest"], show_progress=False)  # fmt: skip
    assert again.created == 0 and again.featurised == 0 and again.failed == 0
    assert again.present == media["summary"].created
    assert session_graph.read("MATCH (m:Media) RETURN count(m) AS n")[0]["n"] == again.present
    assert session_graph.read("MATCH ()-[r:DEPICTS|MENTIONS]->() RETURN count(r) AS n")[0]["n"] == 3


def test_bad_files_are_recorded_and_skipped(
    session_graph: Graph, media: dict[str, Any], tmp_path: Path
) -> None:
    root = media["root"]
    bad = write_bad_files(root / "bad", tmp_path / "outside")
    write_video(root / "bad" / "fine.mp4", frames=6)
    summary = ingest_media(session_graph, [root / "bad", tmp_path / "outside" / "secret.jpg"],
                           media["settings"], show_progress=False)  # fmt: skip
    assert summary.created == 1 and summary.featurised == 1  # fine.mp4 went through
    reasons = {Path(f["path"]).name: f["reason"] for f in summary.failures}
    assert "truncated" in reasons["truncated.jpg"]
    assert "corrupt" in reasons["corrupt.png"] or "unidentified" in reasons["corrupt.png"]
    assert reasons["empty.jpg"] == "zero-byte file"
    assert "unsupported format .docx" in reasons["notes.docx"]
    assert "decompression bomb" in reasons["bomb.png"]
    assert "not a decodable video" in reasons["noframes.mp4"]
    assert "symbolic link" in reasons["link.jpg"]
    assert "outside the allowed root" in reasons["secret.jpg"]
    assert summary.failed == len(bad) + 1
    recorded = session_graph.read(
        "MATCH (f:MediaFailure) RETURN f.path AS p, f.reason AS r, f.ingest AS i"
    )
    assert {Path(r["p"]).name for r in recorded} >= set(reasons)
    assert {r["i"] for r in recorded} == {summary.ingest_id}


def test_text_search_finds_paraphrased_documents(
    session_graph: Graph, media: dict[str, Any]
) -> None:
    settings = media["settings"]
    queries = {
        "a kitten napping in the sun": "cat.txt",
        "a spacecraft blasting off into orbit": "rocket.md",
        "my daily caffeine drink in the morning": "coffee.txt",
        "a stallion running through a field": "horse.txt",
        "someone working outside the ISS in a spacesuit": "astronaut.txt",
    }
    for query, doc in queries.items():
        hits = search_text(session_graph, query, settings, "text", 3)
        assert hits[0].uri and hits[0].uri.endswith(doc), (query, [h.uri for h in hits])
        assert hits[0].kind == "Text" and hits[0].score > hits[1].score


def test_cross_modal_and_entity_search(session_graph: Graph, media: dict[str, Any]) -> None:
    settings = media["settings"]
    astronaut = media["photos"]["astronaut"]
    same = search_image(session_graph, astronaut, settings, "image", 3)
    assert same[0].uri == astronaut.resolve().as_uri() and same[0].score == pytest.approx(
        1.0, abs=1e-3
    )
    by_text = search_text(session_graph, "an astronaut", settings, "image", 5)
    assert len(by_text) == 5 and all(h.kind == "Image" for h in by_text)
    videos = search_text(session_graph, "a moving square", settings, "video", 5)
    assert {h.kind for h in videos} == {"Video"} and len(videos) >= 2
    # Entities through the media that depict them...
    via = search_image(session_graph, astronaut, settings, "entity", 3)
    assert via[0].id == "astronaut_ent" and via[0].via
    # ...and through their own name/description vectors (MiniLM).
    done = embed_entities(session_graph, settings, show_progress=False)
    assert done["entities"] == len(ENTITIES)
    hits = search_text(session_graph, "a pet that purrs", settings, "entity", 2)
    assert hits[0].id == "cat"
    assert embed_entities(session_graph, settings, show_progress=False)["entities"] == 0


def test_cli_ingest_and_search(neo4j_settings: Settings, media: dict[str, Any]) -> None:
    env_settings = neo4j_settings
    root = media["root"]
    out = run_cli(
        env_settings, "ingest", "media", str(root / "docs"), "--root", str(root), "--json"
    )
    summary = json.loads(out.stdout)
    assert summary["present"] == 5 and summary["failed"] == 0
    hits = json.loads(run_cli(env_settings, "search", "text", "a horse galloping", "-k", "2",
                              "--json").stdout)  # fmt: skip
    assert hits[0]["uri"].endswith("horse.txt")
    table = run_cli(env_settings, "search", "text", "a cup of espresso", "-k", "1").stdout
    assert "coffee.txt" in table
    no_clip = run_cli(env_settings, "search", "text", "x", "--target", "image", check=False)
    assert no_clip.returncode == 1 and "MMKG_IMAGE_ENCODER" in no_clip.stderr
    bad = run_cli(
        env_settings, "ingest", "media", "--manifest", str(root / "nope.csv"), check=False
    )
    assert bad.returncode == 1 and "does not exist" in bad.stderr


def test_malformed_manifest_fails_before_writing(
    session_graph: Graph, media: dict[str, Any]
) -> None:
    bad = media["root"] / "bad_manifest.jsonl"
    bad.write_text('{"path": "photos/horse.jpg", "entities": ["horse"]}\n{"path": 3}\n')
    before = session_graph.read("MATCH (m:Media) RETURN count(m) AS n")[0]["n"]
    with pytest.raises(IngestError, match=r"bad_manifest.jsonl:2: missing 'path'"):
        ingest_media(session_graph, [], media["settings"], bad, show_progress=False)
    assert session_graph.read("MATCH (m:Media) RETURN count(m) AS n")[0]["n"] == before
