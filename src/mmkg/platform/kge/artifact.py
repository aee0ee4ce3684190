"""The serving artefact: one trained model as the server scores it, handed over in memory.

Training produces it straight from the model (:meth:`KGEModel.to_artifact`); write-back takes it;
fold-in reads one back from Neo4j and extends it. The run folder is written for people and for
``mmkg eval``, and ``mmkg embeddings write RUN_DIR`` can rebuild an artefact from it, but it is no
longer the bridge between training and serving.

Nothing here imports torch or the database driver.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkg.errors import DataError
from mmkg.platform.kge.specs import Capabilities, model_spec

F32 = npt.NDArray[np.float32]


@dataclass
class FusionHead:
    """What turns an entity's features into its served vector without retraining: the
    trained projections and fusion of a fused run (cold start), as plain arrays.

    ``config``: fusion, projection, dim and, per modality in order, its name, feature width
    and the encoder (or file) that made the features.
    """

    config: dict[str, Any]
    weights: dict[str, npt.NDArray[np.float32]]

    @property
    def modalities(self) -> list[dict[str, Any]]:
        mods: list[dict[str, Any]] = self.config["modalities"]
        return mods

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        config = np.frombuffer(json.dumps(self.config, sort_keys=True).encode(), dtype=np.uint8)
        np.savez(buffer, __config__=config, **self.weights)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FusionHead:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                config = json.loads(arrays["__config__"].tobytes().decode())
                weights = {k: arrays[k] for k in arrays.files if k != "__config__"}
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"the run's fusion head cannot be read: {e}") from None
        return cls(config, weights)


@dataclass
class ServingArtifact:
    """Entity and relation vectors plus what the server needs to score them.

    ``relations`` (and ``inverses``, for reciprocal runs) are the relation vectors as the
    scoring formula uses them (RotatE: cos and sin of the phases), so the server never needs
    the model's parameterisation. ``entity_keys``/``relation_keys``, when the data came from
    the graph, are the nodes' element ids from the export: write-back seeks the nodes by them
    instead of scanning the graph by string id.
    """

    model: str
    dim: int
    gamma: float
    capabilities: Capabilities
    reciprocal: bool
    entity_ids: list[str]
    entities: F32
    relation_names: list[str]
    relations: F32
    inverses: F32 | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    entity_keys: list[str] | None = None
    relation_keys: list[str] | None = None
    # Where each modality's features came from ({"text": "minilm@..."}), for fused runs.
    encoders: dict[str, str] = field(default_factory=dict)
    # A fused run's projections and fusion: vectors for new entities from their features.
    fusion: FusionHead | None = None

    def __post_init__(self) -> None:
        self.entities = np.ascontiguousarray(self.entities, dtype=np.float32)
        self.relations = np.ascontiguousarray(self.relations, dtype=np.float32)
        if self.inverses is not None:
            self.inverses = np.ascontiguousarray(self.inverses, dtype=np.float32)
        n, r = len(self.entity_ids), len(self.relation_names)
        if self.entities.shape != (n, self.dim):
            raise DataError(f"entity vectors are {self.entities.shape}, expected ({n}, {self.dim})")
        if self.relations.shape != (r, self.dim):
            raise DataError(
                f"relation vectors are {self.relations.shape}, expected ({r}, {self.dim})"
            )
        if self.reciprocal != (self.inverses is not None):
            raise DataError("a reciprocal run needs inverse relation vectors, and only it has them")
        if self.inverses is not None and self.inverses.shape != self.relations.shape:
            raise DataError("inverse relation vectors must match the relation vectors' shape")
        for keys, what, count in (
            (self.entity_keys, "entity", n),
            (self.relation_keys, "relation", r),
        ):
            if keys is not None and len(keys) != count:
                raise DataError(f"{len(keys)} {what} keys for {count} {what} vectors")

    @property
    def num_entities(self) -> int:
        return len(self.entity_ids)

    def finite_problems(self) -> list[str]:
        """What is not finite (NaN or infinite), one line per table; empty when all is."""
        problems = []
        tables = [("entity", self.entities), ("relation", self.relations)]
        if self.inverses is not None:
            tables.append(("inverse relation", self.inverses))
        for what, table in tables:
            bad = ~np.isfinite(table).all(axis=1)
            if bad.any():
                names = self.entity_ids if what == "entity" else self.relation_names
                sample = ", ".join(repr(names[i]) for i in np.flatnonzero(bad)[:3])
                problems.append(f"{int(bad.sum())} {what} vector(s) are not finite (e.g. {sample})")
        return problems

    def digest(self) -> str:
        """Identifies the vectors and ids: writing an identical artefact again is a no-op."""
        h = hashlib.sha256(self.model.encode())
        h.update(str(self.gamma).encode())
        for part in (self.entities, self.relations, self.inverses):
            if part is not None:
                h.update(np.ascontiguousarray(part).tobytes())
        h.update("\n".join(self.entity_ids + self.relation_names).encode("utf-8"))
        return h.hexdigest()[:20]

    def with_entities(
        self, entity_ids: list[str], entities: F32, entity_keys: list[str] | None = None
    ) -> ServingArtifact:
        """The same relations and settings over another entity table (fold-in, cold start)."""
        return replace(self, entity_ids=entity_ids, entities=entities, entity_keys=entity_keys)


def artifact_from_tables(
    model: str,
    gamma: float,
    reciprocal: bool,
    entity_ids: list[str],
    entities: F32,
    relation_names: list[str],
    prepared_relations: F32,
    **extra: Any,
) -> ServingArtifact:
    """An artefact from plain tables; ``prepared_relations`` holds ``2R`` rows when reciprocal
    (inverses after the relations)."""
    spec = model_spec(model)
    r = len(relation_names)
    return ServingArtifact(
        model=spec.name,
        dim=int(entities.shape[1]),
        gamma=float(gamma),
        capabilities=spec.capabilities,
        reciprocal=reciprocal,
        entity_ids=entity_ids,
        entities=entities,
        relation_names=relation_names,
        relations=prepared_relations[:r],
        inverses=prepared_relations[r : 2 * r] if reciprocal else None,
        **extra,
    )
