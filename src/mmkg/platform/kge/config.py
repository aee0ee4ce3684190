"""One validated training configuration, with documented defaults per model.

Validating a configuration imports no tensor library: the model specs it checks against live in
:mod:`mmkg.platform.kge.specs`. Each field's ``description`` is its documentation, and ``mmkg
train`` builds its command-line options from these fields (``flag``/``short`` name them where
the field name alone would not read well), so an option is declared once, here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmkg.errors import ConfigError
from mmkg.platform.kge.specs import model_spec

Training = Literal["slcwa", "kvsall", "1vsall"]
Loss = Literal["margin", "logistic", "nssa", "softplus", "bce", "ce"]
Regularizer = Literal["none", "l2", "n3"]
Sampler = Literal["uniform", "degree"]
Init = Literal["uniform", "normal", "xavier"]
Optimizer = Literal["adagrad", "adagrad_elementwise", "adam"]
FusionName = Literal["none", "concat", "gate", "attention"]
ProjectionKind = Literal["linear", "mlp"]
SLCWA_LOSSES = ("margin", "logistic", "nssa", "softplus")
ALL_ENTITY_LOSSES = ("bce", "ce")


def _cli(flag: str | None = None, short: str | None = None) -> dict[str, Any]:
    return {"cli": {"flag": flag, "short": short}}


class TrainConfig(BaseModel):
    """Everything that determines a training run; stored as ``config.json`` in the run."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="transe_l1, transe_l2 (transe), distmult, complex or rotate.")
    dim: int = Field(
        gt=0,
        description="Real numbers per entity vector (complex models: 2 per complex dimension).",
        json_schema_extra=_cli(short="-d"),
    )
    gamma: float = Field(12.0, description="Margin inside distance scores (TransE, RotatE).")
    training: Training = Field("slcwa", description="slcwa, kvsall or 1vsall.")
    loss: Loss = Field(
        "logistic", description="margin, logistic, nssa, softplus (slcwa); bce, ce (kvsall/1vsall)."
    )
    margin: float = Field(
        1.0,
        ge=0,
        description="Margin of the margin ranking loss, and of nssa inside its log-sigmoid "
        "(PyKEEN's NSSALoss margin, 9 there).",
    )
    adversarial_temperature: float = Field(
        1.0,
        ge=0,
        description="Self-adversarial negative weighting; 0 turns it off.",
        json_schema_extra=_cli("--adv-temperature"),
    )
    negatives: int = Field(
        256,
        gt=0,
        description="Negatives per positive (sLCWA), as PyKEEN's num_negs_per_pos: each "
        "positive is scored against this many corrupted triples.",
        json_schema_extra=_cli(short="-n"),
    )
    neg_chunk_size: int = Field(
        256,
        gt=0,
        description="Positives that share the same negative entities (sLCWA, DGL-KE's joint "
        "sampling): 1 draws per positive as PyKEEN; larger is faster.",
    )
    neg_sampler: Sampler = Field("uniform", description="uniform or degree.")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="KvsAll/1vsAll targets.")
    batch_size: int = Field(
        1024, gt=0, description="Positives per step.", json_schema_extra=_cli(short="-b")
    )
    epochs: int = Field(100, gt=0, description="Passes over the training triples.",
                        json_schema_extra=_cli(short="-e"))  # fmt: skip
    lr: float = Field(0.1, gt=0, description="Learning rate.")
    optimizer: Optimizer = Field(
        "adagrad", description="adagrad (row-wise), adagrad_elementwise or adam (lazy)."
    )
    regularizer: Regularizer = Field("none", description="none, l2 or n3.")
    reg_weight: float = Field(0.0, ge=0, description="Weight of the regulariser.")
    init: Init = Field("uniform", description="uniform, normal or xavier initialisation.")
    init_scale: float | None = Field(
        None, gt=0, description="Initial range; default (gamma + 2) / dim as DGL-KE."
    )
    entity_norm: bool = Field(
        False, description="Keep entity vectors at unit L2 norm (TransE paper, PyKEEN's TransE)."
    )
    reciprocal: bool = Field(
        False, description="Inverse relations r⁻¹ predict heads as tails (KvsAll, 1vsAll)."
    )
    seed: int = Field(0, description="Seed of every random draw: a run is reproducible.")
    device: str = Field("cpu", description="cpu or cuda[:n].")
    num_procs: int = Field(
        0,
        ge=0,
        description="Training processes on CPU; 0 = auto: Hogwild, one per core, where it "
        "loses nothing (row-wise adagrad, sparse steps), else 1; 1 = deterministic.",
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

    fusion: FusionName = Field(
        "none",
        description="How an entity's structural vector and its modalities' projections "
        "combine (needs feature options such as --text): concat, gate (LiteralE), attention "
        "(cross-modal); none = structure only.",
    )
    projection: ProjectionKind = Field(
        "linear", description="Projection of each modality's features: linear or mlp."
    )
    dense_lr: float = Field(
        1e-3, gt=0, description="Adam learning rate of the projections and the fusion."
    )
    structure_dropout: float = Field(
        0.25,
        ge=0,
        lt=1,
        description="Fusion: share of entities whose structural vector is hidden in a step, so "
        "that the fusion learns to place entities from features alone (cold start).",
    )
    align_weight: float = Field(
        0.0,
        ge=0,
        description="Weight of the InfoNCE term aligning each modality's projection with the "
        "structural vectors; 0 = off.",
    )
    align_temperature: float = Field(0.1, gt=0, description="Temperature of the alignment term.")
    self_negatives: bool = Field(
        True,
        description="Fusion (sLCWA): score each positive's query entity itself as one more "
        "negative (SimKGC's self-negatives); features make an entity resemble its "
        "neighbours, and without it the query entity ranks first.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        spec = model_spec(self.model)
        self.model = spec.name
        if spec.complex and self.dim % 2:
            raise ValueError(f"{self.model} needs an even dim (pairs of real and imaginary parts)")
        if self.training == "slcwa":
            if self.loss not in SLCWA_LOSSES:
                raise ValueError(f"loss {self.loss!r} is for kvsall/1vsall training")
            if self.reciprocal:
                raise ValueError("reciprocal relations are for kvsall/1vsall training")
        else:
            if not self.reciprocal:
                raise ValueError(
                    f"{self.training} training predicts heads through reciprocal relations; "
                    "set reciprocal"
                )
            if self.loss not in ALL_ENTITY_LOSSES:
                raise ValueError(
                    f"{self.training} training takes loss bce or ce, not {self.loss!r}"
                )
            if not spec.capabilities.matmul_all:
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


def describe_errors(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in e.errors()
    )


def make_config(model: str, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The model's documented defaults, then ``overrides`` (``None`` values ignored)."""
    spec = model_spec(model)
    values: dict[str, Any] = {"model": spec.name, **spec.defaults}
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    values["model"] = spec.name
    try:
        return TrainConfig(**values)
    except ValidationError as e:
        raise ConfigError(f"invalid training configuration: {describe_errors(e)}") from None
