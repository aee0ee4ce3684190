"""The managed server's credentials, kept in a 0600 file under MMKG_HOME."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from mmkg.errors import ConfigError


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


def generate_password() -> str:
    return secrets.token_urlsafe(24)


def write_credentials(path: Path, creds: Credentials) -> None:
    """Write the credentials file with mode 0600, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"user": creds.user, "password": creds.password}, fh)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def read_credentials(path: Path) -> Credentials | None:
    """Read the credentials file; None when there is none."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(user=str(data["user"]), password=str(data["password"]))
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"credentials file {path} is unreadable ({e}); if you know the password, set "
            "MMKG_NEO4J_PASSWORD; otherwise give the managed server a new one with "
            "`mmkg neo4j reset-password` (its data stays)"
        ) from e
