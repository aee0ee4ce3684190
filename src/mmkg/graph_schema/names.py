"""Every name mmkg derives for the graph: run properties and indexes, feature properties and
their indexes. Computed here and nowhere else; the Neo4j plugin reads the ones it needs from the
run's node and never recomputes them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from mmkg.errors import DataError
from mmkg.graph_schema.identifiers import validate_identifier

RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MEDIA_KINDS = ("Image", "Video", "Text")


def _digest(text: str, length: int) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
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
        return cls(f"{stem}_{_digest(run_id, 6)}")

    @property
    def entity(self) -> str:
        return f"mmkg_e_{self.key}"

    @property
    def augmented(self) -> str:
        """MIPS-augmented entity vectors [e, sqrt(M² - |e|²)] of inner-product models."""
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

    @property
    def user(self) -> str:
        """Recommender runs: each user's vector, on the User node."""
        return f"mmkg_u_{self.key}"

    def properties(self) -> dict[str, str]:
        """Every property a run may write, by what it holds."""
        return {
            "entity_property": self.entity,
            "augmented_property": self.augmented,
            "relation_property": self.relation,
            "inverse_property": self.inverse,
        }


def encoder_key(spec: str, version: str) -> str:
    """Identifier-safe key of an encoder's vectors: readable stem plus a digest of spec@version."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", spec.split(":", 1)[0]).strip("_")[:20] or "enc"
    return f"{stem}_{_digest(f'{spec}@{version}', 8)}"


def feature_property(key: str) -> str:
    """The node property holding an encoder's (or an imported set's) feature vectors."""
    return validate_identifier(f"feat_{key}", "feature property")


def feature_encoder_property(key: str) -> str:
    """The node property recording which encoder (``name@version``) made the features."""
    return f"{feature_property(key)}_encoder"


def media_index_name(kind: str, key: str) -> str:
    if kind not in MEDIA_KINDS:
        raise DataError(f"media kind must be one of {', '.join(MEDIA_KINDS)}, not {kind!r}")
    return validate_identifier(f"mmkg_media_{kind.lower()}_{key}", "index name")


def entity_index_name(key: str) -> str:
    return validate_identifier(f"mmkg_entity_{key}", "index name")


def literal_property(attribute: str) -> str:
    """The node property of a numeric literal: ``lit_`` plus a safe form of the attribute."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", attribute).strip("_")[:40] or "attr"
    return validate_identifier(f"lit_{stem}_{_digest(attribute, 6)}", "literal property")
