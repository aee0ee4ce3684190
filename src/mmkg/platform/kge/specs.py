"""Model specifications: what each model is, can do and defaults to, without importing torch.

A training configuration is validated against these (``mmkg train --help``, a worker checking a
payload, a config file) before any tensor library is loaded. The interactions that implement
the formulas live in :mod:`mmkg.platform.kge.interactions` and are looked up by the spec's
``interaction`` name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from mmkg.platform.registry import Registry

ScoreKind = Literal["distance", "inner_product"]
Distance = Literal["l1", "l2", "modulus"]


@dataclass(frozen=True)
class Capabilities:
    """How a scoring function works, as named flags (never one adjective for two ideas).

    * ``score``: ``distance`` scores are ``gamma - dist(q, c)`` (nearest candidates win);
      ``inner_product`` scores are ``<q, c>`` (largest inner product wins). The server picks
      its index and its similarity by this flag.
    * ``distance``: which distance, for distance scores: ``l1``, ``l2`` or ``modulus`` (the sum
      of complex moduli of RotatE).
    * ``complex``: vectors hold real parts in their first half, imaginary parts in the second.
    * ``matmul_all``: scoring a query against every entity is one matrix product, so training
      against all entities at once (1vsAll, KvsAll) is affordable.

    Whether relations are reciprocal (head queries answered through inverse relations) is a
    property of a trained run, recorded with it; it is not a property of the model.
    """

    score: ScoreKind
    distance: Distance | None
    complex: bool
    matmul_all: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    interaction: str
    summary: str
    capabilities: Capabilities
    interaction_kwargs: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def complex(self) -> bool:
        return self.capabilities.complex

    def relation_dim(self, dim: int) -> int:
        """Width of a stored relation vector (RotatE stores one phase per complex dimension)."""
        return dim // 2 if self.interaction == "rotate" else dim


# Defaults follow DGL-KE's published settings for sLCWA models and Lacroix et al. (2018)
# for the bilinear ones (1-vs-all with reciprocal relations and N3), scaled to what a
# laptop trains in minutes; the README lists them and the quality table the tuned ones.
_SLCWA: dict[str, Any] = {
    "training": "slcwa",
    "loss": "logistic",
    "adversarial_temperature": 1.0,
    "negatives": 256,
    "neg_chunk_size": 256,
    "batch_size": 1024,
    "optimizer": "adagrad",
}
_ONE_VS_ALL: dict[str, Any] = {
    "training": "1vsall",
    "loss": "ce",
    "reciprocal": True,
    "batch_size": 512,
    "optimizer": "adagrad",
    "lr": 0.1,
    "regularizer": "n3",
    "reg_weight": 0.05,
    "init": "normal",
    "init_scale": 1e-3,
    "eval_every": 5,
}

MODELS: Registry[ModelSpec] = Registry("model")
for _spec in (
    ModelSpec(
        "transe_l1",
        "transe",
        "TransE with the L1 distance: h + r ≈ t",
        Capabilities("distance", "l1", complex=False, matmul_all=False),
        {"p": 1},
        {**_SLCWA, "dim": 400, "gamma": 12.0, "lr": 0.25},
    ),
    ModelSpec(
        "transe_l2",
        "transe",
        "TransE with the L2 distance: h + r ≈ t",
        Capabilities("distance", "l2", complex=False, matmul_all=True),
        {"p": 2},
        {**_SLCWA, "dim": 400, "gamma": 12.0, "lr": 0.25},
    ),
    ModelSpec(
        "distmult",
        "distmult",
        "DistMult: <h, r, t>, symmetric relations only",
        Capabilities("inner_product", None, complex=False, matmul_all=True),
        {},
        {**_ONE_VS_ALL, "dim": 400},
    ),
    ModelSpec(
        "complex",
        "complex",
        "ComplEx: Re<h, r, conj t>, any relation pattern but composition",
        Capabilities("inner_product", None, complex=True, matmul_all=True),
        {},
        {**_ONE_VS_ALL, "dim": 400},
    ),
    ModelSpec(
        "rotate",
        "rotate",
        "RotatE: t ≈ h ∘ r with |r| = 1, symmetry, inversion and composition",
        Capabilities("distance", "modulus", complex=True, matmul_all=False),
        {},
        {**_SLCWA, "dim": 400, "gamma": 6.0, "lr": 0.05},
    ),
    ModelSpec(
        "rotate_l2",
        "rotate",
        "RotatE scored by the L2 norm of h ∘ r - t, as PyKEEN's RotatE",
        Capabilities("distance", "l2", complex=True, matmul_all=True),
        {"norm": "l2"},
        # PyKEEN's NSSA margin for RotatE is 9 on this distance (its documentation).
        {**_SLCWA, "dim": 400, "gamma": 9.0, "lr": 0.05},
    ),
):
    MODELS.add(
        _spec.name,
        _spec,
        _spec.summary,
        aliases=("transe",) if _spec.name == "transe_l2" else (),
    )


def model_spec(name: str) -> ModelSpec:
    """The spec registered as ``name`` (or an alias such as ``transe``).

    Raises:
        ConfigError: for an unknown name, listing the registered ones.
    """
    return MODELS.get(name)
