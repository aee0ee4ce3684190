"""The self-describing folder a training run writes, and reading a model back from it.

| file | content |
|---|---|
| ``config.json`` | the full training configuration, the dataset, versions |
| ``entities.dict`` / ``relations.dict`` | ``index<TAB>id`` maps of the embedding rows |
| ``entity_embeddings.npy`` / ``relation_embeddings.npy`` | float32 tables (best validation) |
| ``history.json`` | per epoch: loss, triples/s, seconds, validation metrics |
| ``metrics.json`` | final validation and test metrics, time, throughput, peak memory |
| ``curves.png`` | loss and validation MRR per epoch |
| ``checkpoint.pt`` | tables, optimizer state and progress, for ``--resume`` |
| ``best_weights.pt`` | fusion runs: the best projections, fusion and structural table |
| ``fusion_head.npz`` | fusion runs: what places new entities from their features (serving) |
| ``splits.npz`` | the train/valid/test split, for data that came from Neo4j |

Every file is written to a temporary name and renamed, so an interrupted run never leaves
a half-written file behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mmkg.errors import DataError, TrainingError
from mmkg.platform import atomic
from mmkg.platform.kge.artifact import FusionHead, ServingArtifact
from mmkg.platform.kge.config import TrainConfig
from mmkg.platform.kge.data import KGDataset, encode_with, read_id_map
from mmkg.platform.kge.models import KGEModel, build_model
from mmkg.platform.kge.representations import EmbeddingTable

CONFIG = "config.json"
METRICS = "metrics.json"
HISTORY = "history.json"
CHECKPOINT = "checkpoint.pt"
CURVES = "curves.png"
SPLITS_FILE = "splits.npz"
ENTITY_EMB = "entity_embeddings.npy"
RELATION_EMB = "relation_embeddings.npy"
BEST_WEIGHTS = "best_weights.pt"
FUSION_HEAD = "fusion_head.npz"

write_json = atomic.write_json
save_array = atomic.save_npy


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path} is missing: is {path.parent} a training run folder?") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def save_embeddings(run: Path, model: KGEModel) -> None:
    save_array(run / ENTITY_EMB, model.entities.to_numpy())
    save_array(run / RELATION_EMB, model.relations.to_numpy())


def save_best_weights(run: Path, model: KGEModel, weights: dict[str, dict[str, Tensor]]) -> None:
    """A fused model's best weights (projections, fusion, structure): its ``.npy`` tables
    hold the fused vectors, from which the model itself cannot be rebuilt."""
    if not isinstance(model.entities, EmbeddingTable):
        with atomic.atomic_path(run / BEST_WEIGHTS) as tmp:
            torch.save(weights, tmp)


def save_fusion_head(run: Path, head: FusionHead | None) -> None:
    if head is not None:
        atomic.write_bytes(run / FUSION_HEAD, head.to_bytes())


def load_fusion_head(run: Path) -> FusionHead:
    if not (run / FUSION_HEAD).is_file():
        raise DataError(
            f"{run} is not a fusion run (no {FUSION_HEAD}): it cannot place new entities from "
            "features; train with --fusion and feature options"
        )
    return FusionHead.from_bytes((run / FUSION_HEAD).read_bytes())


def load_best_weights(run: Path, device: str = "cpu") -> dict[str, dict[str, Tensor]]:
    """The best weights of a run being resumed."""
    if (run / BEST_WEIGHTS).is_file():
        loaded: dict[str, dict[str, Tensor]] = torch.load(
            run / BEST_WEIGHTS, map_location=device, weights_only=True
        )
        return loaded
    best, _, _ = load_model(run, device)
    return {"entities": best.entities.weights(), "relations": best.relations.weights()}


def save_checkpoint(run: Path, model: KGEModel, progress: dict[str, Any]) -> None:
    state = {"entities": model.entities.state(), "relations": model.relations.state(), **progress}
    with atomic.atomic_path(run / CHECKPOINT) as tmp:
        torch.save(state, tmp)


def load_checkpoint(run: Path, model: KGEModel) -> dict[str, Any]:
    path = run / CHECKPOINT
    if not path.is_file():
        raise TrainingError(f"cannot resume: {path} does not exist")
    state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    model.entities.load_state(state.pop("entities"))
    model.relations.load_state(state.pop("relations"))
    return state


def read_config(run: Path) -> tuple[TrainConfig, dict[str, Any]]:
    """The run's training configuration and the rest of ``config.json`` (dataset, versions)."""
    data = read_json(run / CONFIG)
    try:
        config = TrainConfig.model_validate(data["train"])
    except (KeyError, ValueError) as e:
        raise DataError(f"{run / CONFIG}: not a valid training configuration ({e})") from None
    return config, data


def load_model(run: Path, device: str = "cpu") -> tuple[KGEModel, list[str], list[str]]:
    """The trained model of a run folder with its entity and relation id maps."""
    config, _ = read_config(run)
    # A fusion run's entity table holds its fused vectors: served and ranked as they are.
    config = config.model_copy(update={"device": device, "fusion": "none"})
    entity_ids = read_id_map(run / "entities.dict")
    relation_names = read_id_map(run / "relations.dict")
    model = build_model(config, len(entity_ids), len(relation_names), torch.Generator())
    for table, name in ((model.entities, ENTITY_EMB), (model.relations, RELATION_EMB)):
        path = run / name
        if not path.is_file():
            raise DataError(f"{path} is missing: the run has not finished an epoch yet")
        if not isinstance(table, EmbeddingTable):
            raise TrainingError("only embedding-table models can be loaded from .npy files")
        try:
            table.load_weight(np.load(path))
        except ValueError as e:
            raise DataError(f"{path}: {e}; it does not match {run / CONFIG}") from None
    return model, entity_ids, relation_names


def load_artifact(run: Path) -> ServingArtifact:
    """A run folder's serving artefact (``mmkg embeddings write RUN_DIR``): for runs trained
    elsewhere; a run trained in this process hands its artefact over in memory."""
    if not run.is_dir():
        raise DataError(f"{run} is not a run folder (make one with `mmkg train`)")
    model, entity_ids, relation_names = load_model(run)
    config, _ = read_config(run)
    metrics_file = run / METRICS
    metrics = read_json(metrics_file) if metrics_file.is_file() else {}
    artifact = model.to_artifact(config, entity_ids, relation_names, metrics)
    if (run / FUSION_HEAD).is_file():
        # A fused run: its served vectors are the fused ones, and the head places new entities.
        artifact.fusion = FusionHead.from_bytes((run / FUSION_HEAD).read_bytes())
        artifact.encoders = {m["name"]: m["source"] for m in artifact.fusion.modalities}
    return artifact


def plot_curves(run: Path, history: list[dict[str, Any]]) -> None:
    """``curves.png``: training loss and validation MRR per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax_loss = plt.subplots(figsize=(7, 4), dpi=100)
    ax_loss.plot(epochs, [h["loss"] for h in history], color="tab:blue", label="training loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss", color="tab:blue")
    validated = [h for h in history if h.get("valid_mrr") is not None]
    if validated:
        ax_mrr = ax_loss.twinx()
        ax_mrr.plot(
            [h["epoch"] for h in validated],
            [h["valid_mrr"] for h in validated],
            color="tab:red",
            marker="o",
            label="validation MRR",
        )
        ax_mrr.set_ylabel("validation MRR (filtered)", color="tab:red")
    ax_loss.set_title(run.name)
    fig.tight_layout()
    with atomic.atomic_path(run / CURVES) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def save_splits(run: Path, data: KGDataset) -> None:
    atomic.save_npz(run / SPLITS_FILE, train=data.train, valid=data.valid, test=data.test)


def run_dataset(
    run: Path, folder: Path | None = None, order: str | None = None, extend: bool = False
) -> KGDataset:
    """The data to evaluate a run on, numbered by the run's id maps.

    ``folder`` defaults to the dataset the run was trained on (its split, for Neo4j data).
    Triples naming entities or relations the run has no vector for are counted in
    ``unknown``; they cannot be ranked — unless ``extend``: then entities new to the run are
    numbered after the run's own (for a fused run to place them from their features).
    """
    _, meta = read_config(run)
    described = meta.get("dataset", {})
    entity_ids = read_id_map(run / "entities.dict")
    relation_names = read_id_map(run / "relations.dict")
    if folder is None and described.get("source") == "neo4j":
        with np.load(run / SPLITS_FILE) as arrays:
            splits = {k: arrays[k] for k in ("train", "valid", "test")}
        return KGDataset(entity_ids, relation_names, **splits, source="neo4j")
    if folder is None:
        folder = Path(described.get("source", ""))
        if not folder.is_dir():
            raise DataError(f"{run} was trained on {folder}, which is not here; pass --data DIR")
    use_order = order or described.get("order", "hrt")
    splits, unknown = encode_with(folder, entity_ids, relation_names, use_order, extend)  # type: ignore[arg-type]
    return KGDataset(
        entity_ids, relation_names, splits["train"], splits["valid"], splits["test"],
        source=str(folder), order=use_order, unknown=unknown,
    )  # fmt: skip
