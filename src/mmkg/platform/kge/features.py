"""Per-entity features of one modality, aligned with a dataset's entity ids (no torch here).

A :class:`Modality` is a frozen ``[entities, width]`` matrix (float16 or float32, possibly
memory-mapped) with a mask of the entities that have it; ``source`` names what made it
(``minilm@0.1.0``, a file). Readers take text files (``id<TAB>text``, encoded by a text
encoder and cached), numeric literals (``entity<TAB>attribute<TAB>value``, MMKB's format) and
precomputed vectors (``.npy`` with an ``.ids`` list beside it, or ``id<TAB>v1 v2 …``). Bad
rows are reported with file:line and counted; an entity without a row is masked, never zero
filled.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mmkg.errors import DataError
from mmkg.platform import atomic
from mmkg.platform.progress import progress
from mmkg.platform.readers.lines import Reject

log = logging.getLogger(__name__)

# Modalities the project knows by name; any other NAME of --features is a modality of its own.
KNOWN = ("text", "image", "video", "numeric")
_SHOWN = 5
# Entity rows encoded per text-encoder call (bounds the texts held at once).
_TEXT_BATCH = 2048


@dataclass
class Modality:
    """Features of ``name`` for every entity of one numbering; ``mask[i]``: entity i has it."""

    name: str
    values: npt.NDArray[Any]  # [rows, width], float16 or float32 (may be a memmap)
    mask: npt.NDArray[np.bool_]  # [entities]
    source: str
    # Row of ``values`` per entity where the rows are not the entities themselves (a cached
    # matrix in its file's order, shared by every numbering of the same file).
    row_of: npt.NDArray[np.int64] | None = None
    # What turns raw values into these features (numeric: each attribute's scaling), so that
    # new entities are encoded the same way.
    meta: dict[str, Any] = field(default_factory=dict)

    def subset(self, index: npt.NDArray[np.int64]) -> Modality:
        """The same modality over the entities ``index`` (in that order)."""
        return Modality(self.name, self.rows(index), self.mask[index], self.source, None,
                        self.meta)  # fmt: skip

    def rows(self, index: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Features of entities ``index`` as float32 (zeros where absent; see ``mask``)."""
        if self.row_of is None:
            return np.asarray(self.values[index], dtype=np.float32)
        rows = self.row_of[index]
        out = np.asarray(self.values[np.maximum(rows, 0)], dtype=np.float32)
        out[rows < 0] = 0.0
        return out

    @property
    def width(self) -> int:
        return int(self.values.shape[1])

    @property
    def present(self) -> int:
        return int(self.mask.sum())

    def describe(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "entities": self.present,
            "of": len(self.mask),
            "dtype": str(self.values.dtype),
            "source": self.source,
        }


@dataclass
class FeatureReport:
    """What a reader kept and why it dropped the rest."""

    path: str
    rows: int = 0
    kept: int = 0
    unknown_ids: int = 0

    def summary(self) -> str:
        return (
            f"{self.path}: {self.kept} of {self.rows} rows used, {self.unknown_ids} name ids "
            "the dataset does not have"
        )


def _raise_rejects(path: Path, rejects: list[Reject]) -> None:
    shown = "\n".join(f"  {r}" for r in rejects[:_SHOWN])
    more = f"\n  … and {len(rejects) - _SHOWN} more" if len(rejects) > _SHOWN else ""
    raise DataError(f"{len(rejects)} bad row(s) in {path}; nothing was loaded:\n{shown}{more}")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise DataError(f"feature file {path} does not exist")
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            line = line.rstrip("\n").rstrip("\r")
            if line.strip():
                yield number, line


def _check_unknown(report: FeatureReport, unknown: list[tuple[int, str]], name: str) -> None:
    report.unknown_ids = len(unknown)
    if unknown:
        where = ", ".join(f"{report.path}:{n} ({i!r})" for n, i in unknown[:_SHOWN])
        log.warning(
            "%s: %d row(s) name ids the dataset does not have and are not used (%s%s)",
            name,
            len(unknown),
            where,
            ", …" if len(unknown) > _SHOWN else "",
        )


def _require_some(mask: npt.NDArray[np.bool_], name: str, path: Path, hint: str) -> None:
    if not mask.any():
        raise DataError(f"modality {name!r}: no entity of the dataset has a row in {path}; {hint}")


def read_vectors(path: Path, entity_ids: Sequence[str], name: str) -> Modality:
    """Precomputed vectors: ``FILE.npy`` with ``FILE.ids`` (one id per line, row order) or a
    TSV ``id<TAB>v1 v2 …``. Width, NaN/inf and duplicate ids are checked per row."""
    index = {e: i for i, e in enumerate(entity_ids)}
    report = FeatureReport(str(path))
    rejects: list[Reject] = []
    unknown: list[tuple[int, str]] = []
    if path.suffix == ".npy":
        ids_path = path.with_suffix(".ids")
        if not ids_path.is_file():
            raise DataError(f"{path} needs its id list {ids_path} (one entity id per line)")
        matrix = np.load(path, mmap_mode="r")
        if matrix.ndim != 2:
            raise DataError(f"{path}: expected a 2-d array of vectors, got shape {matrix.shape}")
        ids = [line.strip() for line in ids_path.read_text(encoding="utf-8").splitlines()]
        if len(ids) != matrix.shape[0]:
            raise DataError(
                f"{ids_path} lists {len(ids)} ids for the {matrix.shape[0]} rows of {path}"
            )
        width = int(matrix.shape[1])
        rows_of: dict[int, int] = {}
        for row, ident in enumerate(ids):
            if ident not in index:
                unknown.append((row + 1, ident))
            elif index[ident] in rows_of:
                rejects.append(Reject(str(ids_path), row + 1, f"id {ident!r} listed twice"))
            else:
                rows_of[index[ident]] = row
        values = np.zeros((len(entity_ids), width), dtype=np.float32)
        mask = np.zeros(len(entity_ids), dtype=bool)
        if rows_of:
            targets = np.fromiter(rows_of.keys(), dtype=np.int64)
            sources = np.fromiter(rows_of.values(), dtype=np.int64)
            values[targets] = np.asarray(matrix[sources], dtype=np.float32)
            mask[targets] = True
            bad = ~np.isfinite(values[targets]).all(axis=1)
            for t in targets[bad][:50]:
                rejects.append(
                    Reject(str(path), rows_of[int(t)] + 1, "NaN or infinite value", unit="row")
                )
        report.rows = len(ids)
    else:
        width = -1
        values_list: list[npt.NDArray[np.float32]] = []
        targets_list: list[int] = []
        seen: dict[int, int] = {}
        for number, line in _lines(path):
            report.rows += 1
            ident, sep, rest = line.partition("\t")
            if not sep:
                rejects.append(Reject(str(path), number, "expected 'id<TAB>v1 v2 …'", line[:80]))
                continue
            try:
                vec = np.asarray(rest.replace("\t", " ").split(), dtype=np.float32)
            except ValueError:
                rejects.append(Reject(str(path), number, "a value is not a number", line[:80]))
                continue
            if width < 0:
                width = len(vec)
            if len(vec) != width or width == 0:
                rejects.append(
                    Reject(str(path), number, f"{len(vec)} values where the first row has {width}")
                )
                continue
            if not np.isfinite(vec).all():
                rejects.append(Reject(str(path), number, "NaN or infinite value"))
                continue
            if ident not in index:
                unknown.append((number, ident))
                continue
            if index[ident] in seen:
                rejects.append(
                    Reject(str(path), number, f"id {ident!r} already on line {seen[index[ident]]}")
                )
                continue
            seen[index[ident]] = number
            targets_list.append(index[ident])
            values_list.append(vec)
        values = np.zeros((len(entity_ids), max(width, 0)), dtype=np.float32)
        mask = np.zeros(len(entity_ids), dtype=bool)
        if targets_list:
            values[targets_list] = np.stack(values_list)
            mask[targets_list] = True
    if rejects:
        _raise_rejects(path, rejects)
    _check_unknown(report, unknown, name)
    _require_some(mask, name, path, "check that its ids are the dataset's entity ids")
    report.kept = int(mask.sum())
    log.info("%s: %s", name, report.summary())
    return Modality(name, values, mask, f"file:{path.name}")


def parse_literals(path: Path) -> tuple[list[tuple[int, str, str, float]], list[Reject]]:
    """The rows ``(line, entity, attribute, value)`` of a literals file
    (``entity<TAB>attribute<TAB>value``, MMKB's format) and its bad lines."""
    rows: list[tuple[int, str, str, float]] = []
    rejects: list[Reject] = []
    for number, line in _lines(path):
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            rejects.append(
                Reject(str(path), number, "expected 'entity<TAB>attribute<TAB>value'", line[:80])
            )
            continue
        ident, attribute, raw = parts
        try:
            value = float(raw)
        except ValueError:
            rejects.append(Reject(str(path), number, f"value {raw!r} is not a number"))
            continue
        if not math.isfinite(value):
            rejects.append(Reject(str(path), number, "NaN or infinite value"))
            continue
        rows.append((number, ident, attribute, value))
    return rows, rejects


def numeric_modality(
    count: int,
    cells: dict[tuple[int, str], list[float]],
    source: str,
    scaling: list[list[Any]] | None = None,
    name: str = "numeric",
) -> Modality:
    """Numeric features of ``count`` entities from ``cells`` ((entity row, attribute) → values).

    Each attribute is standardised over the entities that have it (log-scaled first when it
    spans orders of magnitude, as populations do); an entity's features are the values and,
    beside them, one presence bit per attribute, so a missing value is masked, not a 0 that
    looks like data. A repeated (entity, attribute) keeps the mean of its values. ``scaling``
    (``[attribute, log, mean, std]`` per attribute, as ``meta["scaling"]`` records it) applies a
    trained run's statistics to new entities instead of computing them.
    """
    names = sorted({a for _, a in cells}) if scaling is None else [row[0] for row in scaling]
    column = {a: c for c, a in enumerate(names)}
    a = len(names)
    raw = np.full((count, a), np.nan, dtype=np.float64)
    for (row, attribute), vals in cells.items():
        if attribute in column:
            raw[row, column[attribute]] = float(np.mean(vals))
    present = ~np.isnan(raw)
    values = np.zeros((count, 2 * a), dtype=np.float32)
    stats: list[list[Any]] = []
    for c in range(a):
        col = raw[present[:, c], c]
        if scaling is None:
            log_scale = bool(len(col) and col.min() > 0 and col.max() / col.min() > 1e3)
            scaled = np.log(col) if log_scale else col
            mean = float(scaled.mean()) if len(col) else 0.0
            std = float(scaled.std()) if len(col) > 1 else 0.0
        else:
            _, log_scale, mean, std = scaling[c]
            scaled = np.log(np.maximum(col, 1e-300)) if log_scale else col
        stats.append([names[c], log_scale, mean, std])
        values[present[:, c], c] = np.clip((scaled - mean) / (std if std > 0 else 1.0), -5, 5)
    values[:, a:] = present
    mask: npt.NDArray[np.bool_] = np.asarray(present.any(axis=1))
    return Modality(name, values, mask, source, meta={"scaling": stats})


def read_numeric(path: Path, entity_ids: Sequence[str], name: str = "numeric") -> Modality:
    """Numeric literals of a file (see :func:`numeric_modality`); bad lines are named."""
    index = {e: i for i, e in enumerate(entity_ids)}
    rows, rejects = parse_literals(path)
    if rejects:
        _raise_rejects(path, rejects)
    report = FeatureReport(str(path), rows=len(rows))
    unknown = [(n, e) for n, e, _, _ in rows if e not in index]
    _check_unknown(report, unknown, name)
    cells: dict[tuple[int, str], list[float]] = {}
    for _, ident, attribute, value in rows:
        if ident in index:
            cells.setdefault((index[ident], attribute), []).append(value)
    modality = numeric_modality(len(entity_ids), cells, f"literals:{path.name}", name=name)
    _require_some(modality.mask, name, path, "check that its entity ids are the dataset's")
    report.kept = int(modality.mask.sum())
    log.info("%s: %s; %d attributes", name, report.summary(), modality.width // 2)
    return modality


def read_texts(path: Path) -> dict[str, tuple[int, str]]:
    """``id<TAB>text`` lines (e.g. WN18RR's entity2text.txt): id → (line, text)."""
    texts: dict[str, tuple[int, str]] = {}
    rejects: list[Reject] = []
    for number, line in _lines(path):
        ident, sep, text = line.partition("\t")
        if not sep or not text.strip():
            rejects.append(Reject(str(path), number, "expected 'id<TAB>text'", line[:80]))
        elif ident in texts:
            rejects.append(
                Reject(str(path), number, f"id {ident!r} already on line {texts[ident][0]}")
            )
        else:
            texts[ident] = (number, text.strip())
    if rejects:
        _raise_rejects(path, rejects)
    return texts


def encode_text_file(
    path: Path,
    entity_ids: Sequence[str],
    encoder: str = "minilm",
    cache: Path | None = None,
    name: str = "text",
    show_progress: bool | None = None,
) -> Modality:
    """Encode an ``id<TAB>text`` file with a text encoder; the vectors are cached (float16,
    memory-mapped) under ``cache`` by the file's content, the ids and the encoder."""
    # The encoder stack (sentence-transformers, torch) loads only when texts are encoded.
    from mmkg.platform.encoders.registry import load_encoder

    texts = read_texts(path)
    known = set(entity_ids)
    unknown = [(n, i) for i, (n, _) in texts.items() if i not in known]
    report = FeatureReport(str(path), rows=len(texts))
    _check_unknown(report, sorted(unknown), name)
    file_row = {ident: row for row, ident in enumerate(texts)}
    row_of = np.array([file_row.get(e, -1) for e in entity_ids], dtype=np.int64)
    mask = row_of >= 0
    _require_some(mask, name, path, "check that its ids are the dataset's entity ids")
    model = load_encoder(encoder)
    # The cache is keyed by the file and the encoder only, and holds the file's rows in its
    # order: every dataset numbering (a cold-start split, a re-export) shares it.
    digest = hashlib.sha256(path.read_bytes())
    digest.update(model.label.encode())
    target = cache / f"{name}-{digest.hexdigest()[:20]}.npy" if cache is not None else None
    if target is not None and target.is_file():
        log.info("%s: vectors of %s by %s from the cache %s", name, path, model.label, target)
        return Modality(name, np.load(target, mmap_mode="r"), mask, model.label, row_of)
    values = np.zeros((len(texts), model.dim), dtype=np.float16)
    ordered = list(texts.values())
    with progress(len(ordered), f"encode {name}", "text", show_progress) as bar:
        for lo in range(0, len(ordered), _TEXT_BATCH):
            part = [text for _, text in ordered[lo : lo + _TEXT_BATCH]]
            values[lo : lo + len(part)] = model.encode_texts(part, batch_size=64)
            bar.update(len(part))
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic.save_npy(target, values)
        values = np.load(target, mmap_mode="r")
    report.kept = int(mask.sum())
    log.info("%s: %s, encoded by %s", name, report.summary(), model.label)
    return Modality(name, values, mask, model.label, row_of)


def parse_feature_option(option: str) -> tuple[str, Path]:
    """``NAME=FILE`` of ``--features``."""
    name, sep, file = option.partition("=")
    name = name.strip().lower()
    if not sep or not name or not file:
        raise DataError(f"--features takes NAME=FILE (e.g. image=vectors.npy), got {option!r}")
    if not name.isidentifier():
        raise DataError(f"--features: modality name {name!r} must be a plain word")
    return name, Path(file)


def load_modalities(
    entity_ids: Sequence[str],
    text: Path | None = None,
    text_encoder: str = "minilm",
    numeric: Path | None = None,
    vectors: Sequence[str] = (),
    cache: Path | None = None,
    show_progress: bool | None = None,
) -> list[Modality]:
    """The modalities named on the command line (``--text``, ``--numeric``,
    ``--features NAME=FILE``), over ``entity_ids``; one name may be given once."""
    out: list[Modality] = []
    if text is not None:
        out.append(encode_text_file(text, entity_ids, text_encoder, cache, "text", show_progress))
    if numeric is not None:
        out.append(read_numeric(numeric, entity_ids))
    for option in vectors:
        name, path = parse_feature_option(option)
        out.append(read_vectors(path, entity_ids, name))
    names = [m.name for m in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"modality {', '.join(twice)} given twice; name each modality once")
    return out
