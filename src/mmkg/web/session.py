"""Workbench sessions: a signed cookie naming the API key that logged in, and CSRF tokens.

The cookie carries the key's id and an expiry under an HMAC, never the key; each request
checks that the key still exists and is not revoked. Forms carry a token derived from the
session cookie (a login form, from a per-browser cookie), and cookies are ``SameSite=Strict``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path

from mmkg.platform import atomic

SESSION_COOKIE = "mmkg_session"
LOGIN_COOKIE = "mmkg_login"


def load_secret(home: Path) -> bytes:
    """The server's signing secret, made once per MMKG_HOME (so sessions survive restarts and
    every server on one home accepts them), readable by its owner only."""
    path = home / "web-secret"
    if not path.is_file():
        home.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(path) as tmp:
            tmp.touch(mode=0o600)  # owner-only before the secret is in it
            tmp.write_bytes(secrets.token_bytes(32))
    return path.read_bytes()


class Sessions:
    def __init__(self, secret: bytes, hours: float) -> None:
        self.secret, self.seconds = secret, int(hours * 3600)

    def _sign(self, text: str) -> str:
        return hmac.new(self.secret, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def issue(self, key_id: str) -> str:
        body = f"{key_id}.{int(time.time()) + self.seconds}"
        return f"{body}.{self._sign(body)}"

    def key_id(self, cookie: str | None) -> str | None:
        """The key id of a valid, unexpired session cookie; None otherwise."""
        if not cookie or cookie.count(".") != 2:
            return None
        key_id, expires, signature = cookie.split(".")
        if not hmac.compare_digest(self._sign(f"{key_id}.{expires}"), signature):
            return None
        if not expires.isdigit() or int(expires) < time.time():
            return None
        return key_id

    def csrf(self, cookie: str) -> str:
        return self._sign("csrf:" + cookie)[:32]

    def csrf_ok(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and hmac.compare_digest(self.csrf(cookie or ""), token or "")
