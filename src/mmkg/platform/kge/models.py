""":class:`KGEModel`: representations plus one interaction, and how a config builds one.

Which models exist, what they can do and what they default to is in
:mod:`mmkg.platform.kge.specs` (no torch needed); the formulas are in
:mod:`mmkg.platform.kge.interactions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from mmkg.errors import ConfigError
from mmkg.platform.kge.artifact import FusionHead, ServingArtifact
from mmkg.platform.kge.features import Modality
from mmkg.platform.kge.interactions import Interaction, RotatE, build_interaction
from mmkg.platform.kge.optim import make_optimizer
from mmkg.platform.kge.representations import EmbeddingTable, Representation
from mmkg.platform.kge.specs import MODELS, ModelSpec, model_spec

if TYPE_CHECKING:
    from mmkg.platform.kge.config import TrainConfig

__all__ = ["MODELS", "KGEModel", "ModelSpec", "build_model", "model_spec"]


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
        spec: ModelSpec | None = None,
    ) -> None:
        self.interaction = interaction
        self.entities = entities
        self.relations = relations
        self.num_relations = num_relations
        self.reciprocal = reciprocal
        self.spec = spec

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

    @torch.no_grad()
    def prepared_relations(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Every relation row as the formula uses it (RotatE: cos and sin of the phases)."""
        rows = self.interaction.prepare_relation(self.relations.all())
        return np.ascontiguousarray(rows.detach().cpu().numpy(), dtype=np.float32)

    def to_artifact(
        self,
        config: TrainConfig,
        entity_ids: list[str],
        relation_names: list[str],
        metrics: dict[str, Any] | None = None,
        entity_keys: list[str] | None = None,
        relation_keys: list[str] | None = None,
        encoders: dict[str, str] | None = None,
    ) -> ServingArtifact:
        """What the server needs to answer for this model, built in memory."""
        spec = self.spec or model_spec(config.model)
        prepared = self.prepared_relations()
        r = self.num_relations
        return ServingArtifact(
            model=spec.name,
            dim=config.dim,
            gamma=float(config.gamma),
            capabilities=spec.capabilities,
            reciprocal=self.reciprocal,
            entity_ids=list(entity_ids),
            entities=self.entities.to_numpy(),
            relation_names=list(relation_names),
            relations=prepared[:r],
            inverses=prepared[r : 2 * r] if self.reciprocal else None,
            params=config.model_dump(mode="json"),
            metrics=dict(metrics or {}),
            entity_keys=entity_keys,
            relation_keys=relation_keys,
            encoders={**self._sources(), **(encoders or {})},
            fusion=self.fusion_head(),
        )

    def _sources(self) -> dict[str, str]:
        sources = getattr(self.entities, "sources", None)
        return dict(sources()) if sources is not None else {}

    def fusion_head(self) -> FusionHead | None:
        """A fused model's projections and fusion (None for a structural table)."""
        head = getattr(self.entities, "head", None)
        return head() if head is not None else None


def build_model(
    config: TrainConfig,
    num_entities: int,
    num_relations: int,
    generator: torch.Generator,
    shared: dict[str, Any] | None = None,
    features: Sequence[Modality] = (),
    seen: npt.NDArray[np.bool_] | None = None,
) -> KGEModel:
    """A freshly initialised model, or (``shared``) one over existing tables.

    With ``features`` (and ``config.fusion``) entity vectors are fused from the structural
    table and each modality's projection; ``seen`` marks the entities with training triples
    (the others' structural rows are never trained and are masked).
    """
    spec = model_spec(config.model)
    interaction = build_interaction(spec, config.dim, config.gamma)
    scale = config.resolved_init_scale
    device = torch.device(config.device)
    entities: Representation = EmbeddingTable(
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
    if features or config.fusion != "none":
        check_fusion_inputs(config, features, num_entities)
        entities = _fused(config, entities, features, seen, generator, scale, device)
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
    return KGEModel(interaction, entities, relations, num_relations, config.reciprocal, spec)


def _fused(
    config: TrainConfig,
    structure: Representation,
    features: Sequence[Modality],
    seen: npt.NDArray[np.bool_] | None,
    generator: torch.Generator,
    scale: float,
    device: torch.device,
) -> Representation:
    from mmkg.platform.kge.fusion import FeatureBank, FeatureProjection, Fused

    assert isinstance(structure, EmbeddingTable)
    parts = [
        FeatureProjection(FeatureBank(m, device), config.dim, config.projection, scale, generator)
        for m in features
    ]
    if seen is None:
        seen = np.ones(structure.count, dtype=bool)
    return Fused(
        structure,
        parts,
        config.fusion,
        generator,
        seen,
        lr=config.dense_lr,
        structure_dropout=config.structure_dropout,
        align_weight=config.align_weight,
        align_temperature=config.align_temperature,
    )


def check_fusion_inputs(
    config: TrainConfig, features: Sequence[Modality], num_entities: int | None = None
) -> None:
    """Refuse fusion settings without features, features without fusion, and features that
    do not cover the model's entities (before anything is written)."""
    if config.fusion == "none" and not features:
        return
    if config.fusion == "none":
        raise ConfigError(
            f"features were given ({', '.join(m.name for m in features)}) but fusion is none; "
            "choose --fusion concat, gate or attention"
        )
    if not features:
        raise ConfigError(
            f"fusion {config.fusion} needs at least one modality: pass --text FILE, --numeric "
            "FILE or --features NAME=FILE (with --from-neo4j: --modalities text,image,numeric)"
        )
    names = [m.name for m in features]
    if len(set(names)) != len(names):
        raise ConfigError(f"modalities {names}: each may be given once")
    count = num_entities if num_entities is not None else len(features[0].mask)
    for modality in features:
        if len(modality.mask) != count:
            raise ConfigError(
                f"modality {modality.name!r} covers {len(modality.mask)} entities, the model "
                f"has {count}"
            )
