"""Entity vectors from features: a learned projection per modality, and their fusion with the
structural table.

:class:`FeatureProjection` maps one modality's frozen features into the model's space (a
representation of its own: ``text``, ``image``, ``video``, ``numeric``). :class:`Fused`
combines the structural vector with every projection an entity has by a named fusion
(:data:`FUSIONS`): ``concat``, ``gate`` (LiteralE) or ``attention`` (cross-modal: the weights
over an entity's modality vectors are computed from those vectors). A missing modality is
masked; an entity with no training triples has its structural vector masked too, so a
cold-start entity is served from its features alone. Dense parameters (projections, fusion)
are trained by Adam; the structural table keeps its sparse row-wise optimizer. An optional
InfoNCE term aligns each projection with the structural vectors of the same entities.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from mmkg.errors import ConfigError, DataError
from mmkg.platform.kge.artifact import FusionHead
from mmkg.platform.kge.features import Modality
from mmkg.platform.kge.optim import make_optimizer
from mmkg.platform.kge.representations import EmbeddingTable, Representation
from mmkg.platform.registry import Registry

# Entities fused per chunk when every vector is computed (evaluation, export).
_CHUNK = 8192
# Entities of a step that take part in the alignment term (its cost is quadratic in them).
ALIGN_MAX = 512
# Width of the space in which cross-modal attention scores the modality vectors.
ATTENTION_DIM = 32


class FeatureBank:
    """One modality's frozen features, read by index (memory-mapped arrays stay on disk)."""

    def __init__(self, modality: Modality, device: torch.device) -> None:
        self.name = modality.name
        self.source = modality.source
        self.modality = modality
        self.width = modality.width
        self.device = device
        self.mask = torch.from_numpy(np.ascontiguousarray(modality.mask)).to(device)

    def rows(self, index: Tensor) -> tuple[Tensor, Tensor]:
        x = self.modality.rows(index.detach().cpu().numpy())
        return torch.from_numpy(x).to(self.device), self.mask[index]


class Projection(nn.Module):
    """``linear`` or ``mlp`` (one hidden GELU layer) from a feature width to the model's."""

    def __init__(self, width: int, dim: int, kind: str, generator: torch.Generator) -> None:
        super().__init__()
        if kind == "linear":
            self.net: nn.Module = nn.Linear(width, dim)
        elif kind == "mlp":
            hidden = max(dim, min(2 * dim, 1024))
            self.net = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, dim))
        else:
            raise ConfigError(f"unknown projection {kind!r}; choose linear or mlp")
        with torch.no_grad():
            for p in self.parameters():
                if p.dim() == 2:
                    bound = math.sqrt(6.0 / (p.shape[0] + p.shape[1]))
                    p.uniform_(-bound, bound, generator=generator)
                else:
                    p.zero_()

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        return out


class FeatureProjection(Representation, nn.Module):
    """A modality's features through a learned projection; an entity without the modality
    gets the modality's learned "missing" vector (and its mask says so)."""

    def __init__(
        self,
        bank: FeatureBank,
        dim: int,
        kind: str,
        scale: float,
        generator: torch.Generator,
        lr: float = 1e-3,
    ) -> None:
        nn.Module.__init__(self)
        self.bank = bank
        self.kind = kind
        self.count = len(bank.mask)
        self.dim = dim
        self.project = Projection(bank.width, dim, kind, generator)
        # Projections start at the structural table's scale, so that neither dominates.
        self.out_scale = nn.Parameter(torch.tensor(float(scale) * math.sqrt(dim)))
        self.missing = nn.Parameter(torch.empty(dim).uniform_(-scale, scale, generator=generator))
        self.to(bank.device)
        self.optimizer: torch.optim.Optimizer | None = None
        self.lr = lr
        self._cache: Tensor | None = None

    def vectors(self, index: Tensor) -> tuple[Tensor, Tensor]:
        """Projected features ``[B, dim]`` (the missing vector where absent) and the mask."""
        x, mask = self.bank.rows(index)
        out = self.project(x)
        out = out / out.norm(dim=-1, keepdim=True).clamp_min(1e-6) * self.out_scale
        return torch.where(mask[:, None], out, self.missing.expand_as(out)), mask

    # --- as a representation of its own --------------------------------------------------
    def gather(self, index: Tensor) -> Tensor:
        self._cache = None
        return self.vectors(index)[0]

    def step(self, index: Tensor, rows: Tensor) -> None:
        if self.optimizer is None:
            self.optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def all(self) -> Tensor:
        if self._cache is None:
            with torch.no_grad():
                every = torch.arange(self.count, device=self.bank.device)
                self._cache = torch.cat(
                    [
                        self.vectors(every[lo : lo + _CHUNK])[0]
                        for lo in range(0, self.count, _CHUNK)
                    ]
                )
        return self._cache

    def state(self) -> dict[str, Any]:
        return {
            "params": {k: v.detach().cpu().clone() for k, v in self.state_dict().items()},
            "opt": copy.deepcopy(self.optimizer.state_dict()) if self.optimizer else None,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["params"])
        if state.get("opt") is not None:
            if self.optimizer is None:
                self.optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
            self.optimizer.load_state_dict(state["opt"])
        self._cache = None

    def weights(self) -> dict[str, Tensor]:
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def set_weights(self, weights: dict[str, Tensor]) -> None:
        self.load_state_dict(weights)
        self._cache = None


# --- fusions ---------------------------------------------------------------------------------
class Fusion(nn.Module):
    """Combines ``tokens [B, M, d]`` (structure first, then each modality) under ``mask
    [B, M]`` into one vector per entity; ``weights`` are each token's share (for reports)."""

    def forward(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class ConcatFusion(Fusion):
    """A linear map of the concatenated tokens and their presence bits."""

    def __init__(self, dim: int, tokens: int, generator: torch.Generator) -> None:
        super().__init__()
        self.out = nn.Linear(tokens * dim + tokens, dim)
        _xavier(self.out, generator)

    def forward(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        b, m, d = tokens.shape
        out = self.out(torch.cat([tokens.reshape(b, m * d), mask.float()], 1))
        return out, mask.float() / mask.float().sum(1, keepdim=True)


class GateFusion(Fusion):
    """LiteralE's gate: ``z ⊙ e + (1 − z) ⊙ tanh(W [e; l])`` with ``z = σ(W_z [e; l])``,
    where ``e`` is the structural vector and ``l`` the masked modality vectors with their
    presence bits."""

    def __init__(self, dim: int, tokens: int, generator: torch.Generator) -> None:
        super().__init__()
        width = tokens * dim + tokens
        self.gate = nn.Linear(width, dim)
        self.mix = nn.Linear(width, dim)
        _xavier(self.gate, generator)
        _xavier(self.mix, generator)

    def forward(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        b, m, d = tokens.shape
        structure = tokens[:, 0]
        inputs = torch.cat([(tokens * mask[..., None]).reshape(b, m * d), mask.float()], 1)
        z = torch.sigmoid(self.gate(inputs))
        # Rescaled to the structural vector's size: tanh alone would cap every coordinate at 1.
        scale = structure.abs().mean(1, keepdim=True).clamp_min(1e-6)
        h = torch.tanh(self.mix(inputs)) * scale
        out = z * structure + (1 - z) * h
        share = z.mean(1, keepdim=True)
        rest = (
            (1 - share)
            * mask[:, 1:].float()
            / mask[:, 1:].float().sum(1, keepdim=True).clamp_min(1)
        )
        return out, torch.cat([share, rest], 1)


class AttentionFusion(Fusion):
    """Cross-modal attention: a query built from all of an entity's modality vectors scores
    each of them, so one modality re-weights the others; absent ones are masked out. The
    attended vector is added to the structural token (a residual connection)."""

    def __init__(self, dim: int, tokens: int, generator: torch.Generator) -> None:
        super().__init__()
        # Scores in a small space: the weights need a few directions, not the model's width,
        # and full-width maps would cost more than the scoring itself on a CPU.
        width = min(dim, ATTENTION_DIM)
        self.key = nn.Linear(dim, width, bias=False)
        self.query = nn.Linear(dim, width)
        self.kind = nn.Parameter(torch.zeros(tokens, dim))  # which modality a token is
        self.value_scale = nn.Parameter(torch.ones(tokens))
        _xavier(self.key, generator)
        _xavier(self.query, generator)

    def forward(self, tokens: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        m = mask.float()
        typed = tokens + self.kind
        pooled = (typed * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp_min(1)
        q = self.query(pooled)
        k = self.key(typed)
        logits = (k * q[:, None, :]).sum(-1) / math.sqrt(k.shape[-1])
        logits = logits.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(logits, dim=1)
        attended = (weights[..., None] * tokens * self.value_scale[:, None]).sum(1)
        # A residual connection on the structural token, as in a transformer block: an entity
        # keeps a vector of its own, so features that make neighbours alike (two glosses of
        # one word) cannot make them one point, while an entity without structure (cold
        # start) is placed by the attended features.
        return tokens[:, 0] + attended, weights


def _xavier(layer: nn.Linear, generator: torch.Generator) -> None:
    with torch.no_grad():
        bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))
        layer.weight.uniform_(-bound, bound, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()


FUSIONS: Registry[type[Fusion]] = Registry("fusion")
FUSIONS.add("concat", ConcatFusion, "a linear map of the concatenated modality vectors")
FUSIONS.add("gate", GateFusion, "LiteralE's gate of the structural vector by the modalities")
FUSIONS.add("attention", AttentionFusion, "cross-modal attention over the modality vectors")


class Fused(Representation, nn.Module):
    """The structural table and the modality projections, combined by a fusion."""

    def __init__(
        self,
        structure: EmbeddingTable,
        parts: list[FeatureProjection],
        fusion: str,
        generator: torch.Generator,
        seen: npt.NDArray[np.bool_],
        lr: float = 1e-3,
        structure_dropout: float = 0.0,
        align_weight: float = 0.0,
        align_temperature: float = 0.1,
    ) -> None:
        nn.Module.__init__(self)
        if not parts:
            raise ConfigError("fusion needs at least one modality besides the structure")
        self.structure = structure
        self.parts = nn.ModuleList(parts)
        self.projections: list[FeatureProjection] = list(parts)  # typed view of ``parts``
        self.count = structure.count
        self.dim = structure.dim
        self.fusion_name = fusion
        self.fusion = FUSIONS.get(fusion)(self.dim, 1 + len(parts), generator)
        device = structure.weight.device
        self.fusion.to(device)
        scale = float(structure.weight[: min(1024, self.count)].abs().mean())
        self.no_structure = nn.Parameter(
            torch.empty(self.dim).uniform_(-scale, scale, generator=generator).to(device)
        )
        self.seen = torch.from_numpy(np.ascontiguousarray(seen)).to(device)
        self.structure_dropout = structure_dropout
        self.align_weight = align_weight
        self.align_temperature = align_temperature
        self.generator = torch.Generator().manual_seed(int(generator.initial_seed()) + 17)
        self.optimizer = torch.optim.Adam(self.dense_parameters(), lr=lr)
        self._pending: Tensor | None = None
        self._aux: Tensor | None = None
        self._cache: Tensor | None = None
        self._shares: Tensor | None = None

    def dense_parameters(self) -> list[nn.Parameter]:
        return [*self.parts.parameters(), *self.fusion.parameters(), self.no_structure]

    @property
    def modalities(self) -> list[str]:
        return [p.bank.name for p in self.projections]

    def _fuse(self, index: Tensor, structure: Tensor, training: bool) -> tuple[Tensor, Tensor]:
        vectors, masks = [structure], [self.seen[index]]
        for part in self.projections:
            v, m = part.vectors(index)
            vectors.append(v)
            masks.append(m)
        tokens = torch.stack(vectors, 1)
        mask = torch.stack(masks, 1)
        if training and self.structure_dropout > 0:
            # Hide the structure of some entities that have features, so that the fusion
            # learns to place an entity from its features alone (cold start).
            drop = torch.rand(len(index), generator=self.generator) < self.structure_dropout
            drop = drop.to(mask.device) & mask[:, 1:].any(1)
            mask = mask.clone()
            mask[:, 0] &= ~drop
        # An entity with nothing at all keeps its (untrained) structural row.
        mask[:, 0] |= ~mask.any(1)
        # A hidden structural vector is replaced by a learned "no structure" vector, as an
        # absent modality is by its "missing" vector: no fusion ever reads the untrained row.
        tokens = torch.cat(
            [torch.where(mask[:, :1], tokens[:, 0], self.no_structure)[:, None], tokens[:, 1:]], 1
        )
        out, shares = self.fusion(tokens, mask)
        if training and self.align_weight > 0:
            self._aux = self._alignment(index, structure, vectors[1:], masks)
        return out, shares

    def _alignment(
        self, index: Tensor, structure: Tensor, projected: list[Tensor], masks: list[Tensor]
    ) -> Tensor:
        """InfoNCE with in-batch negatives: each modality's projection against the structural
        vectors (and the other modalities') of the same entities."""
        rows = torch.arange(len(index), device=structure.device)
        if len(rows) > ALIGN_MAX:
            rows = rows[torch.randperm(len(rows), generator=self.generator)[:ALIGN_MAX]]
        anchors = [structure.detach()[rows]] + [p[rows] for p in projected]
        present = [masks[0][rows]] + [m[rows] for m in masks[1:]]
        total = structure.new_zeros(())
        pairs = 0
        for i in range(1, len(anchors)):
            for j in range(i):
                both = present[i] & present[j]
                if int(both.sum()) < 2:
                    continue
                a = nn.functional.normalize(anchors[i][both], dim=1)
                b = nn.functional.normalize(anchors[j][both], dim=1)
                logits = a @ b.T / self.align_temperature
                target = torch.arange(len(a), device=a.device)
                total = total + nn.functional.cross_entropy(logits, target)
                pairs += 1
        return self.align_weight * total / max(pairs, 1)

    # --- the representation contract -----------------------------------------------------
    def gather(self, index: Tensor) -> Tensor:
        leaf = self.structure.gather(index)
        self._pending = leaf
        self._cache = None
        out, _ = self._fuse(index, leaf, training=True)
        return out

    def auxiliary_loss(self) -> Tensor | None:
        aux, self._aux = self._aux, None
        return aux

    def step(self, index: Tensor, rows: Tensor) -> None:
        if self._pending is not None:
            self.structure.step(index, self._pending)
            self._pending = None
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self._cache = None

    @torch.no_grad()
    def all(self) -> Tensor:
        if self._cache is None:
            every = torch.arange(self.count, device=self.seen.device)
            outs, shares = [], []
            for lo in range(0, self.count, _CHUNK):
                index = every[lo : lo + _CHUNK]
                out, share = self._fuse(index, self.structure.lookup(index), training=False)
                outs.append(out)
                shares.append(share)
            self._cache = torch.cat(outs)
            self._shares = torch.cat(shares)
        return self._cache

    def modality_shares(self) -> dict[str, float]:
        """Mean weight of the structure and of each modality over all entities."""
        self.all()
        assert self._shares is not None
        mean = self._shares.mean(0).tolist()
        return {
            name: round(v, 4) for name, v in zip(["structure", *self.modalities], mean, strict=True)
        }

    def state(self) -> dict[str, Any]:
        return {
            "structure": self.structure.state(),
            "dense": {k: v.detach().cpu().clone() for k, v in self.dense_state().items()},
            "opt": copy.deepcopy(self.optimizer.state_dict()),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.structure.load_state(state["structure"])
        self.load_dense(state["dense"])
        self.optimizer.load_state_dict(state["opt"])

    def dense_state(self) -> dict[str, Tensor]:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("structure")}

    def load_dense(self, dense: dict[str, Tensor]) -> None:
        expected = set(self.dense_state())
        if set(dense) != expected:
            missing, unexpected = sorted(expected - set(dense)), sorted(set(dense) - expected)
            raise DataError(
                f"fusion weights do not fit this model: missing {missing[:3]}, unexpected "
                f"{unexpected[:3]}"
            )
        self.load_state_dict(dense, strict=False)
        self._cache = None

    def weights(self) -> dict[str, Tensor]:
        out = {f"dense.{k}": v.detach().clone() for k, v in self.dense_state().items()}
        out["structure"] = self.structure.weight.detach().clone()
        return out

    def set_weights(self, weights: dict[str, Tensor]) -> None:
        self.structure.weight.copy_(weights["structure"])
        self.load_dense({k[6:]: v for k, v in weights.items() if k.startswith("dense.")})

    def head(self) -> FusionHead:
        """The projections and fusion as plain arrays, to place new entities later."""
        parts = self.projections
        config = {
            "fusion": self.fusion_name,
            "projection": parts[0].kind,
            "dim": self.dim,
            "modalities": [
                {
                    "name": p.bank.name,
                    "width": p.bank.width,
                    "source": p.bank.source,
                    "meta": p.bank.modality.meta,
                }
                for p in parts
            ],
        }
        weights = {
            k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.dense_state().items()
        }
        return FusionHead(config, weights)

    def sources(self) -> dict[str, str]:
        """Which encoder or file made each modality."""
        return {p.bank.name: p.bank.source for p in self.projections}


def place_from_features(
    head: FusionHead, modalities: Sequence[Modality], device: str = "cpu"
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Served vectors of entities from their features alone, by a fused run's ``head``
    (their structure is unknown, so it is masked as in cold-start training).

    Returns the vectors and which entities had at least one of the run's modalities. The
    features must come from the encoders the run was trained with.
    """
    by_name = {m.name: m for m in modalities}
    ordered: list[Modality] = []
    for spec in head.modalities:
        modality = by_name.get(spec["name"])
        if modality is None:
            continue
        if modality.width != spec["width"] or modality.source != spec["source"]:
            raise DataError(
                f"modality {spec['name']!r}: the run was trained on features of {spec['source']} "
                f"(width {spec['width']}), these are of {modality.source} (width "
                f"{modality.width}); recompute them with the run's encoder or retrain"
            )
        ordered.append(modality)
    if not ordered:
        names = ", ".join(m["name"] for m in head.modalities)
        raise DataError(f"none of the run's modalities ({names}) is available for new entities")
    count = len(ordered[0].mask)
    dim = int(head.config["dim"])
    gen = torch.Generator().manual_seed(0)
    where = torch.device(device)
    table = EmbeddingTable(count, dim, make_optimizer("adagrad", 0.1), scale=1e-3,
                           generator=gen, device=where)  # fmt: skip
    parts = []
    for spec in head.modalities:
        # A modality none of these entities has is masked for all of them.
        modality = by_name.get(spec["name"]) or Modality(
            spec["name"], np.zeros((1, spec["width"]), np.float32), np.zeros(count, bool),
            spec["source"], np.full(count, -1, np.int64),
        )  # fmt: skip
        parts.append(FeatureProjection(
            FeatureBank(modality, where), dim, head.config["projection"], 1e-3, gen
        ))  # fmt: skip
    fused = Fused(table, parts, head.config["fusion"], gen, np.zeros(count, dtype=bool))
    fused.load_dense({k: torch.from_numpy(np.array(v)).to(where) for k, v in head.weights.items()})
    has = np.zeros(count, dtype=bool)
    for m in ordered:
        has |= m.mask
    return fused.all().cpu().numpy().astype(np.float32), has
