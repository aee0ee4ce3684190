"""Losses over positive scores ``[B]`` and negative scores ``[B, K]`` (sLCWA), or over all
entities ``[B, N]`` (KvsAll / 1vsAll), and the L2 / N3 regularisers, each registered by name."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from mmkg.platform.registry import Registry

# (positive scores [B], negative scores [B, K], negative weights [B, K], margin) -> loss
PairLoss = Callable[[Tensor, Tensor, Tensor, float], Tensor]
# (scores [B, N], targets: indices [B] or 0/1 [B, N], label smoothing) -> loss
AllEntitiesLoss = Callable[[Tensor, Tensor, float], Tensor]
# (weight, factors, complex) -> penalty
Regularizer = Callable[[float, list[Tensor], bool], Tensor]


def negative_weights(neg: Tensor, temperature: float) -> Tensor:
    """Self-adversarial weights (Sun et al., 2019): harder negatives weigh more; no gradient."""
    if temperature <= 0:
        return torch.full_like(neg, 1.0 / neg.shape[-1])
    return torch.softmax(neg.detach() * temperature, dim=-1)


def margin_loss(pos: Tensor, neg: Tensor, weights: Tensor, margin: float) -> Tensor:
    """Pairwise hinge ``Σ w [m - s⁺ + s⁻]₊`` per positive, averaged."""
    return (weights * F.relu(margin - pos.unsqueeze(-1) + neg)).sum(-1).mean()


def logistic_loss(pos: Tensor, neg: Tensor, weights: Tensor, margin: float) -> Tensor:
    """RotatE's negative-sampling loss ``-log σ(s⁺) - Σ w log σ(-s⁻)``, half weight each.

    For distance models the score is ``gamma - d``, so the margin sits inside the log-sigmoid
    exactly as in the RotatE paper and PyKEEN's ``NSSALoss`` (``gamma`` plays its ``margin``).
    """
    pos_loss = -F.logsigmoid(pos).mean()
    neg_loss = -(weights * F.logsigmoid(-neg)).sum(-1).mean()
    return (pos_loss + neg_loss) / 2


def nssa_loss(pos: Tensor, neg: Tensor, weights: Tensor, margin: float) -> Tensor:
    """Self-adversarial negative sampling as PyKEEN's ``NSSALoss`` defines it (Sun et al.):
    ``½[-log σ(m + s⁺) - Σ w log σ(-s⁻ - m)]``, the margin ``m`` inside the log-sigmoid.

    With a distance score ``-d`` this is the RotatE paper's ``-log σ(γ - d⁺) - Σ w log σ(d⁻ - γ)``;
    it equals ``logistic`` on scores shifted by ``m`` (the weights do not change: a softmax
    ignores a shift), so a PyKEEN margin maps here unchanged whatever the model's own ``gamma``.
    """
    return logistic_loss(pos + margin, neg + margin, weights, 0.0)


def softplus_loss(pos: Tensor, neg: Tensor, weights: Tensor, margin: float) -> Tensor:
    """PyKEEN's pointwise ``softplus(-y·s)`` averaged over all positive and negative scores."""
    total = F.softplus(-pos).sum() + F.softplus(neg).sum()
    return total / (pos.numel() + neg.numel())


def ce_loss(scores: Tensor, targets: Tensor, label_smoothing: float) -> Tensor:
    """Softmax cross-entropy; ``targets`` the true entity per row (1vsAll)."""
    return F.cross_entropy(scores, targets, label_smoothing=label_smoothing)


def bce_loss(scores: Tensor, targets: Tensor, label_smoothing: float) -> Tensor:
    """Binary cross-entropy; ``targets`` a ``[B, N]`` 0/1 matrix (KvsAll)."""
    labels = targets.float()
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / scores.shape[1]
    return F.binary_cross_entropy_with_logits(scores, labels)


LOSSES: Registry[PairLoss | AllEntitiesLoss] = Registry("loss")
LOSSES.add("margin", margin_loss, "pairwise hinge [m - s+ + s-]+", training="slcwa")
LOSSES.add("logistic", logistic_loss, "-log σ(s+) - Σ w log σ(-s-) (RotatE)", training="slcwa")
LOSSES.add("nssa", nssa_loss, "½[-log σ(m + s+) - Σ w log σ(-s- - m)] (PyKEEN NSSALoss)",
           training="slcwa")  # fmt: skip
LOSSES.add("softplus", softplus_loss, "pointwise softplus(-y s) (PyKEEN)", training="slcwa")
LOSSES.add("ce", ce_loss, "softmax cross-entropy over all entities", training="1vsall")
LOSSES.add("bce", bce_loss, "binary cross-entropy over all entities", training="kvsall")


def slcwa_loss(pos: Tensor, neg: Tensor, kind: str, margin: float, temperature: float) -> Tensor:
    """The sLCWA loss ``kind`` with self-adversarial weights at ``temperature``."""
    fn: PairLoss = LOSSES.get(kind)  # type: ignore[assignment]
    return fn(pos, neg, negative_weights(neg, temperature), margin)


def all_entities_loss(scores: Tensor, kind: str, targets: Tensor, label_smoothing: float) -> Tensor:
    fn: AllEntitiesLoss = LOSSES.get(kind)  # type: ignore[assignment]
    return fn(scores, targets, label_smoothing)


def _moduli(x: Tensor, complex_: bool) -> Tensor:
    if complex_ and x.shape[-1] % 2 == 0:
        half = x.shape[-1] // 2
        return torch.sqrt(x[..., :half] ** 2 + x[..., half:] ** 2 + 1e-12)
    return x.abs()


def l2_penalty(weight: float, factors: list[Tensor], complex_: bool) -> Tensor:
    """``weight · Σ x²``, each factor averaged over its rows."""
    return weight * sum((x * x).sum(-1).mean() for x in factors)  # type: ignore[return-value]


def n3_penalty(weight: float, factors: list[Tensor], complex_: bool) -> Tensor:
    """N3 (Lacroix et al., 2018): ``weight · Σ |x|³``, on complex moduli for complex models."""
    return weight * sum((_moduli(x, complex_) ** 3).sum(-1).mean() for x in factors)  # type: ignore[return-value]


REGULARIZERS: Registry[Regularizer] = Registry("regularizer")
REGULARIZERS.add("l2", l2_penalty, "Σ x²")
REGULARIZERS.add("n3", n3_penalty, "Σ |x|³ (complex moduli)")


def regularization(
    kind: str, weight: float, factors: list[Tensor], complex_: bool
) -> Tensor | None:
    """The regulariser ``kind`` over ``factors`` (``none`` or a zero weight: no term)."""
    if kind == "none" or weight == 0:
        return None
    return REGULARIZERS.get(kind)(weight, factors, complex_)
