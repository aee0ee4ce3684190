"""A seeded cold-start split: some entities are held out of training with all their triples.

Protocol (``mmkg cold-split``): a share of the entities (``fraction``, drawn with ``seed``) is
held out. Training keeps the training triples that mention none of them. A triple of any
split that joins exactly one held-out entity to an entity that still has training triples is
a *bridging* triple; they are shuffled, up to ``valid_max`` go to validation and up to
``test_max`` to test (0: all the rest), and test also keeps the original test triples of
entities seen in training, so an evaluation reports seen and unseen entities side by side.
Triples that join two held-out entities, or whose other entity lost all its training triples,
are dropped and counted. Everything is written in ``head<TAB>relation<TAB>tail`` order.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from mmkg.errors import DataError
from mmkg.platform import atomic
from mmkg.platform.kge.data import KGDataset, load_folder
from mmkg.platform.readers.triples import TripleOrder

log = logging.getLogger(__name__)


def cold_start_split(
    source: Path,
    out: Path,
    fraction: float = 0.1,
    seed: int = 0,
    valid_max: int = 1000,
    test_max: int = 0,
    order: TripleOrder = "hrt",
) -> dict[str, Any]:
    """Write the split of ``source`` into ``out``; returns its description (``split.json``)."""
    if not 0 < fraction < 1:
        raise DataError(f"--fraction must lie strictly between 0 and 1, got {fraction}")
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out} already holds files; choose a new folder")
    data = load_folder(source, order)
    rng = np.random.default_rng(seed)
    held = np.zeros(data.num_entities, dtype=bool)
    held[rng.choice(data.num_entities, round(fraction * data.num_entities), replace=False)] = True
    train = data.train[~held[data.train[:, 0]] & ~held[data.train[:, 2]]]
    seen = np.zeros(data.num_entities, dtype=bool)
    seen[train[:, 0]] = True
    seen[train[:, 2]] = True
    every = data.known_triples()
    h_held, t_held = held[every[:, 0]], held[every[:, 2]]
    one = h_held ^ t_held
    other_seen = np.where(h_held, seen[every[:, 2]], seen[every[:, 0]])
    bridging = np.unique(every[one & other_seen], axis=0)
    bridging = bridging[rng.permutation(len(bridging))]
    n_valid = min(valid_max, len(bridging) // 2)
    rest = bridging[n_valid:]
    test_bridging = rest if test_max <= 0 else rest[:test_max]
    test_seen = data.test[seen[data.test[:, 0]] & seen[data.test[:, 2]]]
    splits = {
        "train": train,
        "valid": bridging[:n_valid],
        "test": np.concatenate([test_bridging, test_seen]),
    }
    if len(splits["valid"]) == 0 or len(test_bridging) == 0:
        raise DataError(
            f"holding out {fraction:.0%} of {data.num_entities} entities left no triple that "
            "joins a held-out entity to a seen one; raise --fraction"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, triples in splits.items():
        _write(out / f"{name}.txt", data, triples)
    atomic.write_text(
        out / "heldout_entities.txt",
        "".join(f"{data.entity_ids[i]}\n" for i in np.flatnonzero(held)),
    )
    description = {
        "source": str(source),
        "fraction": fraction,
        "seed": seed,
        "entities": data.num_entities,
        "held_out_entities": int(held.sum()),
        "train": len(train),
        "valid_bridging": int(n_valid),
        "test_bridging": len(test_bridging),
        "test_seen": len(test_seen),
        "bridging_unused": len(rest) - len(test_bridging),
        "dropped_both_held_out": int((h_held & t_held).sum()),
        "dropped_other_entity_unseen": int((one & ~other_seen).sum()),
        "protocol": " ".join((__doc__ or "").split()),
    }
    atomic.write_json(out / "split.json", description)
    log.info("cold-start split of %s written to %s", source, out)
    return description


def _write(path: Path, data: KGDataset, triples: np.ndarray[Any, Any]) -> None:
    e, r = data.entity_ids, data.relation_names
    atomic.write_text(path, "".join(f"{e[h]}\t{r[rel]}\t{e[t]}\n" for h, rel, t in triples))
