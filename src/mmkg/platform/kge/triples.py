"""The neutral hand-off from a data source to training: integer triples and their id maps.

The graph export converts into it (:meth:`mmkg.platform.export.TripleExport.to_triple_set`), and
so can any other source; the KGE package never imports the database layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mmkg.errors import DataError

IntArray = npt.NDArray[np.int64]


@dataclass
class TripleSet:
    """``triples[i] = (head, relation, tail)`` as indices into ``entity_ids`` / ``relation_names``.

    ``entity_keys`` and ``relation_keys`` (optional, aligned with the id lists) are opaque keys of
    the records the ids came from — Neo4j element ids for an export — carried through training
    to the serving artefact so that write-back needs no second lookup by id.
    """

    triples: IntArray
    entity_ids: list[str]
    relation_names: list[str]
    entity_keys: list[str] | None = None
    relation_keys: list[str] | None = None

    def __post_init__(self) -> None:
        self.triples = np.asarray(self.triples, dtype=np.int64).reshape(-1, 3)
        if len(self.triples):
            if self.triples.min() < 0:
                raise DataError("triple indices must be non-negative")
            if max(self.triples[:, 0].max(), self.triples[:, 2].max()) >= len(self.entity_ids):
                raise DataError("a triple names an entity index outside entity_ids")
            if self.triples[:, 1].max() >= len(self.relation_names):
                raise DataError("a triple names a relation index outside relation_names")
        if self.entity_keys is not None and len(self.entity_keys) != len(self.entity_ids):
            raise DataError("entity_keys must align with entity_ids")
        if self.relation_keys is not None and len(self.relation_keys) != len(self.relation_names):
            raise DataError("relation_keys must align with relation_names")

    @property
    def num_entities(self) -> int:
        return len(self.entity_ids)

    @property
    def num_relations(self) -> int:
        return len(self.relation_names)

    def __len__(self) -> int:
        return len(self.triples)
