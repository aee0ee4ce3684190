"""Which relation a question asks about: the question, its entity replaced by a placeholder,
against paraphrases of every relation in both directions (sentence-embedding cosine)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from mmkg.platform.encoders import Encoder
from mmkg.platform.qa.verbalise import FORWARD, INVERSE, paraphrases, relation_words

F32 = npt.NDArray[np.float32]
SIDES = (FORWARD, INVERSE)


class RelationDetector:
    def __init__(self, encoder: Encoder, relation_names: Sequence[str]) -> None:
        self.encoder = encoder
        self.relation_names = list(relation_names)
        self.words = [relation_words(n) for n in self.relation_names]
        texts: list[str] = []
        starts: list[int] = []
        for w in self.words:
            for side in SIDES:
                starts.append(len(texts))
                texts.extend(paraphrases(w, side))
        self.paraphrase_count = len(texts)
        self._starts = np.asarray(starts, dtype=np.int64)
        self._vectors = encoder.encode_texts(texts) if texts else np.zeros((0, encoder.dim))

    def similarities(self, texts: Sequence[str]) -> F32:
        """(len(texts), relations, 2): the best cosine of each text with each relation's
        paraphrases, asking for the tail (``[..., 0]``) or for the head (``[..., 1]``)."""
        if not texts or not self.relation_names:
            return np.zeros((len(texts), len(self.relation_names), 2), dtype=np.float32)
        q = self.encoder.encode_texts(list(texts))
        sims = q @ self._vectors.T
        best = np.maximum.reduceat(sims, self._starts, axis=1)
        return best.reshape(len(texts), len(self.relation_names), 2).astype(np.float32)
