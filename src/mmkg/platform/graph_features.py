"""Per-entity features for fusion, read from the graph: each entity's own text vector (made
by ``mmkg features entities``), the features of the images and videos that depict or mention
it, mean-pooled per entity, and its numeric literals (``mmkg ingest literals``). Each
modality records the encoder that made it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from mmkg.errors import ConfigError, DataError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.names import encoder_key, feature_encoder_property, feature_property
from mmkg.platform.encoders.registry import load_encoder
from mmkg.platform.kge.features import Modality, numeric_modality
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)

GRAPH_MODALITIES = ("text", "image", "video", "numeric")
# The source recorded for literals read from the graph (`mmkg ingest literals`).
GRAPH_LITERALS = "literals:graph"
_MEDIA_LABEL = {"image": "Image", "video": "Video"}
_PAGE = 5000


def parse_modalities(option: str | None) -> list[str]:
    """``--modalities text,image`` as a list, each checked."""
    if not option:
        return []
    names = [n.strip().lower() for n in option.split(",") if n.strip()]
    bad = [n for n in names if n not in GRAPH_MODALITIES]
    if bad:
        raise ConfigError(
            f"--modalities: unknown {', '.join(bad)}; the graph provides "
            f"{', '.join(GRAPH_MODALITIES)} (other vectors: --features NAME=FILE)"
        )
    return list(dict.fromkeys(names))


def read_graph_modalities(
    graph: Graph,
    settings: Settings,
    entity_ids: Sequence[str],
    names: Sequence[str],
    text_encoder: str | None = None,
    image_encoder: str | None = None,
) -> list[Modality]:
    """The modalities ``names`` over ``entity_ids`` (an export's numbering), from the
    encoders named (default: the settings' text and image encoders)."""
    out = []
    for name in names:
        if name == "numeric":
            out.append(read_literals(graph, entity_ids))
            if not out[-1].mask.any():
                raise DataError(
                    "modality 'numeric': no entity has numeric literals; load them with "
                    "`mmkg ingest literals FILE`"
                )
            continue
        if name == "text":
            spec: str | None = text_encoder or settings.text_encoder
        else:
            spec = image_encoder or settings.image_encoder
            if spec is None:
                raise ConfigError(
                    f"modality {name!r} needs the encoder that made the media's features: pass "
                    "--image-encoder SPEC or set MMKG_IMAGE_ENCODER (as for `mmkg ingest media`)"
                )
        assert spec is not None
        encoder = load_encoder(spec, settings.encoder_device)
        modality = read_modality(graph, entity_ids, name, encoder.label, encoder.dim)
        if not modality.mask.any():
            hint = (
                f"compute them with `mmkg features entities --encoder {encoder.spec}`"
                if name == "text"
                else f"ingest {name} media with `mmkg ingest media` and link them to entities"
            )
            raise DataError(
                f"modality {name!r}: no entity has {name} features of {encoder.label}; {hint}"
            )
        out.append(modality)
    return out


def read_literals(
    graph: Graph, entity_ids: Sequence[str], scaling: list[list[Any]] | None = None
) -> Modality:
    """The numeric literals of ``entity_ids``, scaled as :func:`numeric_modality` does (with a
    trained run's ``scaling`` for new entities)."""
    index = {e: i for i, e in enumerate(entity_ids)}
    cells: dict[tuple[int, str], list[float]] = {}
    for attribute in graph.read(Q.LITERAL_ATTRIBUTES):
        for row in graph.read(Q.ENTITY_LITERALS, {"property": attribute["property"]}):
            i = index.get(row["id"])
            if i is not None and isinstance(row["value"], int | float):
                cells[(i, attribute["name"])] = [float(row["value"])]
    return numeric_modality(len(entity_ids), cells, GRAPH_LITERALS, scaling)


def read_modality(
    graph: Graph,
    entity_ids: Sequence[str],
    name: str,
    label: str,
    dim: int,
    meta: dict[str, Any] | None = None,
) -> Modality:
    """Features of modality ``name`` made by the encoder ``label`` (``spec@version``) for
    ``entity_ids``; entities without them are masked. ``meta``: how a run encoded the
    modality (numeric: its scaling)."""
    if name == "numeric":
        return read_literals(graph, entity_ids, (meta or {}).get("scaling"))
    if name not in GRAPH_MODALITIES:
        raise DataError(
            f"modality {name!r} is not kept in the graph ({', '.join(GRAPH_MODALITIES)} are)"
        )
    spec, _, version = label.partition("@")
    key = encoder_key(spec, version)
    params = {"property": feature_property(key), "encoder_property": feature_encoder_property(key)}
    index = {e: i for i, e in enumerate(entity_ids)}
    values = np.zeros((len(entity_ids), dim), dtype=np.float32)
    mask = np.zeros(len(entity_ids), dtype=bool)
    pooled_media, after = 0, ""
    query = Q.ENTITY_FEATURES if name == "text" else Q.MEDIA_FEATURES_OF_ENTITIES
    if name != "text":
        params["label"] = _MEDIA_LABEL[name]
    while True:
        rows = graph.read(query, {**params, "after": after, "limit": _PAGE})
        if not rows:
            break
        for row in rows:
            i = index.get(row["id"])
            if i is None:
                continue
            vectors = [row["vector"]] if name == "text" else row["vectors"]
            vectors = [v for v in vectors if len(v) == dim]
            if not vectors:
                continue
            # The mean of an entity's media, back on the unit sphere the encoder works on.
            pooled = np.mean(np.asarray(vectors, dtype=np.float32), axis=0)
            values[i] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
            mask[i] = True
            pooled_media += len(vectors)
        after = rows[-1]["id"]
    log.info("%s: %d of %d entities have features of %s (%d vectors)", name, mask.sum(),
             len(mask), label, pooled_media)  # fmt: skip
    return Modality(name, values, mask, label)
