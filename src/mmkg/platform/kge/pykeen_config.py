"""Reading a PyKEEN pipeline configuration as the closest mmkg training configuration.

PyKEEN users describe a run as the keyword arguments of ``pykeen.pipeline.pipeline`` (a JSON
file, optionally under a ``"pipeline"`` key, as in PyKEEN's reproducibility configs). This
module maps each setting onto mmkg's, fills in what PyKEEN would default to where the file is
silent (its model, loss and training-loop defaults of PyKEEN 1.11), and lists every setting
it cannot honour exactly, so that nothing is dropped silently. PyKEEN is not imported.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkg.errors import ConfigError

# PyKEEN model name -> (mmkg model, PyKEEN's default embedding_dim, complex, default loss).
_MODELS: dict[str, tuple[str, int, bool, str]] = {
    "transe": ("transe", 50, False, "marginranking"),
    "distmult": ("distmult", 50, False, "marginranking"),
    "complex": ("complex", 200, True, "softplus"),
    "rotate": ("rotate", 200, True, "marginranking"),
}
# PyKEEN's defaults for the losses' own keyword arguments.
_LOSS_DEFAULTS: dict[str, dict[str, float]] = {
    "marginranking": {"margin": 1.0},
    "nssa": {"margin": 9.0, "adversarial_temperature": 1.0},
    "softplus": {},
    "bcewithlogits": {},
    "crossentropy": {},
}
# torch's default learning rates (PyKEEN passes none unless optimizer_kwargs names one).
_OPTIMIZERS = {"adam": ("adam", 0.001), "adagrad": ("adagrad_elementwise", 0.01)}
# PyKEEN model regularisers by default (weight, applied as an L2 penalty; see _regularizer).
_DEFAULT_REGULARIZER = {"distmult": 0.1, "complex": 0.01}
_PIPELINE_KEYS = {
    "model", "model_kwargs", "loss", "loss_kwargs", "optimizer", "optimizer_kwargs",
    "training_loop", "negative_sampler", "negative_sampler_kwargs", "training_kwargs",
    "stopper", "stopper_kwargs", "random_seed", "device", "regularizer", "regularizer_kwargs",
    "evaluator", "evaluator_kwargs", "dataset", "dataset_kwargs", "training", "testing",
    "validation", "metadata", "use_tqdm", "result_tracker", "result_tracker_kwargs",
    "evaluation_kwargs", "epochs",
}  # fmt: skip


@dataclass
class PykeenMapping:
    """What a PyKEEN configuration becomes: an mmkg model, the settings over its defaults,
    and the settings mmkg could not honour exactly (each a sentence for the user)."""

    model: str
    overrides: dict[str, Any]
    unhonoured: list[str] = field(default_factory=list)


def _key(name: Any) -> str:
    """PyKEEN's own normalisation of a class name: lower case, no '_', no class suffix."""
    text = re.sub(r"[^a-z0-9]", "", str(name).lower())
    for suffix in ("loss", "optimizer", "negativesampler", "sampler", "trainingloop"):
        if text.endswith(suffix) and text != suffix:
            text = text[: -len(suffix)]
    return text


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping of keyword arguments, not {raw!r}")
    return dict(raw)


def read_pykeen_config(path: Path) -> PykeenMapping:
    """Read ``path`` (JSON) and map it; a file that is not a PyKEEN pipeline is refused."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read --pykeen-config {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"--pykeen-config {path}:{e.lineno}: not JSON ({e.msg})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"--pykeen-config {path}: expected a JSON object")
    try:
        return map_pykeen_config(raw)
    except ConfigError as e:
        raise ConfigError(f"--pykeen-config {path}: {e}") from None


def map_pykeen_config(raw: dict[str, Any]) -> PykeenMapping:
    """Map PyKEEN pipeline keyword arguments onto an mmkg model and training overrides."""
    cfg = _mapping(raw.get("pipeline", raw), "pipeline")
    notes: list[str] = []
    for key in sorted(set(cfg) - _PIPELINE_KEYS):
        notes.append(f"{key}: a pipeline setting mmkg does not map; ignored")
    model_key = _key(cfg.get("model", ""))
    if model_key not in _MODELS:
        raise ConfigError(
            f"model {cfg.get('model')!r}: mmkg trains {', '.join(_MODELS)} (PyKEEN names)"
        )
    model, default_dim, complex_, default_loss = _MODELS[model_key]
    # Everything an mmkg model default could differ in is set: the run is PyKEEN's, whatever
    # mmkg's defaults for the model are. Negatives are drawn per positive, as PyKEEN does.
    out: dict[str, Any] = {
        "training": "slcwa", "reciprocal": False, "regularizer": "none", "reg_weight": 0.0,
        "init": "xavier", "entity_norm": False, "neg_sampler": "uniform", "neg_chunk_size": 1,
        "label_smoothing": 0.0, "eval_every": 0, "patience": 0,
    }  # fmt: skip
    model_kwargs = _mapping(cfg.get("model_kwargs"), "model_kwargs")
    dim = int(model_kwargs.pop("embedding_dim", default_dim))
    # PyKEEN counts complex dimensions; mmkg counts the real numbers stored.
    out["dim"] = 2 * dim if complex_ else dim
    if model_key == "transe":
        norm = int(model_kwargs.pop("scoring_fct_norm", 1))
        if norm not in (1, 2):
            raise ConfigError(f"model_kwargs.scoring_fct_norm {norm}: mmkg has TransE L1 and L2")
        model = f"transe_l{norm}"
    if model_key in ("transe", "distmult"):
        out["entity_norm"] = True  # PyKEEN's entity constrainer: unit L2 norm
        notes.append(
            f"{cfg.get('model')}: PyKEEN scales each initial relation vector to unit norm; "
            "mmkg draws relations as entities (Xavier-uniform) and leaves them unscaled"
        )
    if model_key == "complex":
        out["init"], out["init_scale"] = "normal", 1.0  # PyKEEN's ComplEx: N(0, 1) everywhere
    if model_key == "rotate":
        # PyKEEN's RotatE takes the L2 norm of h∘r - t (mmkg's rotate sums the moduli), and
        # learns phases in radians drawn over the whole circle: mmkg's raw relation value is a
        # phase in radians when its init range is π (phase = r·π/init_scale).
        model = "rotate_l2"
        out["init_scale"] = math.pi
    for key in sorted(model_kwargs):
        notes.append(f"model_kwargs.{key}: not mapped; mmkg's default applies")
    _loss(cfg, default_loss, out, notes)
    _regularizer(cfg, model_key, dim, out, notes)
    _optimizer(cfg, out, notes)
    _training(cfg, model, out, notes)
    if "random_seed" in cfg:
        out["seed"] = int(cfg["random_seed"])
    if cfg.get("device") is not None:
        device = str(cfg["device"])
        out["device"] = "cpu" if device == "cpu" else device.replace("gpu", "cuda")
    evaluator = _mapping(cfg.get("evaluator_kwargs"), "evaluator_kwargs")
    if evaluator.get("filtered") is False:
        notes.append("evaluator_kwargs.filtered false: mmkg always evaluates filtered ranks")
    for key in ("dataset", "dataset_kwargs", "training", "testing", "validation"):
        if key in cfg:
            notes.append(f"{key}: mmkg trains on the data given to `mmkg train`; ignored")
    return PykeenMapping(model, out, notes)


def _loss(cfg: dict[str, Any], default: str, out: dict[str, Any], notes: list[str]) -> None:
    loss = _key(cfg.get("loss") or default)
    if loss not in _LOSS_DEFAULTS:
        raise ConfigError(
            f"loss {cfg.get('loss')!r}: mmkg maps MarginRankingLoss, NSSALoss, SoftplusLoss, "
            "BCEWithLogitsLoss and (LCWA) CrossEntropyLoss"
        )
    kwargs = {**_LOSS_DEFAULTS[loss], **_mapping(cfg.get("loss_kwargs"), "loss_kwargs")}
    if kwargs.pop("reduction", "mean") != "mean":
        notes.append("loss_kwargs.reduction: mmkg averages; other reductions are not honoured")
    # PyKEEN's distance scores are -d; gamma 0 makes mmkg's (gamma - d) the same.
    out["gamma"] = 0.0
    out["adversarial_temperature"] = 0.0
    if loss == "marginranking":
        out["loss"], out["margin"] = "margin", float(kwargs.pop("margin"))
    elif loss == "nssa":
        out["loss"], out["margin"] = "nssa", float(kwargs.pop("margin"))
        out["adversarial_temperature"] = float(kwargs.pop("adversarial_temperature"))
    elif loss == "crossentropy":
        out["loss"] = "ce"  # all entities at once: LCWA only (checked with the loop)
    else:
        # BCE with logits over sampled triples is the pointwise softplus loss.
        out["loss"] = "softplus"
    for key in sorted(kwargs):
        notes.append(f"loss_kwargs.{key}: not mapped; ignored")


def _regularizer(
    cfg: dict[str, Any], model_key: str, dim: int, out: dict[str, Any], notes: list[str]
) -> None:
    name = cfg.get("regularizer")
    kwargs = _mapping(cfg.get("regularizer_kwargs"), "regularizer_kwargs")
    if name is None and model_key not in _DEFAULT_REGULARIZER:
        return
    if name is not None and _key(name).removesuffix("regularizer") not in ("lp", ""):
        notes.append(f"regularizer {name!r}: mmkg has L2 and N3 penalties; not honoured")
        return
    weight = float(kwargs.get("weight", _DEFAULT_REGULARIZER.get(model_key, 1.0)))
    # PyKEEN's LpRegularizer (p=2, normalize=True) divides Σx² by the dimension.
    out["regularizer"], out["reg_weight"] = "l2", weight / dim
    notes.append(
        f"regularizer: PyKEEN's Lp (weight {weight}) as mmkg's L2 penalty of weight "
        f"{weight / dim:.3g} per row; PyKEEN applies it over the batch's representations"
    )


def _optimizer(cfg: dict[str, Any], out: dict[str, Any], notes: list[str]) -> None:
    name = _key(cfg.get("optimizer") or "adam")
    if name not in _OPTIMIZERS:
        raise ConfigError(f"optimizer {cfg.get('optimizer')!r}: mmkg maps Adam and Adagrad")
    out["optimizer"], lr = _OPTIMIZERS[name]
    kwargs = _mapping(cfg.get("optimizer_kwargs"), "optimizer_kwargs")
    out["lr"] = float(kwargs.pop("lr", lr))
    if name == "adam":
        notes.append(
            "optimizer Adam: mmkg's Adam is lazy (it updates the rows a step touched; PyKEEN's "
            "torch Adam moves every row on every step)"
        )
    for key in sorted(kwargs):
        notes.append(f"optimizer_kwargs.{key}: not mapped; ignored")


def _training(cfg: dict[str, Any], model: str, out: dict[str, Any], notes: list[str]) -> None:
    loop = _key(cfg.get("training_loop") or "slcwa")
    training = _mapping(cfg.get("training_kwargs"), "training_kwargs")
    # pipeline(epochs=...) is PyKEEN's shorthand for training_kwargs.num_epochs.
    out["epochs"] = int(training.pop("num_epochs", cfg.get("epochs") or 5))
    batch = training.pop("batch_size", None)
    if batch is None:
        notes.append("training_kwargs.batch_size not given: PyKEEN searches one on a GPU and "
                     "takes 32 on a CPU; mmkg takes 32")  # fmt: skip
    out["batch_size"] = int(batch or 32)
    if "label_smoothing" in training:
        out["label_smoothing"] = float(training.pop("label_smoothing"))
    if loop == "lcwa":
        if model not in ("distmult", "complex", "transe_l2"):
            raise ConfigError(f"training_loop LCWA: mmkg trains {model} with sLCWA only")
        if out["loss"] == "ce":
            out.update(training="1vsall", reciprocal=True)
            what = "1vsAll with reciprocal relations and softmax cross-entropy"
        else:
            out.update(training="kvsall", reciprocal=True, loss="bce")
            what = "KvsAll with reciprocal relations and BCE"
        notes.append(
            f"training_loop LCWA as mmkg's {what} (heads are predicted through inverse relations)"
        )
    elif loop != "slcwa":
        raise ConfigError(f"training_loop {cfg.get('training_loop')!r}: mmkg has sLCWA, LCWA")
    elif out["loss"] == "ce":
        raise ConfigError("loss CrossEntropyLoss scores all entities: use training_loop LCWA")
    sampler = _key(cfg.get("negative_sampler") or "basic")
    kwargs = _mapping(cfg.get("negative_sampler_kwargs"), "negative_sampler_kwargs")
    if loop == "slcwa":
        out["negatives"] = int(kwargs.pop("num_negs_per_pos", 1))
    if sampler != "basic":
        notes.append(f"negative_sampler {cfg.get('negative_sampler')!r}: mmkg samples uniformly")
    for key in sorted(kwargs):
        notes.append(f"negative_sampler_kwargs.{key}: not mapped; ignored")
    for key in sorted(training):
        notes.append(f"training_kwargs.{key}: not mapped; ignored")
    stopper = cfg.get("stopper")
    if stopper is not None and _key(stopper) == "early":
        stop = _mapping(cfg.get("stopper_kwargs"), "stopper_kwargs")
        out["eval_every"] = int(stop.pop("frequency", 10))
        out["patience"] = int(stop.pop("patience", 2))
        for key in sorted(stop):
            notes.append(f"stopper_kwargs.{key}: not mapped; ignored")
    elif stopper is not None and _key(stopper) != "nop":
        notes.append(f"stopper {stopper!r}: not mapped; no early stopping")
