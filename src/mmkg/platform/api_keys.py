"""API keys of the web API and workbench: created by `mmkg api-key create`, stored hashed.

A key reads ``mmkg_<id>_<secret>``: the id finds the stored record, the 256-bit secret is
checked against its SHA-256 (a slow password hash buys nothing for a random secret of that
length, and would cost every request). The key itself is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from mmkg.errors import ConfigError
from mmkg.graph_schema import queries as Q
from mmkg.platform import atomic
from mmkg.platform.schema import require_schema
from mmkg.platform.store import Graph

SCOPES = ("read", "write")
_KEY = re.compile(r"^mmkg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class ApiKey:
    id: str
    scope: str
    name: str

    def allows(self, scope: str) -> bool:
        """A write key may also read."""
        return self.scope == "write" or scope == "read"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(graph: Graph, scope: str = "read", name: str = "") -> tuple[ApiKey, str]:
    """A new key; returns its record and the key itself (not stored anywhere)."""
    if scope not in SCOPES:
        raise ConfigError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    require_schema(graph)
    key_id = secrets.token_hex(6)
    token = f"mmkg_{key_id}_{secrets.token_urlsafe(32)}"
    graph.write(
        Q.API_KEY_CREATE, {"id": key_id, "hash": _digest(token), "scope": scope, "name": name}
    )
    return ApiKey(key_id, scope, name), token


def list_keys(graph: Graph) -> list[dict[str, object]]:
    return graph.read(Q.API_KEY_LIST)


def revoke_key(graph: Graph, key_id: str) -> bool:
    """Revoke a key by id; False when there is no such key."""
    return bool(graph.write_rows(Q.API_KEY_REVOKE, {"id": key_id}))


class KeyVerifier:
    """Checks presented keys against the graph, remembering answers for ``ttl`` seconds so a
    busy page does not cost a query per request; a revoked key stops working within ``ttl``."""

    def __init__(self, graph: Graph, ttl: float = 30.0) -> None:
        self.graph, self.ttl = graph, ttl
        self._seen: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> ApiKey | None:
        match = _KEY.match(token.strip())
        if match is None:
            return None
        digest = _digest(token.strip())
        return self._lookup(digest, match.group(1), digest)

    def key_by_id(self, key_id: str) -> ApiKey | None:
        """The live key of a session cookie (the cookie carries the id, never the key)."""
        return self._lookup("id:" + key_id, key_id, None)

    def _lookup(self, cache_key: str, key_id: str, digest: str | None) -> ApiKey | None:
        """The key with this id, if it is live (and, given a digest, has that hash)."""
        now = time.monotonic()
        with self._lock:
            cached = self._seen.get(cache_key)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        rows = self.graph.read(Q.API_KEY_GET, {"id": key_id})
        key = None
        if rows and (digest is None or hmac.compare_digest(str(rows[0]["hash"]), digest)):
            key = ApiKey(str(rows[0]["id"]), str(rows[0]["scope"]), str(rows[0]["name"] or ""))
        with self._lock:
            if len(self._seen) > 10_000:  # presented garbage must not grow this without bound
                self._seen.clear()
            self._seen[cache_key] = (now, key)
        return key


def stored_key(graph: Graph, path: Path, scope: str = "write", name: str = "demo") -> str:
    """A key kept in ``path`` (owner-only): the demo's, so each run prints the same one."""
    if path.is_file():
        token = path.read_text(encoding="utf-8").strip()
        if KeyVerifier(graph, ttl=0).verify(token) is not None:
            return token
    _, token = create_key(graph, scope, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(path) as tmp:
        tmp.touch(mode=0o600)
        tmp.write_text(token + "\n", encoding="utf-8")
    return token
