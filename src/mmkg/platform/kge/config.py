"""One validated training configuration, with documented defaults per model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmkg.errors import ConfigError

Training = Literal["slcwa", "kvsall", "1vsall"]
Loss = Literal["margin", "logistic", "softplus", "bce", "ce"]
Regularizer = Literal["none", "l2", "n3"]
Sampler = Literal["uniform", "degree"]
Init = Literal["uniform", "normal", "xavier"]


class TrainConfig(BaseModel):
    """Everything that determines a training run; stored as ``config.json`` in the run."""

    model_config = ConfigDict(extra="forbid")

    model: str
    dim: int = Field(
        gt=0,
        description="Real numbers per entity vector (complex models: 2 per complex dimension).",
    )
    gamma: float = Field(12.0, description="Margin inside distance scores (TransE, RotatE).")
    training: Training = "slcwa"
    loss: Loss = "logistic"
    margin: float = Field(1.0, gt=0, description="Margin of the margin ranking loss.")
    adversarial_temperature: float = Field(
        1.0, ge=0, description="Self-adversarial negative weighting; 0 turns it off."
    )
    negatives: int = Field(256, gt=0, description="Negatives per chunk of positives (sLCWA).")
    neg_chunk_size: int = Field(
        256, gt=0, description="Positives that share one set of negatives (sLCWA)."
    )
    neg_sampler: Sampler = "uniform"
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="KvsAll targets.")
    batch_size: int = Field(1024, gt=0)
    epochs: int = Field(100, gt=0)
    lr: float = Field(0.1, gt=0)
    optimizer: Literal["adagrad", "adagrad_elementwise", "adam"] = "adagrad"
    regularizer: Regularizer = "none"
    reg_weight: float = Field(0.0, ge=0)
    init: Init = "uniform"
    init_scale: float | None = Field(
        None, gt=0, description="Initial range; default (gamma + 2) / dim as DGL-KE."
    )
    entity_norm: bool = Field(
        False, description="Keep entity vectors at unit L2 norm (TransE paper, PyKEEN's TransE)."
    )
    reciprocal: bool = Field(
        False, description="Inverse relations r⁻¹ predict heads as tails (KvsAll, 1vsAll)."
    )
    seed: int = 0
    device: str = "cpu"
    num_procs: int = Field(
        0, ge=0, description="Hogwild processes on CPU; 0 = one per core; 1 = deterministic."
    )
    eval_every: int = Field(5, ge=0, description="Validate every N epochs; 0 = never.")
    patience: int = Field(
        0, ge=0, description="Stop after N validations without a better MRR; 0 = never."
    )
    eval_batch_size: int = Field(0, ge=0, description="Queries per evaluation batch; 0 = auto.")
    checkpoint_every: int = Field(
        1, ge=1, description="Write a resumable checkpoint every N epochs."
    )
    compile: bool = Field(
        True, description="Fuse the L1 / RotatE pairwise kernels with torch.compile."
    )
    max_seconds: float | None = Field(
        None, gt=0, description="Stop training (at an epoch end) after this many seconds."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        from mmkg.platform.kge.models import model_spec

        spec = model_spec(self.model)
        if spec.complex and self.dim % 2:
            raise ValueError(f"{self.model} needs an even dim (pairs of real and imaginary parts)")
        if self.training == "slcwa":
            if self.loss not in ("margin", "logistic", "softplus"):
                raise ValueError(f"loss {self.loss!r} is for kvsall/1vsall training")
            if self.reciprocal:
                raise ValueError("reciprocal relations are for kvsall/1vsall training")
        else:
            if not self.reciprocal:
                raise ValueError(
                    f"{self.training} training predicts heads through reciprocal relations; "
                    "set reciprocal"
                )
            if self.loss not in ("bce", "ce"):
                raise ValueError(
                    f"{self.training} training takes loss bce or ce, not {self.loss!r}"
                )
            if not spec.bilinear:
                raise ValueError(
                    f"{self.training} scores all entities per step; use it with "
                    "distmult or complex (or transe_l2)"
                )
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device must be cpu or cuda[:n], got {self.device!r}")
        return self

    @property
    def resolved_init_scale(self) -> float:
        return self.init_scale if self.init_scale is not None else (self.gamma + 2.0) / self.dim


def make_config(model: str, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The model's documented defaults, then ``overrides`` (``None`` values ignored)."""
    from mmkg.platform.kge.models import model_spec

    spec = model_spec(model)
    values: dict[str, Any] = {"model": spec.name, **spec.defaults}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return TrainConfig(**values)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
            for err in e.errors()
        )
        raise ConfigError(f"invalid training configuration: {problems}") from None
