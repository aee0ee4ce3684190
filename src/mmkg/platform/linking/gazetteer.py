"""The gazetteer: every name and alias of the graph's entities, found in text by token n-grams.

Aliases and text are tokenised alike (words and single punctuation marks, case-folded), so
"Texas, United States" matches however it is spaced. A match is a run of tokens whose joined
form is a key; the longest alias starting with each token bounds the n-grams tried there, so
finding costs a few dictionary probes per token however many aliases there are. Postings are
flat numpy arrays (entity index, whether the alias is the entity's name), which keeps the
table near 100 bytes per alias: the per-million figure is in bench/results/linking.json.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
# Longer "aliases" are titles and sentences, not names.
MAX_TOKENS = 12


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """``(case-folded token, start, end)`` for each word or punctuation mark."""
    return [(m.group().casefold(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def alias_key(alias: str) -> str:
    return " ".join(t for t, _, _ in tokenize(alias))


@dataclass(frozen=True)
class Match:
    start: int  # character offsets in the text
    end: int
    key: str
    postings: slice  # into Gazetteer.entities / Gazetteer.is_name


class Gazetteer:
    """Alias keys → the entities they name; built once per linker from the graph's text."""

    def __init__(self, pairs: Iterable[tuple[str, int, bool]], stop_words: frozenset[str]):
        """``pairs``: ``(alias, entity index, alias is the entity's name)``."""
        table: dict[str, dict[int, bool]] = {}
        for alias, entity, is_name in pairs:
            key = alias_key(alias)
            if not key or len(key) < 2 or key.count(" ") >= MAX_TOKENS:
                continue
            slot = table.setdefault(key, {})
            slot[entity] = slot.get(entity, False) or is_name
        self.stop_words = stop_words
        self.keys: dict[str, int] = {}
        self.longest: dict[str, int] = {}  # first token → most tokens of an alias it starts
        offsets = [0]
        entities: list[int] = []
        names: list[bool] = []
        for i, (key, slot) in enumerate(table.items()):
            self.keys[key] = i
            entities.extend(slot)
            names.extend(slot.values())
            offsets.append(len(entities))
            first, n = key.split(" ", 1)[0], key.count(" ") + 1
            if n > self.longest.get(first, 0):
                self.longest[first] = n
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.entities = np.asarray(entities, dtype=np.int32)
        self.is_name = np.asarray(names, dtype=bool)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def postings(self) -> int:
        return int(self.entities.shape[0])

    def lookup(self, surface: str) -> slice | None:
        slot = self.keys.get(alias_key(surface))
        return None if slot is None else self._slice(slot)

    def _slice(self, slot: int) -> slice:
        return slice(int(self.offsets[slot]), int(self.offsets[slot + 1]))

    def find(self, text: str) -> list[Match]:
        """Every alias occurrence in ``text`` (overlapping ones too: scoring decides)."""
        tokens = tokenize(text)
        out: list[Match] = []
        for i, (tok, start, _) in enumerate(tokens):
            longest = self.longest.get(tok)
            if longest is None or not tok[0].isalnum():
                continue
            for n in range(min(longest, len(tokens) - i), 0, -1):
                key = tok if n == 1 else " ".join(t for t, _, _ in tokens[i : i + n])
                slot = self.keys.get(key)
                if slot is None:
                    continue
                end = tokens[i + n - 1][2]
                # A single-token alias that is an everyday word matches only where the text
                # capitalises it ("US" the country, not "us").
                if n == 1 and tok in self.stop_words and text[start:end].islower():
                    continue
                out.append(Match(start, end, key, self._slice(slot)))
        return out

    def nbytes(self) -> int:
        """Approximate memory of the table: keys, dict slots and postings."""
        import sys

        keys = sum(sys.getsizeof(k) for k in self.keys) + sys.getsizeof(self.keys)
        longest = sys.getsizeof(self.longest)
        arrays = self.offsets.nbytes + self.entities.nbytes + self.is_name.nbytes
        return int(keys + longest + arrays + 36 * len(self.keys))  # + the int values
