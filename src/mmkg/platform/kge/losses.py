"""Losses over positive scores ``[B]`` and negative scores ``[B, K]`` (sLCWA), or over all
entities ``[B, N]`` (KvsAll / 1vsAll), and the L2 / N3 regularisers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def negative_weights(neg: Tensor, temperature: float) -> Tensor:
    """Self-adversarial weights (Sun et al., 2019): harder negatives weigh more; no gradient."""
    if temperature <= 0:
        return torch.full_like(neg, 1.0 / neg.shape[-1])
    return torch.softmax(neg.detach() * temperature, dim=-1)


def slcwa_loss(pos: Tensor, neg: Tensor, kind: str, margin: float, temperature: float) -> Tensor:
    """``margin``: pairwise hinge ``[m - s⁺ + s⁻]₊``; ``logistic``: RotatE's balanced
    ``-log σ(s⁺) - Σ w log σ(-s⁻)`` (half weight each); ``softplus``: PyKEEN's pointwise
    ``softplus(-y·s)`` averaged over all positive and negative scores."""
    if kind == "softplus":
        total = F.softplus(-pos).sum() + F.softplus(neg).sum()
        return total / (pos.numel() + neg.numel())
    weights = negative_weights(neg, temperature)
    if kind == "margin":
        return (weights * F.relu(margin - pos.unsqueeze(-1) + neg)).sum(-1).mean()
    pos_loss = -F.logsigmoid(pos).mean()
    neg_loss = -(weights * F.logsigmoid(-neg)).sum(-1).mean()
    return (pos_loss + neg_loss) / 2


def all_entities_loss(scores: Tensor, kind: str, targets: Tensor, label_smoothing: float) -> Tensor:
    """``ce``: softmax cross-entropy, ``targets`` the true entity per row (1vsAll);
    ``bce``: binary cross-entropy, ``targets`` a ``[B, N]`` 0/1 matrix (KvsAll)."""
    if kind == "ce":
        return F.cross_entropy(scores, targets, label_smoothing=label_smoothing)
    labels = targets.float()
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + label_smoothing / scores.shape[1]
    return F.binary_cross_entropy_with_logits(scores, labels)


def regularization(
    kind: str, weight: float, factors: list[Tensor], complex_: bool
) -> Tensor | None:
    """L2: ``Σ x²``; N3 (Lacroix et al., 2018): ``Σ |x|³``, on complex moduli for complex
    models; each averaged over the batch rows."""
    if kind == "none" or weight == 0:
        return None
    total = factors[0].new_zeros(())
    for x in factors:
        if kind == "l2":
            total = total + (x * x).sum(-1).mean()
        else:
            if complex_ and x.shape[-1] % 2 == 0:
                half = x.shape[-1] // 2
                mod = torch.sqrt(x[..., :half] ** 2 + x[..., half:] ** 2 + 1e-12)
            else:
                mod = x.abs()
            total = total + (mod**3).sum(-1).mean()
    return weight * total
