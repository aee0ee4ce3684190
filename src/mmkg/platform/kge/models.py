"""The model registry and :class:`KGEModel`: representations plus one interaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from mmkg.errors import ConfigError
from mmkg.platform.kge.interactions import ComplEx, DistMult, Interaction, RotatE, TransE
from mmkg.platform.kge.optim import make_optimizer
from mmkg.platform.kge.representations import EmbeddingTable, Representation

if TYPE_CHECKING:
    from mmkg.platform.kge.config import TrainConfig


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[[int, float], Interaction]
    complex: bool
    bilinear: bool
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)


# Defaults follow DGL-KE's published settings for sLCWA models and Lacroix et al. (2018)
# for the bilinear ones (1-vs-all with reciprocal relations and N3), scaled to what a
# laptop trains in minutes; the README lists them and the quality table the tuned ones.
_SLCWA = {
    "training": "slcwa",
    "loss": "logistic",
    "adversarial_temperature": 1.0,
    "negatives": 256,
    "neg_chunk_size": 256,
    "batch_size": 1024,
    "optimizer": "adagrad",
}
_ONE_VS_ALL = {
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

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "transe_l1",
            lambda dim, gamma: TransE(dim, gamma, p=1),
            complex=False,
            bilinear=False,
            summary="TransE with the L1 distance: h + r ≈ t",
            defaults={**_SLCWA, "dim": 400, "gamma": 12.0, "lr": 0.25},
        ),
        ModelSpec(
            "transe_l2",
            lambda dim, gamma: TransE(dim, gamma, p=2),
            complex=False,
            bilinear=True,
            summary="TransE with the L2 distance: h + r ≈ t",
            defaults={**_SLCWA, "dim": 400, "gamma": 12.0, "lr": 0.25},
        ),
        ModelSpec(
            "distmult",
            DistMult,
            complex=False,
            bilinear=True,
            summary="DistMult: <h, r, t>, symmetric relations only",
            defaults={**_ONE_VS_ALL, "dim": 400},
        ),
        ModelSpec(
            "complex",
            ComplEx,
            complex=True,
            bilinear=True,
            summary="ComplEx: Re<h, r, conj t>, any relation pattern but composition",
            defaults={**_ONE_VS_ALL, "dim": 400},
        ),
        ModelSpec(
            "rotate",
            RotatE,
            complex=True,
            bilinear=False,
            summary="RotatE: t ≈ h ∘ r with |r| = 1, symmetry, inversion and composition",
            defaults={**_SLCWA, "dim": 400, "gamma": 6.0, "lr": 0.05},
        ),
    )
}
ALIASES = {"transe": "transe_l2"}


def model_spec(name: str) -> ModelSpec:
    key = ALIASES.get(name.lower(), name.lower())
    try:
        return MODELS[key]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}"
        ) from None


class KGEModel:
    """Entity and relation representations scored by one interaction.

    With ``reciprocal`` the relation table holds ``2R`` rows and head queries ``(?, r, t)``
    are answered as tail queries ``(t, r⁻¹, ?)``.
    """

    def __init__(
        self,
        interaction: Interaction,
        entities: Representation,
        relations: Representation,
        num_relations: int,
        reciprocal: bool = False,
    ) -> None:
        self.interaction = interaction
        self.entities = entities
        self.relations = relations
        self.num_relations = num_relations
        self.reciprocal = reciprocal

    @property
    def num_entities(self) -> int:
        return self.entities.count

    def _rel(self, index: Tensor) -> Tensor:
        return self.interaction.prepare_relation(self.relations.lookup(index))

    @torch.no_grad()
    def score_hrt(self, hrt: Tensor) -> Tensor:
        """Scores of triples ``[B, 3]``."""
        ent = self.entities.lookup
        return self.interaction.score(ent(hrt[:, 0]), self._rel(hrt[:, 1]), ent(hrt[:, 2]))

    @torch.no_grad()
    def score_t(self, h: Tensor, r: Tensor) -> Tensor:
        """Scores ``[B, N]`` of every entity as the tail of ``(h, r, ?)``."""
        every = self.entities.all()
        return self.interaction.score_tails(self.entities.lookup(h), self._rel(r), every)

    @torch.no_grad()
    def score_h(self, r: Tensor, t: Tensor) -> Tensor:
        """Scores ``[B, N]`` of every entity as the head of ``(?, r, t)``."""
        if self.reciprocal:
            return self.score_t(t, r + self.num_relations)
        every = self.entities.all()
        return self.interaction.score_heads(every, self._rel(r), self.entities.lookup(t))


def build_model(
    config: TrainConfig,
    num_entities: int,
    num_relations: int,
    generator: torch.Generator,
    shared: dict[str, Any] | None = None,
) -> KGEModel:
    """A freshly initialised model, or (``shared``) one over existing tables."""
    spec = model_spec(config.model)
    interaction = spec.build(config.dim, config.gamma)
    scale = config.resolved_init_scale
    device = torch.device(config.device)
    entities = EmbeddingTable(
        num_entities,
        config.dim,
        make_optimizer(config.optimizer, config.lr),
        init=config.init,
        scale=scale,
        generator=generator,
        device=device,
        shared=shared["entities"] if shared else None,
        unit_norm=config.entity_norm,
    )
    rel_rows = num_relations * (2 if config.reciprocal else 1)
    rel_init = config.init
    if isinstance(interaction, RotatE):
        # Phases spread over the whole circle: raw values span ±emb_init.
        interaction.emb_init = scale
        rel_init = "uniform"
    relations = EmbeddingTable(
        rel_rows,
        interaction.relation_dim(),
        make_optimizer(config.optimizer, config.lr),
        init=rel_init,
        scale=scale,
        generator=generator,
        device=device,
        shared=shared["relations"] if shared else None,
    )
    return KGEModel(interaction, entities, relations, num_relations, config.reciprocal)
