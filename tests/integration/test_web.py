"""The workbench and REST API, against a real Neo4j and a real server: the one `mmkg demo`
starts in the background. Browser tests drive Debian's chromium through Playwright."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from PIL import Image

from mmkg.graph_schema import queries as Q
from mmkg.platform.demo_media import load_demo_media
from mmkg.platform.schema import apply_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from mmkg.web import create_app
from tests.conftest import REPO, free_port
from tests.integration.conftest import run_cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SCREENSHOTS = REPO / "test-results" / "screenshots"


@dataclass
class Bench:
    url: str
    key: str  # the demo's key (write scope)
    read_key: str
    settings: Settings
    demo: dict[str, Any]

    def client(self, key: str | None = "key") -> httpx.Client:
        token = {"key": self.key, "read": self.read_key}.get(key or "")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def bench(neo4j_settings: Settings, session_graph: Graph) -> Iterator[Bench]:
    """The newcomer's path: `mmkg demo` on an empty graph, which ends with the workbench
    running in the background and a key to log in with."""
    session_graph.run_autocommit(Q.DELETE_ALL)
    apply_schema(session_graph)
    settings = neo4j_settings.model_copy(update={"web_port": free_port()})
    out = json.loads(run_cli(settings, "-q", "demo", "--json", "--no-browser").stdout)
    read_key = json.loads(
        run_cli(settings, "api-key", "create", "--scope", "read", "--name", "t", "--json").stdout
    )["key"]
    try:
        yield Bench(out["workbench"]["url"], out["workbench"]["key"], read_key, settings, out)
    finally:
        run_cli(settings, "serve", "--stop")


def _png(color: tuple[int, int, int] = (200, 30, 30), side: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), color).save(buf, "PNG")
    return buf.getvalue()


def _noise(side: int = 64) -> bytes:
    """A PNG that does not compress: about 12 KB."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG")
    return buf.getvalue()


def test_demo_ends_with_media_linked_and_the_workbench_running(
    bench: Bench, session_graph: Graph
) -> None:
    media = bench.demo["media"]
    assert media["files"] == 11 and media["linked"] == 19
    assert media["image_encoder"] == "effnet" and media["entities_embedded"] > 300
    with bench.client() as c:
        assert c.get("/login").status_code == 200
        assert c.get("/api/v1/jobs").status_code == 200
    # Idempotent: the media are there already.
    again = load_demo_media(session_graph, bench.settings, show_progress=False)
    assert again.created == 0 and again.entities_embedded == 0


def test_every_api_route_refuses_a_request_without_a_valid_key(bench: Bench) -> None:
    with bench.client(None) as anonymous:
        spec = anonymous.get("/api/v1/openapi.json").json()
        assert "HTTPBearer" in spec["components"]["securitySchemes"]
        checked = 0
        for path, ops in spec["paths"].items():
            concrete = path.replace("{entity_id}", "marie_curie").replace("{job_id}", "x")
            concrete = concrete.replace("{media_id}", "0" * 64)
            for method in ops:
                r = anonymous.request(method.upper(), concrete)
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.headers["www-authenticate"] == "Bearer"
                checked += 1
                bad = anonymous.request(
                    method.upper(), concrete, headers={"Authorization": "Bearer mmkg_nope"}
                )
                assert bad.status_code == 401
        assert checked >= 12
    with bench.client("read") as reader:
        r = reader.post("/api/v1/ingest", files={"files": ("x.png", _png(), "image/png")})
        assert r.status_code == 403 and "scope is read" in r.json()["detail"]


def test_search_by_text_and_by_image_finds_entities_and_media_with_thumbnails(
    bench: Bench,
) -> None:
    with bench.client("read") as c:
        found = c.get("/api/v1/search", params={"q": "astronomy and galaxies", "k": 5}).json()
        entities = found["hits"]["entity"]
        assert entities[0]["id"] == "astronomy" and len(entities[0]["thumbnails"]) == 3
        # Without CLIP, images are not searched by text; the response says so.
        assert any("clip" in n.lower() for n in found["notes"])
        moon = bench.settings.home / "demo-media" / "moon.png"
        by_image = c.post(
            "/api/v1/search/image", files={"image": ("q.png", moon.read_bytes(), "image/png")}
        ).json()
        top = by_image["hits"]["image"][0]
        assert top["score"] > 0.99 and top["name"] == "The surface of the Moon"
        assert by_image["hits"]["entity"][0]["id"] == "astronomy"
        assert by_image["hits"]["video"][0]["thumbnails"]
        only = c.get("/api/v1/search", params={"q": "radioactivity", "target": "text"}).json()
        assert set(only["hits"]) == {"text"} and only["hits"]["text"][0]["name"].startswith("Marie")
        assert c.get("/api/v1/search", params={"q": "x", "target": "image"}).status_code == 400
        bad = c.post("/api/v1/search/image", files={"image": ("q.png", b"not an image")})
        assert bad.status_code == 400
        detail = bad.json()["detail"]  # names the upload, never the server's temporary path
        assert detail.startswith("q.png: ") and str(bench.settings.home) not in detail


def test_entity_page_data_predictions_and_errors(bench: Bench) -> None:
    with bench.client("read") as c:
        e = c.get("/api/v1/entities/astronomy").json()
        kinds = sorted(m["kind"] for m in e["media"])
        assert kinds == ["Image", "Image", "Video"]
        video = next(m for m in e["media"] if m["kind"] == "Video")
        assert [s["start"] for s in video["segments"]] == [0.0, 1.5]
        curie = c.get("/api/v1/entities/marie_curie").json()
        assert curie["aliases"] is not None and curie["facts"]
        assert any(g["relation"] == "award_received" for g in curie["facts"])
        assert curie["predictions"] and curie["similar"]
        known = {(g["direction"], g["relation"], x["id"]) for g in curie["facts"]
                 for x in g["entities"]}  # fmt: skip
        for group in curie["predictions"]:  # predictions exclude the known facts
            fact = (group["direction"], group["relation"])
            assert all((*fact, p["id"]) not in known for p in group["predicted"])
        # Astronomy is only ever a tail (a field of work): who else would work in it.
        heads = [g for g in e["predictions"] if g["direction"] == "in"]
        assert heads and heads[0]["relation"] == "field_of_work"
        assert c.get("/api/v1/entities/no_such_thing").status_code == 404

        tail = c.get(
            "/api/v1/predict/tail",
            params={"head": "albert_einstein", "relation": "educated_at", "k": 3},
        ).json()
        assert len(tail["predictions"]) == 3 and tail["predictions"][0]["rank"] == 1
        head = c.get(
            "/api/v1/predict/head", params={"relation": "born_in", "tail": "ulm", "k": 2}
        ).json()
        assert len(head["predictions"]) == 2
        rel = c.get(
            "/api/v1/predict/relation", params={"head": "marie_curie", "tail": "france"}
        ).json()
        assert rel["predictions"][0]["relation"]
        score = c.get(
            "/api/v1/score",
            params={"head": "marie_curie", "relation": "award_received",
                    "tail": "nobel_prize_in_physics"},
        ).json()  # fmt: skip
        assert isinstance(score["score"], float) and score["rank"] is not None
        missing = c.get("/api/v1/predict/tail", params={"head": "nobody", "relation": "born_in"})
        assert missing.status_code == 404 and missing.json()["error"] == "UnknownEntityError"
        unknown = c.get("/api/v1/predict/tail", params={"head": "ulm", "relation": "nope"})
        assert unknown.status_code == 404
        assert c.get("/api/v1/predict/tail", params={"head": "ulm", "relation": "born_in",
                                                     "k": 0}).status_code == 422  # fmt: skip


def test_media_are_served_by_content_id_only_with_cached_thumbnails(bench: Bench) -> None:
    with bench.client("read") as c:
        e = c.get("/api/v1/entities/astronomy").json()
        image = next(m["id"] for m in e["media"] if m["kind"] == "Image")
        video = next(m["id"] for m in e["media"] if m["kind"] == "Video")
        full = c.get(f"/api/v1/media/{image}")
        assert full.status_code == 200 and full.headers["content-type"].startswith("image/")
        thumb = c.get(f"/api/v1/media/{image}/thumbnail")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(thumb.content)).size) <= bench.settings.web_thumbnail_px
        cached = list(bench.settings.thumbnail_dir.glob(f"{image}-*.jpg"))
        assert len(cached) == 1
        stamp = cached[0].stat().st_mtime_ns
        assert c.get(f"/api/v1/media/{image}/thumbnail").content == thumb.content
        assert cached[0].stat().st_mtime_ns == stamp  # served from the cache, not made again
        frame = c.get(f"/api/v1/media/{video}/thumbnail", params={"at": 2.0})
        assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"
        for bad in ("..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "0" * 64, "ABC"):
            r = c.get(f"/api/v1/media/{bad}")
            assert r.status_code == 404, bad
        text = next(
            m["id"] for m in c.get("/api/v1/entities/marie_curie").json()["media"]
        )  # a text document: served, but no thumbnail
        assert c.get(f"/api/v1/media/{text}").text.startswith("Marie and Pierre Curie")
        assert c.get(f"/api/v1/media/{text}/thumbnail").status_code == 404


def test_uploads_become_queued_jobs_and_bad_uploads_leave_nothing(bench: Bench) -> None:
    uploads = bench.settings.upload_dir
    before = set(uploads.glob("*")) if uploads.exists() else set()
    with bench.client() as c:
        r = c.post(
            "/api/v1/ingest",
            files=[("files", ("red.png", _png(), "image/png")),
                   ("files", ("notes.txt", b"Niels Bohr in Copenhagen.", "text/plain"))],
        )  # fmt: skip
        assert r.status_code == 202, r.text
        job = r.json()["job"]
        assert len(set(uploads.glob("*")) - before) == 2
        record = c.get(f"/api/v1/jobs/{job}").json()
        assert record["state"] == "queued" and record["task"] == "mmkg.ingest_media"
        assert any(j["id"] == job for j in c.get("/api/v1/jobs").json()["jobs"])
        after = set(uploads.glob("*"))
        refused = c.post(
            "/api/v1/ingest",
            files=[("files", ("green.png", _png((0, 200, 0)), "image/png")),
                   ("files", ("tool.exe", b"MZ...", "application/octet-stream"))],
        )  # fmt: skip
        assert refused.status_code == 415 and "tool.exe" in refused.json()["detail"]
        assert set(uploads.glob("*")) == after  # the good file of a refused request is gone
        assert c.get("/api/v1/jobs/no-such-job").status_code == 404


def test_request_and_upload_limits_cors_off_and_security_headers(
    bench: Bench, session_graph: Graph
) -> None:
    small = bench.settings.model_copy(
        update={"web_max_upload_bytes": 2048, "web_max_request_bytes": 1024}
    )
    with TestClient(create_app(small, session_graph)) as c:
        headers = {"Authorization": f"Bearer {bench.read_key}"}
        big = c.post("/api/v1/search/image", headers=headers,
                     files={"image": ("big.png", _noise(), "image/png")})  # fmt: skip
        assert big.status_code == 413
        assert big.headers["content-type"].startswith("application/problem+json")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(8):
                yield b"x" * 512

        streamed = c.post("/login", headers={"content-type": "application/x-www-form-urlencoded"},
                          content=chunks())  # fmt: skip
        assert streamed.status_code == 413
        page = c.get("/login")
        assert "access-control-allow-origin" not in page.headers
        assert page.headers["x-frame-options"] == "DENY"
        assert "script-src 'none'" in page.headers["content-security-policy"]
        preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        pre = c.options("/api/v1/jobs", headers=preflight)
        assert "access-control-allow-origin" not in pre.headers


def test_revoked_keys_and_forged_sessions_are_refused(bench: Bench, session_graph: Graph) -> None:
    created = json.loads(run_cli(bench.settings, "api-key", "create", "--json").stdout)
    with TestClient(create_app(bench.settings, session_graph)) as c:
        headers = {"Authorization": f"Bearer {created['key']}"}
        assert c.get("/api/v1/jobs", headers=headers).status_code == 200
        listed = json.loads(run_cli(bench.settings, "api-key", "list", "--json").stdout)
        assert all("hash" not in k and "key" not in k for k in listed)
        assert any(k["id"] == created["id"] for k in listed)
        run_cli(bench.settings, "api-key", "revoke", created["id"])
        fresh = create_app(bench.settings, session_graph)  # a new server: no cached answer
        with TestClient(fresh) as c2:
            assert c2.get("/api/v1/jobs", headers=headers).status_code == 401
        forged = f"{created['id']}.9999999999.{'0' * 64}"
        c.cookies.set("mmkg_session", forged)
        page = c.get("/entity/marie_curie")
        assert page.status_code == 401 and "Log in" in page.text and "Curie" not in page.text
    assert run_cli(bench.settings, "api-key", "revoke", "000000000000", check=False).returncode


# --- in a real browser --------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _loaded_images(page: Any, selector: str) -> int:
    """How many of the matching images the browser actually decoded."""
    count: int = page.eval_on_selector_all(
        selector, "els => els.filter(e => e.complete && e.naturalWidth > 0).length"
    )
    return count


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_in_a_browser_log_in_search_by_text_and_image_open_an_entity(
    bench: Bench, browser: Any, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    refused = page.goto(bench.url + "entity/marie_curie")
    assert refused is not None and refused.status == 401
    assert page.locator("form[action='/login']").is_visible()
    assert page.locator("text=Nobel").count() == 0
    _shot(page, "login")

    page.fill("#key", "mmkg_000000000000_" + "x" * 43)
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text(".error")
    page.fill("#key", bench.read_key)
    page.click("button[type=submit]")
    page.wait_for_url(bench.url + "entity/marie_curie")  # back where the login started
    assert page.locator("h1").inner_text().startswith("Marie Curie")

    page.goto(bench.url)
    page.fill("#q", "astronomy and galaxies")
    page.click("form.by-text button")
    page.wait_for_selector(".entity-hit")
    assert page.locator(".entity-hit h3 a").first.inner_text() == "Astronomy"
    page.wait_for_function(
        "() => [...document.querySelectorAll('.entity-hit img.thumb')]"
        ".filter(e => e.complete && e.naturalWidth > 0).length >= 3"
    )
    _shot(page, "search-text")

    query = tmp_path / "query.jpg"
    shutil.copy(bench.settings.home / "demo-media" / "hubble_deep_field.jpg", query)
    page.set_input_files("#image", str(query))
    page.click("form.by-image button")
    page.wait_for_selector(".media-hit.image")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.media-hit img.thumb')]"
        ".filter(e => e.complete && e.naturalWidth > 0).length >= 3"
    )
    first = page.locator(".media-hit.image figcaption").first.inner_text()
    assert first.startswith("The Hubble Deep Field")
    _shot(page, "search-image")

    page.click(".entity-hit h3 a >> text=Astronomy")
    page.wait_for_url(bench.url + "entity/astronomy")
    assert page.locator(".media-item").count() == 3
    assert page.locator(".media-item.video .segments li").count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('.media img.thumb')]"
        ".filter(e => e.complete && e.naturalWidth > 0).length >= 5"
    )
    _shot(page, "entity-astronomy")

    page.goto(bench.url + "entity/marie_curie")
    assert page.locator(".predictions .tag").first.inner_text() == "prediction"
    assert page.locator(".predicted").count() >= 3
    assert page.locator(".facts dt", has_text="award_received").count() == 1
    _shot(page, "entity-marie-curie")

    page.goto(bench.url + "jobs")
    assert page.locator("form.upload").count() == 0  # a read key cannot upload
    page.click("form.logout button")
    page.wait_for_url(bench.url + "login")
    after = page.goto(bench.url + "jobs")
    assert after is not None and after.status == 401
    context.close()


def test_in_a_browser_a_write_key_uploads_media_from_the_jobs_page(
    bench: Bench, browser: Any, tmp_path: Path
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(bench.url + "login")
    page.fill("#key", bench.key)
    page.click("button[type=submit]")
    page.goto(bench.url + "jobs")
    upload = tmp_path / "blue.png"
    upload.write_bytes(_png((20, 20, 220)))
    page.set_input_files("#files", str(upload))
    page.click("form.upload button")
    page.wait_for_selector(".note")
    assert "queued job" in page.inner_text(".note")
    assert page.locator("tr.state-queued").count() >= 1
    _shot(page, "jobs")
    # A form posted without the session's CSRF token is refused.
    forged = page.request.post(
        bench.url + "jobs/upload",
        multipart={"files": {"name": "x.png", "mimeType": "image/png", "buffer": _png()}},
    )
    assert forged.status == 403
    context.close()


# --- fuzzing the OpenAPI spec ---------------------------------------------------------------
def test_fuzzing_the_api_finds_no_server_error_and_no_unauthenticated_access(
    bench: Bench,
) -> None:
    """schemathesis generates requests for every operation of the served spec (valid and
    not): none may get a 5xx, an error is always a problem document, and the same request
    without a key is always refused."""
    schema = schemathesis.openapi.from_url(bench.url + "api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    seen: list[str] = []
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case: Any) -> None:
            answered = case.call(headers={"Authorization": f"Bearer {bench.read_key}"})
            where = (case.method, case.formatted_path, answered.status_code, answered.text[:300])
            assert answered.status_code < 500, where
            if answered.status_code >= 400:
                headers = {k.lower(): v for k, v in answered.headers.items()}
                kind = headers["content-type"]
                assert "problem+json" in (kind[0] if isinstance(kind, list) else kind), where
            anonymous = case.call(headers={"Authorization": ""})
            assert anonymous.status_code == 401, where
            seen.append(case.operation.label)

        exercise()
    assert set(seen) == {op.label for op in operations}


# --- Neo4j Browser on the managed server ---------------------------------------------------
def test_neo4j_browser_is_served_on_loopback_with_auth_on(browser: Any, tmp_path: Path) -> None:
    from mmkg.platform.neo4j_server import start_server, stop_server
    from mmkg.platform.neo4j_server.credentials import read_credentials
    from tests.integration.conftest import server_settings

    settings = server_settings(tmp_path / "home", neo4j_browser=True,
                               neo4j_http_port=free_port())  # fmt: skip
    status = start_server(settings)
    try:
        url = f"http://127.0.0.1:{settings.neo4j_http_port}/"
        assert status.browser_url == url + "browser/"
        conf = (tmp_path / "home" / "neo4j" / "conf" / "neo4j.conf").read_text()
        assert f"server.http.listen_address=127.0.0.1:{settings.neo4j_http_port}" in conf
        page = httpx.get(status.browser_url, timeout=30)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        query = {"statements": [{"statement": "CALL mmkg.cache.list() YIELD run RETURN count(*)"}]}
        tx = url + "db/neo4j/tx/commit"
        assert httpx.post(tx, json=query, timeout=30).status_code == 401  # auth is on
        creds = read_credentials(settings.credentials_file)
        assert creds is not None
        answered = httpx.post(tx, json=query, auth=(creds.user, creds.password), timeout=30)
        assert answered.status_code == 200 and not answered.json()["errors"]  # the plugin too
        # An analyst logs in through the Browser (it offers this server's Bolt address) and
        # calls one of mmkg's procedures.
        tab = browser.new_page()
        tab.goto(status.browser_url)
        tab.wait_for_function("() => document.title.includes('Neo4j Browser')", timeout=60_000)
        tab.wait_for_selector("input[data-testid='username']", timeout=60_000)
        bolt = tab.input_value("input[data-testid='boltaddress']")
        assert bolt.endswith(f"127.0.0.1:{settings.neo4j_bolt_port}")
        tab.fill("input[data-testid='username']", creds.user)
        tab.fill("input[data-testid='password']", creds.password)
        tab.click("button[data-testid='connect']")
        tab.wait_for_selector("text=You are connected", timeout=30_000)
        tab.locator(".monaco-editor textarea").first.focus()
        tab.keyboard.type("CALL mmkg.cache.list() YIELD run RETURN count(run) AS cached")
        tab.keyboard.press("Control+Enter")
        tab.wait_for_selector("text=Started streaming", timeout=30_000)
        _shot(tab, "neo4j-browser")
        tab.close()
    finally:
        stop_server(settings)
