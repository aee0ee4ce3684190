"""Media by content id, and their thumbnails, made once and cached.

A request names a media node's content id (64 hex digits) and nothing else: the file's path
comes from the graph, never from the request, so no request can reach another file.
Thumbnails are JPEGs under the cache folder, keyed by id, size and (for videos) time.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from mmkg.errors import DataError
from mmkg.graph_schema import queries as Q
from mmkg.platform import atomic
from mmkg.platform.store import Graph
from mmkg.settings import Settings
from mmkg.web.problems import Problem

MEDIA_ID = re.compile(r"^[0-9a-f]{64}$")
_LOCKS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


def media_record(graph: Graph, media_id: str) -> dict[str, Any]:
    if not MEDIA_ID.match(media_id):
        raise Problem(404, "unknown media", f"{media_id!r} is not a media content id")
    rows = graph.read(Q.MEDIA_FILE, {"id": media_id})
    if not rows:
        raise Problem(404, "unknown media", f"no media {media_id}")
    record = rows[0]
    path = Path(str(record.get("path") or ""))
    if not record.get("path") or not path.is_file():
        raise Problem(410, "media file gone", f"media {media_id}'s file is no longer on disk")
    record["file"] = path
    return record


def _lock(key: str) -> threading.Lock:
    with _GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def thumbnail(graph: Graph, settings: Settings, media_id: str, at: float | None = None) -> Path:
    """The cached JPEG thumbnail of an image, or of a video's frame at ``at`` seconds (default
    a tenth of the way in, past fades from black)."""
    px = settings.web_thumbnail_px
    when = "" if at is None else f"-{max(at, 0.0):.2f}"
    target = settings.thumbnail_dir / f"{media_id}-{px}{when}.jpg"
    if MEDIA_ID.match(media_id) and target.is_file():
        return target
    record = media_record(graph, media_id)
    with _lock(target.name):
        if target.is_file():
            return target
        image = _picture(record, settings, at)
        image.thumbnail((px, px))
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(target) as tmp:
            image.convert("RGB").save(tmp, "JPEG", quality=85)
    return target


def _picture(record: dict[str, Any], settings: Settings, at: float | None) -> Any:
    from mmkg.platform.encoders.video import frame_at
    from mmkg.platform.media.probe import open_image

    path: Path = record["file"]
    try:
        if record["kind"] == "Image":
            return open_image(path, settings.max_image_pixels)[0]
        if record["kind"] == "Video":
            duration = float(record.get("duration") or 0.0)
            return frame_at(path, duration / 10 if at is None else at)
    except DataError as e:
        raise Problem(422, "undecodable media", f"media {record.get('id', '')}: {e}") from None
    raise Problem(404, "no thumbnail", f"{str(record['kind']).lower()} media have no thumbnail")
