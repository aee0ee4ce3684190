"""Names of a run's properties and index, derived from its id."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from mmkg.errors import DataError

RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_run_id(run_id: str) -> str:
    if not RUN_ID_RE.fullmatch(run_id):
        raise DataError(
            f"invalid run id {run_id!r}: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return run_id


def default_run_id(folder_name: str) -> str:
    """A run folder's name made into a valid run id."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", folder_name).strip("-._")[:100]
    return cleaned or "run"


@dataclass(frozen=True)
class RunNames:
    """Property and index names of one run: distinct per run id, valid Cypher identifiers."""

    key: str

    @classmethod
    def for_run(cls, run_id: str) -> RunNames:
        # The readable part may collide ("a-b" and "a_b"); the hash keeps keys distinct.
        stem = re.sub(r"[^A-Za-z0-9_]", "_", run_id)[:36]
        digest = hashlib.sha1(run_id.encode("utf-8")).hexdigest()[:6]
        return cls(f"{stem}_{digest}")

    @property
    def entity(self) -> str:
        return f"mmkg_e_{self.key}"

    @property
    def augmented(self) -> str:
        """MIPS-augmented entity vectors [e, sqrt(M² - |e|²)] of bilinear models."""
        return f"mmkg_a_{self.key}"

    @property
    def relation(self) -> str:
        return f"mmkg_r_{self.key}"

    @property
    def inverse(self) -> str:
        return f"mmkg_ri_{self.key}"

    @property
    def index(self) -> str:
        return f"mmkg_ann_{self.key}"
