"""The disambiguator's learned parts: two logistic regressions, a type table, a NIL threshold.

Stage 1 scores each (mention, candidate) from local signals (alias prior, context, type,
search scores); stage 2 adds graph coherence computed from the other mentions' stage-1
scores, so the document is decided jointly. The NER-label × entity-type table is estimated
from the labelled set's correct links (smoothed PMI). The threshold below which a mention is
NIL is the one that maximises F1 on the validation part. A model is a JSON file; the package
ships one trained on the FB15k-237 set of bench/linking.py, and ``mmkg link train`` fits one
on any labelled set.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mmkg.errors import ConfigError

COHERENCE_FEATURES = ("coherence", "coherence_max", "has_others", "coherence_margin")
# Signals by name, for ablations: which features each one owns.
SIGNALS: dict[str, tuple[str, ...]] = {
    "prior": (
        "is_name",
        "alias_match",
        "log_degree",
        "degree_share",
        "prior_top",
        "log_ambiguity",
        "case_exact",
        "capitalised",
        "log_tokens",
        "degree_margin",
    ),
    "context": ("context_sim", "context_top", "has_vector", "context_margin"),
    "type": ("type_pmi", "ner"),
    "search": ("fulltext_score", "vector_sim"),
    "coherence": COHERENCE_FEATURES,
}
# The local (stage 1) features, in the column order of the rows candidates.py builds.
LOCAL_FEATURES = tuple(f for name, fs in SIGNALS.items() if name != "coherence" for f in fs)
_SMOOTH = 1.0


@dataclass
class Logistic:
    names: list[str]
    coef: list[float]
    intercept: float
    mean: list[float]
    scale: list[float]

    def predict(self, x: np.ndarray[Any, Any], names: Sequence[str]) -> np.ndarray[Any, Any]:
        if x.shape[0] == 0:
            return np.zeros(0)
        cols = [list(names).index(n) for n in self.names]
        z = (x[:, cols] - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = z @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30))))

    @classmethod
    def fit(
        cls,
        x: np.ndarray[Any, Any],
        y: np.ndarray[Any, Any],
        names: Sequence[str],
        use: Sequence[str],
        c: float = 1.0,
    ) -> Logistic:
        from sklearn.linear_model import LogisticRegression

        if len(set(y.tolist())) < 2:
            raise ConfigError(
                "the labelled set gives the linker no right and wrong candidates to learn "
                "from (every candidate has the same label): label more mentions"
            )
        cols = [list(names).index(n) for n in use]
        sub = x[:, cols]
        mean = sub.mean(axis=0)
        scale = sub.std(axis=0)
        scale[scale < 1e-9] = 1.0
        lr = LogisticRegression(C=c, max_iter=2000)
        lr.fit((sub - mean) / scale, y)
        return cls(
            list(use),
            [float(v) for v in lr.coef_[0]],
            float(lr.intercept_[0]),
            [float(v) for v in mean],
            [float(v) for v in scale],
        )


@dataclass
class TypeTable:
    """Smoothed PMI of (NER label, entity type) among correct links."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def fit(cls, pairs: Sequence[tuple[str, str]]) -> TypeTable:
        table: dict[str, dict[str, int]] = {}
        for label, etype in pairs:
            row = table.setdefault(label, {})
            row[etype] = row.get(etype, 0) + 1
        return cls(table)

    def _type_totals(self) -> Counter[str]:
        totals = Counter[str]()
        for r in self.counts.values():
            totals.update(r)
        return totals

    def pmi(self, label: str, etype: str, totals: Counter[str] | None = None) -> float:
        row = self.counts.get(label)
        if not row:
            return 0.0
        types = self._type_totals() if totals is None else totals
        k = len(types) + 1
        p_given = (row.get(etype, 0) + _SMOOTH) / (sum(row.values()) + _SMOOTH * k)
        p_type = (types.get(etype, 0) + _SMOOTH) / (sum(types.values()) + _SMOOTH * k)
        return math.log(p_given / p_type)

    def compiled(self) -> dict[tuple[str, str], float]:
        """Every (label, type) seen, scored once: what the feature rows look up."""
        totals = self._type_totals()
        return {(a, t): self.pmi(a, t, totals) for a in self.counts for t in totals}


@dataclass
class LinkerModel:
    local: Logistic
    joint: Logistic | None
    types: TypeTable
    threshold: float
    name: str = "mmkg-linker"
    trained_on: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:8]

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "local": asdict(self.local),
            "joint": asdict(self.joint) if self.joint else None,
            "types": self.types.counts,
            "threshold": self.threshold,
            "trained_on": self.trained_on,
            "validation": self.validation,
        }

    def save(self, path: Path) -> None:
        from mmkg.platform.atomic import write_text

        write_text(Path(path), json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> LinkerModel:
        try:
            return cls(
                local=Logistic(**data["local"]),
                joint=Logistic(**data["joint"]) if data.get("joint") else None,
                types=TypeTable({k: dict(v) for k, v in data.get("types", {}).items()}),
                threshold=float(data["threshold"]),
                name=str(data.get("name", "mmkg-linker")),
                trained_on=dict(data.get("trained_on", {})),
                validation=dict(data.get("validation", {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{where}: not a linker model ({type(e).__name__}: {e})") from e


DEFAULT_MODEL = "default_linker.json"


def load_model(path: Path | str | None = None) -> LinkerModel:
    """A linker model file, or the one the package ships (trained on FB15k-237's set)."""
    if path is None:
        text = resources.files("mmkg.platform.linking").joinpath(DEFAULT_MODEL).read_text("utf-8")
        return LinkerModel.from_dict(json.loads(text), f"mmkg/platform/linking/{DEFAULT_MODEL}")
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"linker model {p} does not exist (train one with `mmkg link train`)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{p}: not a linker model (not JSON: {e})") from e
    return LinkerModel.from_dict(data, str(p))
