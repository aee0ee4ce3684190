"""Training data: integer triples with id maps, from a TSV folder or from a :class:`TripleSet`
(which the graph export converts into); nothing here imports the database layer."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkg.errors import DataError
from mmkg.platform import atomic
from mmkg.platform.kge.features import Modality
from mmkg.platform.kge.triples import TripleSet
from mmkg.platform.readers.lines import Reject
from mmkg.platform.readers.triples import TripleOrder, read_triples

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
SPLITS = ("train", "valid", "test")
_MAX_REPORTED = 5


@dataclass
class KGDataset:
    """Triples ``[n, 3]`` (head, relation, tail) per split, over one entity/relation numbering."""

    entity_ids: list[str]
    relation_names: list[str]
    train: IntArray
    valid: IntArray
    test: IntArray
    source: str
    notes: list[str] = field(default_factory=list)
    order: str = "hrt"
    # Triples per split that name an entity or relation outside the id maps (eval --data).
    unknown: dict[str, int] = field(default_factory=dict)
    # Element ids of the graph's nodes, aligned with the id lists, when the data came from it.
    entity_keys: list[str] | None = None
    relation_keys: list[str] | None = None
    # Per-entity features of each modality (fusion), aligned with entity_ids.
    features: list[Modality] = field(default_factory=list)

    @property
    def num_entities(self) -> int:
        return len(self.entity_ids)

    @property
    def num_relations(self) -> int:
        return len(self.relation_names)

    def split(self, name: str) -> IntArray:
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        arr: IntArray = getattr(self, name)
        return arr

    def known_triples(self) -> IntArray:
        """Every true triple (train, valid and test): what filtered ranking removes."""
        return np.concatenate([self.train, self.valid, self.test]).astype(np.int64, copy=False)

    def seen_entities(self) -> npt.NDArray[np.bool_]:
        """Entities with at least one training triple."""
        seen = np.zeros(self.num_entities, dtype=bool)
        seen[self.train[:, 0]] = True
        seen[self.train[:, 2]] = True
        return seen

    def unseen_rows(self, name: str) -> npt.NDArray[np.bool_]:
        """Triples of a split that mention an entity without training triples."""
        triples = self.split(name)
        seen = self.seen_entities()
        return ~seen[triples[:, 0]] | ~seen[triples[:, 2]]

    def unseen(self, name: str) -> dict[str, int]:
        """How many triples of a split mention an entity or relation absent from training."""
        triples = self.split(name)
        seen_e = self.seen_entities()
        seen_r = np.zeros(self.num_relations, dtype=bool)
        seen_r[self.train[:, 1]] = True
        bad_e = self.unseen_rows(name)
        bad_r = ~seen_r[triples[:, 1]]
        return {
            "triples_with_unseen_entity": int(bad_e.sum()),
            "triples_with_unseen_relation": int(bad_r.sum()),
            "unseen_entities": int(
                np.setdiff1d(np.union1d(triples[:, 0], triples[:, 2]), np.flatnonzero(seen_e)).size
            ),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "entities": self.num_entities,
            "relations": self.num_relations,
            **{name: len(self.split(name)) for name in SPLITS},
            "order": self.order,
            "notes": self.notes,
            "features": {m.name: m.describe() for m in self.features},
        }

    def check_trainable(self) -> None:
        """Refuse data nothing can be learned from; warn about degenerate data."""
        if len(self.train) == 0:
            raise DataError(f"{self.source}: the training split has no triples")
        if self.num_entities < 2:
            raise DataError(f"{self.source}: link prediction needs at least 2 entities")
        if self.num_relations == 1:
            note = (
                f"{self.source}: only one relation ({self.relation_names[0]!r}); relation "
                "vectors carry no information and models reduce to entity similarity"
            )
            log.warning(note)
            self.notes.append(note)


def _read_split(path: Path, order: TripleOrder) -> list[tuple[str, str, str]]:
    triples: list[tuple[str, str, str]] = []
    rejects: list[Reject] = []
    for item in read_triples(path, "tsv", order):
        if isinstance(item, Reject):
            rejects.append(item)
        else:
            triples.append(item)
    if rejects:
        shown = "\n".join(f"  {r}" for r in rejects[:_MAX_REPORTED])
        more = (
            f"\n  … and {len(rejects) - _MAX_REPORTED} more" if len(rejects) > _MAX_REPORTED else ""
        )
        raise DataError(f"{len(rejects)} malformed line(s) in {path}:\n{shown}{more}")
    return triples


def _index(values: set[str]) -> dict[str, int]:
    return {v: i for i, v in enumerate(sorted(values))}


def load_folder(folder: Path, order: TripleOrder = "hrt") -> KGDataset:
    """Read ``train.txt``, ``valid.txt`` and ``test.txt`` (tab-separated) from ``folder``.

    Entities and relations are numbered in sorted order over all three splits, so that an
    entity seen only in valid or test still gets a (never trained) vector and is ranked
    honestly rather than dropped.
    """
    if not folder.is_dir():
        raise DataError(f"dataset folder {folder} does not exist")
    raw: dict[str, list[tuple[str, str, str]]] = {}
    for name in SPLITS:
        path = folder / f"{name}.txt"
        if not path.is_file():
            if name == "train":
                raise DataError(f"{folder} has no train.txt (expected train/valid/test.txt)")
            log.warning("%s has no %s.txt; that split is empty", folder, name)
            raw[name] = []
            continue
        raw[name] = _read_split(path, order)
    entities = _index({x for ts in raw.values() for h, _, t in ts for x in (h, t)})
    relations = _index({r for ts in raw.values() for _, r, _ in ts})

    def encode(triples: list[tuple[str, str, str]]) -> IntArray:
        arr = np.empty((len(triples), 3), dtype=np.int64)
        for i, (h, r, t) in enumerate(triples):
            arr[i, 0], arr[i, 1], arr[i, 2] = entities[h], relations[r], entities[t]
        return arr

    data = KGDataset(
        entity_ids=list(entities),
        relation_names=list(relations),
        train=encode(raw["train"]),
        valid=encode(raw["valid"]),
        test=encode(raw["test"]),
        source=str(folder),
        order=order,
    )
    data.check_trainable()
    return data


def from_triple_set(
    source: TripleSet, valid_fraction: float = 0.05, test_fraction: float = 0.05, seed: int = 0
) -> KGDataset:
    """Split triples at random into train/valid/test (reproducible by ``seed``)."""
    if not 0 <= valid_fraction < 1 or not 0 <= test_fraction < 1:
        raise DataError("valid and test fractions must lie in [0, 1)")
    if valid_fraction + test_fraction >= 1:
        raise DataError("valid + test fractions must leave triples for training")
    triples = source.triples
    n = len(triples)
    order = np.random.default_rng(seed).permutation(n)
    n_valid, n_test = int(n * valid_fraction), int(n * test_fraction)
    data = KGDataset(
        entity_ids=list(source.entity_ids),
        relation_names=list(source.relation_names),
        valid=triples[order[:n_valid]],
        test=triples[order[n_valid : n_valid + n_test]],
        train=triples[order[n_valid + n_test :]],
        source="neo4j",
        notes=[
            f"random split {1 - valid_fraction - test_fraction:.2f}/{valid_fraction}/"
            f"{test_fraction}, seed {seed}"
        ],
        entity_keys=source.entity_keys,
        relation_keys=source.relation_keys,
    )
    data.check_trainable()
    return data


def write_id_maps(entity_ids: list[str], relation_names: list[str], folder: Path) -> None:
    """``entities.dict`` / ``relations.dict``: ``index<TAB>id`` as in the benchmark releases."""
    for name, values in (("entities.dict", entity_ids), ("relations.dict", relation_names)):
        atomic.write_text(folder / name, "".join(f"{i}\t{v}\n" for i, v in enumerate(values)))


def read_id_map(path: Path) -> list[str]:
    values: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2 or parts[0] != str(number - 1):
                raise DataError(f"{path}:{number}: expected '{number - 1}<TAB>id'")
            values.append(parts[1])
    return values


def encode_with(
    folder: Path,
    entity_ids: list[str],
    relation_names: list[str],
    order: TripleOrder = "hrt",
    extend: bool = False,
) -> tuple[dict[str, IntArray], dict[str, int]]:
    """Read a dataset folder's splits with a trained run's id maps (for ``mmkg eval --data``).

    Triples that name an entity or relation the run does not know cannot be scored; they are
    counted and reported, not silently dropped. With ``extend``, entities the run does not
    know are appended to ``entity_ids`` instead (a fused run places them from features).
    """
    ents = {e: i for i, e in enumerate(entity_ids)}
    if extend:
        for name in SPLITS:
            path = folder / f"{name}.txt"
            for h, _, t in _read_split(path, order) if path.is_file() else []:
                for e in (h, t):
                    if e not in ents:
                        ents[e] = len(entity_ids)
                        entity_ids.append(e)
    rels = {r: i for i, r in enumerate(relation_names)}
    out: dict[str, IntArray] = {}
    unknown_counts: dict[str, int] = {}
    for name in SPLITS:
        path = folder / f"{name}.txt"
        if not path.is_file():
            out[name] = np.empty((0, 3), dtype=np.int64)
            unknown_counts[name] = 0
            continue
        rows = []
        unknown = 0
        for h, r, t in _read_split(path, order):
            if h in ents and t in ents and r in rels:
                rows.append((ents[h], rels[r], ents[t]))
            else:
                unknown += 1
        if unknown:
            log.warning(
                "%s: %d triple(s) name entities or relations the run does not know", path, unknown
            )
        out[name] = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
        unknown_counts[name] = unknown
    return out, unknown_counts
