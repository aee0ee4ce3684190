"""``mmkg ingest media``: files → content-addressed :Media nodes with metadata, features and
links to entities. Bad items are recorded with their reason and skipped; the batch goes on."""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmkg.errors import DataError, MmkgError
from mmkg.graph_schema import queries as Q
from mmkg.graph_schema.model import DEPICTS, MENTIONS
from mmkg.graph_schema.names import feature_property, media_index_name
from mmkg.platform.encoders import Encoder, encode_video, load_encoder
from mmkg.platform.encoders.video import probe_video
from mmkg.platform.media.files import Candidate, Rejected, discover, sha256_file
from mmkg.platform.media.manifest import ManifestRow, read_manifest
from mmkg.platform.media.probe import open_image, read_text
from mmkg.platform.progress import progress
from mmkg.platform.schema import require_schema
from mmkg.platform.store import Graph
from mmkg.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class MediaSummary:
    ingest_id: str
    files: int = 0
    created: int = 0
    present: int = 0
    featurised: int = 0
    linked: int = 0
    failed: int = 0
    seconds: float = 0.0
    items_per_second: float = 0.0
    encoders: dict[str, str] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    missing_entities: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    links: dict[str, Any] | None = None  # the entity linker's summary, with --link
    # The content ids ingested (new or present) per kind: what --link links. Not printed.
    ids: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("ids")
        return out


@dataclass
class _Item:
    cand: Candidate
    id: str
    props: dict[str, Any]
    payload: Any = None  # decoded image or text
    vector: np.ndarray[Any, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class _Ingest:
    def __init__(self, graph: Graph, settings: Settings, summary: MediaSummary) -> None:
        self.graph = graph
        self.settings = settings
        self.summary = summary
        self.failures: list[Rejected] = []
        self._encoders: dict[str, Encoder | None] = {}
        self.to_index: dict[str, tuple[str, Encoder]] = {}
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmkg-media-write")
        self.pending: Future[None] | None = None

    def encoder_for(self, kind: str) -> Encoder | None:
        if kind not in self._encoders:
            spec = self.settings.text_encoder if kind == "Text" else self.settings.image_encoder
            enc = load_encoder(spec, self.settings.encoder_device) if spec else None
            if enc is None:
                self.summary.notes.append(
                    f"{kind.lower()}s stored without features: set MMKG_IMAGE_ENCODER "
                    "(clip:PATH or cnn:PATH) to featurise them"
                )
            else:
                self.summary.encoders[kind] = enc.label
            self._encoders[kind] = enc
        return self._encoders[kind]

    def fail(self, path: Path | str, reason: str, stage: str) -> None:
        self.failures.append(Rejected(str(path), reason, stage))
        log.warning("%s: %s", path, reason)

    def prepare(self, cand: Candidate, encoder: Encoder | None) -> _Item | None:
        """Hash, read metadata and decode; None (with a failure recorded) for bad files."""
        try:
            digest = sha256_file(cand.path)
        except OSError as e:
            self.fail(cand.path, f"unreadable ({e.strerror})", "read")
            return None
        props: dict[str, Any] = {
            "id": digest,
            "uri": cand.path.as_uri(),
            "path": str(cand.path),
            "mime": cand.mime,
            "bytes": cand.path.stat().st_size,
            "kind": cand.kind,
        }
        item = _Item(cand, digest, props)
        try:
            if cand.kind == "Image":
                image, meta = open_image(cand.path, self.settings.max_image_pixels)
                props.update(meta)
                item.payload = image
            elif cand.kind == "Text":
                text, meta = read_text(cand.path, self.settings.max_text_bytes)
                props.update(meta)
                item.payload = text
            else:
                probe = probe_video(cand.path)
                props.update(probe.to_props())
                if encoder is not None:
                    s = self.settings
                    feats = encode_video(
                        cand.path, encoder, s.video_frames, s.video_sampling, s.video_pooling,
                        s.video_segments, s.encoder_batch_size, probe,
                    )  # fmt: skip
                    item.vector = feats.vector
                    item.meta["sampled_frames"] = feats.sampled
                    item.meta["sampled_at"] = feats.times
                    if feats.segments is not None:
                        item.meta[f"{feature_property(encoder.key)}_segments"] = [
                            float(x) for x in feats.segments.reshape(-1)
                        ]
                        item.meta["segment_count"] = int(feats.segments.shape[0])
        except DataError as e:
            self.fail(cand.path, str(e), "decode")
            return None
        return item

    def prepare_batch(self, kind: str, cands: list[Candidate]) -> list[_Item]:
        encoder = self.encoder_for(kind)
        return [i for i in (self.prepare(c, encoder) for c in cands) if i is not None]

    def run_batch(self, kind: str, items: list[_Item], links: dict[Path, ManifestRow]) -> None:
        encoder = self.encoder_for(kind)
        prop = feature_property(encoder.key) if encoder else "feat__none"
        if not items:
            return
        self.summary.ids.setdefault(kind, []).extend(i.id for i in items)
        state = {
            r["id"]: r["has_feature"]
            for r in self.graph.read(Q.MEDIA_STATE, {"ids": [i.id for i in items], "feature": prop})
        }
        todo = [i for i in items if not (state.get(i.id) and (encoder is None or state[i.id]))]
        # Already in the graph with this encoder's features: nothing to do for them.
        self.summary.present += len(items) - len(todo)
        if encoder is not None:
            need = [i for i in todo if i.vector is None]
            try:
                if kind == "Text":
                    vecs = encoder.encode_texts(
                        [i.payload for i in need], self.settings.encoder_batch_size
                    )
                elif kind == "Image":
                    vecs = encoder.encode_images(
                        [i.payload for i in need], self.settings.encoder_batch_size
                    )
                else:
                    vecs = np.zeros((0, encoder.dim), dtype=np.float32)
            except MmkgError:
                raise
            except Exception as e:  # one bad batch must not lose the others
                for i in need:
                    self.fail(i.cand.path, f"encoding failed ({type(e).__name__}: {e})", "encode")
                todo = [i for i in todo if i.vector is not None]
                vecs = np.zeros((0, encoder.dim), dtype=np.float32)
            for i, v in zip(need, vecs, strict=False):
                i.vector = v
        self.summary.created += sum(1 for i in todo if i.id not in state)
        rows: list[dict[str, Any]] = []
        for i in todo:
            meta: dict[str, Any] = dict(i.meta)
            if encoder is not None:
                meta[f"{prop}_encoder"] = encoder.label
            vector = None if i.vector is None else i.vector.astype(float).tolist()
            rows.append({"id": i.id, "props": i.props, "vector": vector, "meta": meta})
        self.summary.featurised += sum(1 for r in rows if r["vector"] is not None)
        # The write of this batch overlaps the encoding of the next one.
        self.wait()
        self.pending = self.writer.submit(self._write, kind, encoder, prop, rows, items, links)

    def _write(
        self,
        kind: str,
        encoder: Encoder | None,
        prop: str,
        rows: list[dict[str, Any]],
        items: list[_Item],
        links: dict[Path, ManifestRow],
    ) -> None:
        if rows:
            self.graph.write(Q.merge_media(kind), {"rows": rows, "property": prop})
            if encoder is not None and any(r["vector"] is not None for r in rows):
                self.to_index[media_index_name(kind, encoder.key)] = (kind, encoder)
        present = [str(i.cand.path) for i in items if i.id not in {r["id"] for r in rows}]
        if present:
            self.graph.write(Q.CLEAR_MEDIA_FAILURES, {"paths": present})
        self.link(items, links)

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def build_indexes(self) -> None:
        """Vector indexes for the features written, created after the data (one bulk
        population, cheaper than updating HNSW graphs transaction by transaction) and awaited."""
        for kind, encoder in self.to_index.values():
            create_media_index(self.graph, kind, encoder, wait=False)
        for name in self.to_index:
            self.graph.run_autocommit(Q.AWAIT_INDEX, {"name": name, "timeout": 600})

    def link(self, items: list[_Item], links: dict[Path, ManifestRow]) -> None:
        by_type: dict[str, list[dict[str, Any]]] = {DEPICTS: [], MENTIONS: []}
        captions: list[dict[str, Any]] = []
        for item in items:
            row = links.get(item.cand.path)
            if row is None:
                continue
            rel = row.relation or (MENTIONS if item.cand.kind == "Text" else DEPICTS)
            for entity in row.entities:
                by_type[rel].append(
                    {
                        "media": item.id,
                        "entity": entity,
                        "source": row.source,
                        "caption": row.caption,
                    }
                )
            if row.caption:
                captions.append({"id": item.id, "caption": row.caption})
        if captions:
            self.graph.write(Q.SET_MEDIA_CAPTIONS, {"rows": captions})
        for rel, rows in by_type.items():
            if rows:
                result = self.graph.write_rows(Q.link_media(rel), {"rows": rows})
                self.summary.linked += int(result[0]["linked"] or 0)
                self.summary.missing_entities += [m for m in result[0]["missing"] if m]


def create_media_index(graph: Graph, kind: str, encoder: Encoder, wait: bool = True) -> str:
    """The vector index of one media kind's ``encoder`` features (idempotent); its name."""
    name = media_index_name(kind, encoder.key)
    graph.run_autocommit(
        Q.create_vector_index(kind, feature_property(encoder.key)),
        {"name": name, "options": Q.vector_index_options(encoder.dim, "cosine")},
    )
    if wait:
        graph.run_autocommit(Q.AWAIT_INDEX, {"name": name, "timeout": 600})
    return name


def ingest_media(
    graph: Graph,
    paths: list[Path],
    settings: Settings,
    manifest: Path | None = None,
    show_progress: bool | None = None,
    manifest_files: bool = True,
    restrict_paths: bool = True,
) -> MediaSummary:
    """Ingest media files and folders (and the files a manifest lists).

    Files a manifest lists must lie under MMKG_MEDIA_ROOT (default the current folder), and so
    must ``paths`` unless ``restrict_paths`` is off: the command line turns it off, since a
    file or folder a user names is ingested wherever it is; paths from the workers' queue stay
    restricted.

    Raises:
        IngestError: for a malformed manifest (file:line), before anything is written.
        ConfigError: for an encoder that cannot be loaded.
    """
    started = time.perf_counter()
    links = read_manifest(manifest) if manifest else {}
    summary = MediaSummary(ingest_id=uuid.uuid4().hex[:12])
    root = (settings.media_root or Path.cwd()).resolve()
    # A pipeline batch passes its own share of the manifest's files and only wants its links.
    named, rejected = discover(
        list(paths), root if restrict_paths else None,
        settings.max_media_bytes,
    )  # fmt: skip
    listed, more = discover(list(links) if manifest_files else [], root, settings.max_media_bytes)
    cands = named + [c for c in listed if c.path not in {n.path for n in named}]
    rejected += more
    require_schema(graph)
    job = _Ingest(graph, settings, summary)
    job.failures.extend(rejected)
    summary.files = len(cands)
    batch = settings.encoder_batch_size
    chunks = [
        (kind, group[start : start + batch])
        for kind in ("Image", "Video", "Text")
        for group in [[c for c in cands if c.kind == kind]]
        for start in range(0, len(group), batch)
    ]
    with (
        progress(len(cands), "ingesting media", "file", show_progress) as bar,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmkg-media-read") as reader,
    ):
        # Hashing and decoding the next batch (I/O and C code that releases the GIL) overlaps
        # encoding and writing this one.
        ahead = reader.submit(job.prepare_batch, *chunks[0]) if chunks else None
        for n, (kind, chunk) in enumerate(chunks):
            assert ahead is not None
            items = ahead.result()
            ahead = (
                reader.submit(job.prepare_batch, *chunks[n + 1]) if n + 1 < len(chunks) else None
            )
            job.run_batch(kind, items, links)
            bar.update(len(chunk))
        job.wait()
        job.writer.shutdown()
        job.build_indexes()
    if job.failures:
        graph.write(
            Q.RECORD_MEDIA_FAILURES,
            {"rows": [asdict(f) for f in job.failures], "ingest": summary.ingest_id},
        )
    summary.failed = len(job.failures)
    summary.failures = [asdict(f) for f in job.failures]
    summary.missing_entities = sorted(set(summary.missing_entities))
    summary.seconds = round(time.perf_counter() - started, 3)
    done = summary.created + summary.present
    summary.items_per_second = round(done / summary.seconds, 2) if summary.seconds else 0.0
    return summary
