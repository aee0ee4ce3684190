"""All of mmkg's settings, in one validated object.

Values come from environment variables prefixed ``MMKG_`` (``MMKG_NEO4J_URI`` and so on) or a
``.env`` file in the working directory. Secrets come only from the environment or from the
0600 credentials file that ``mmkg neo4j start`` writes under ``MMKG_HOME``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_NEO4J_VERSION = "5.26.30"


def _default_home() -> Path:
    return Path(os.path.expanduser("~")) / ".mmkg"


class Settings(BaseSettings):
    """mmkg's configuration. Each field maps to the environment variable ``MMKG_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="MMKG_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Field(
        default_factory=_default_home,
        description="Where mmkg keeps the managed Neo4j server, credentials and run output.",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Where downloaded Neo4j jars are cached; default MMKG_HOME/cache. "
        "Several homes may share one cache.",
    )
    neo4j_uri: str | None = Field(
        default=None,
        description="Bolt URI of the Neo4j server; default the managed local server.",
    )
    neo4j_user: str = Field(default="neo4j", description="Neo4j user name.")
    neo4j_password: SecretStr | None = Field(
        default=None,
        description="Neo4j password; default the one in MMKG_HOME/neo4j/credentials. "
        "When set before the managed server's first start, it becomes that server's password.",
    )
    neo4j_database: str = Field(default="neo4j", description="Database to use.")
    neo4j_version: str = Field(
        default=DEFAULT_NEO4J_VERSION, description="Version of the managed Neo4j server."
    )
    neo4j_bolt_port: int = Field(
        default=7687, ge=1, le=65535, description="Bolt port of the managed server (127.0.0.1)."
    )
    neo4j_browser: bool = Field(
        default=False,
        description="Serve Neo4j Browser from the managed server's HTTP connector "
        "(127.0.0.1:MMKG_NEO4J_HTTP_PORT, auth on). Off by default: Bolt stays the only port "
        "and the Browser's jar is fetched only by those who use it; `mmkg neo4j start "
        "--browser` and `mmkg demo` turn it on.",
    )
    neo4j_http_port: int = Field(
        default=7474, ge=1, le=65535, description="HTTP port of the managed server (Browser)."
    )
    neo4j_auth: bool = Field(
        default=True,
        description="Authentication on the managed server. Only turn it off on loopback tests.",
    )
    neo4j_heap: str | None = Field(
        default=None, description="JVM heap of the managed server, e.g. 2g; default sized by RAM."
    )
    neo4j_pagecache: str | None = Field(
        default=None, description="Page cache of the managed server, e.g. 1g; default by RAM."
    )
    neo4j_cache_heap_fraction: float = Field(
        default=0.5,
        ge=0.05,
        le=0.9,
        description="Share of the managed server's heap that mmkg's plugin may use to cache run "
        "matrices and ANN graphs (the server setting dbms.mmkg.cache.max_heap_fraction).",
    )
    neo4j_plugin_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Threads of mmkg's plugin (dbms.mmkg.concurrency); default one per core.",
    )
    neo4j_start_timeout: float = Field(
        default=180.0, gt=0, description="Seconds to wait for Bolt after `mmkg neo4j start`."
    )
    neo4j_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long mmkg retries a transaction on transient or connection errors "
        "before it reports the error (a real bound: no retry starts after it; workers then "
        "retry the task with backoff).",
    )
    neo4j_deprecations: Literal["ignore", "warn", "error"] = Field(
        default="ignore",
        description="What a deprecation notice from Neo4j about one of mmkg's own queries does: "
        "ignore, warn (log it) or error (fail the call; the test suite's setting).",
    )
    java_home: Path | None = Field(
        default=None,
        description="JDK 17 or 21 for the managed server; default found on the machine.",
    )
    ingest_batch_size: int = Field(
        default=20_000, ge=1, le=1_000_000, description="Rows per write transaction."
    )
    max_field_chars: int = Field(
        default=4096,
        ge=16,
        description="Longest id, name or relation accepted in ingest; longer lines are rejected.",
    )
    max_text_chars: int = Field(
        default=100_000, ge=16, description="Longest description accepted in entity ingest."
    )

    kge_max_memory: str | None = Field(
        default=None,
        description="Most memory a training or evaluation job may plan to use, e.g. 8g; "
        "default 80% of the memory available when the job starts.",
    )

    embedding_batch_size: int = Field(
        default=5_000, ge=1, le=1_000_000, description="Vectors per write transaction."
    )
    embedding_write_threads: int = Field(
        default=2, ge=1, le=64, description="Concurrent write transactions of a write-back."
    )
    # Recall over build time: at 100k random 200-d vectors, m=32/ef=200 lifts recall@10 (100
    # candidates, re-scored) from 0.80 to 0.92 for twice the build time (bench/predict_latency).
    vector_index_m: int = Field(
        default=32, ge=2, le=512, description="HNSW links per node of the ANN vector indexes."
    )
    vector_index_ef_construction: int = Field(
        default=200, ge=2, le=3200, description="HNSW candidate list size while building indexes."
    )
    vector_index_quantization: bool = Field(
        default=False,
        description="Let Neo4j quantize indexed vectors (smaller, lower recall; candidates are "
        "re-scored exactly either way).",
    )
    vector_index_timeout: float = Field(
        default=3600.0, gt=0, description="Seconds to wait for a new vector index to come online."
    )

    text_encoder: str = Field(
        default="minilm",
        description="Encoder of text documents and entity texts: minilm (bundled), st:PATH, "
        "or a local sentence-transformers folder.",
    )
    image_encoder: str | None = Field(
        default=None,
        description="Encoder of images and video frames: clip:PATH (texts and images in one "
        "space, needed for cross-modal search) or cnn:PATH; unset = media get no image features.",
    )
    linker_model: Path | None = Field(
        default=None,
        description="Entity linker model (JSON, from `mmkg link train`); default the packaged "
        "one, trained on the FB15k-237 linking set.",
    )
    link_new_media: bool = Field(
        default=True,
        description="The workers' new-media pipeline links texts and images to entities "
        "after featurising them.",
    )
    linker_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Links scored below this are NIL; default the model's calibrated one.",
    )
    encoder_device: str = Field(default="cpu", description="cpu, cuda or cuda:N for encoders.")
    encoder_batch_size: int = Field(default=32, ge=1, le=4096, description="Items per forward.")
    video_frames: int = Field(default=8, ge=1, le=512, description="Frames sampled per video.")
    video_sampling: str = Field(default="uniform", description="uniform or scenes.")
    video_pooling: str = Field(default="mean", description="mean, max or attention.")
    video_segments: int = Field(
        default=0, ge=0, le=64, description="Per-segment vectors per video (0 = none)."
    )
    media_root: Path | None = Field(
        default=None,
        description="Only files under this folder may be ingested (symlinks never); default "
        "the current directory.",
    )
    max_image_pixels: int = Field(
        default=89_478_485, ge=1, description="Larger images are refused as decompression bombs."
    )
    max_text_bytes: int = Field(
        default=10 * 1024**2,
        ge=1,
        description="Larger .txt/.md documents are refused (their whole text is encoded).",
    )
    max_media_bytes: int = Field(
        default=2 * 1024**3, ge=1, description="Larger media files are refused."
    )

    broker_url: str | None = Field(
        default=None,
        description="Celery broker, e.g. redis://127.0.0.1:6379/0; default a filesystem "
        "queue under MMKG_HOME/broker (zero setup, one machine).",
    )
    result_backend: str | None = Field(
        default=None,
        description="Celery result backend; default the Redis broker itself, else SQLite "
        "under MMKG_HOME.",
    )
    broker_visibility_timeout: int = Field(
        default=30,
        ge=5,
        description="Redis: seconds after which a task whose worker died is redelivered. Live "
        "workers renew the tasks they hold every sixth of it, so a long task is not delivered "
        "twice; RabbitMQ redelivers as soon as the dead worker's connection drops.",
    )
    task_lease_seconds: int = Field(
        default=20,
        ge=3,
        description="A running task's lease on its job record, renewed every third of it: a "
        "duplicate delivery waits while the lease is held, and takes over once it ran out.",
    )
    task_time_limit: int = Field(default=6 * 3600, ge=1, description="Hard limit per task (s).")
    task_max_retries: int = Field(
        default=20, ge=0, description="Retries of a task after transient errors (with backoff)."
    )
    task_retry_backoff_max: int = Field(
        default=60, ge=1, description="Longest wait between two retries (s)."
    )
    schedule: str | None = Field(
        default=None,
        description="Beat schedule: JSON, or a path to a JSON file (see the README).",
    )
    activation_tolerance: float = Field(
        default=0.0,
        ge=0,
        description="A retrained run is activated only if its validation MRR is at least the "
        "active run's minus this.",
    )
    worker_preload: bool = Field(
        default=True, description="Workers load the configured encoders when they start."
    )

    web_host: str = Field(
        default="127.0.0.1",
        description="`mmkg serve` listens here; loopback by default (give 0.0.0.0 behind a "
        "reverse proxy that terminates TLS).",
    )
    web_port: int = Field(default=8000, ge=1, le=65535, description="`mmkg serve`'s port.")
    web_max_request_bytes: int = Field(
        default=1024**2, ge=1024, description="Largest request body other than an upload."
    )
    web_max_upload_bytes: int = Field(
        default=25 * 1024**2,
        ge=1024,
        description="Largest upload (a query image, media to ingest); larger ones get 413.",
    )
    web_cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the REST API from a browser (JSON list); none by "
        "default, so CORS is off.",
    )
    web_session_hours: float = Field(
        default=12.0, gt=0, le=24 * 30, description="How long a workbench login lasts."
    )
    web_thumbnail_px: int = Field(
        default=256, ge=32, le=2048, description="Longest side of the workbench's thumbnails."
    )

    @field_validator("home", "cache_dir", "java_home", "media_root", mode="before")
    @classmethod
    def _expand(cls, value: object) -> object:
        if isinstance(value, str) and value:
            return Path(os.path.expanduser(value))
        return value

    @field_validator("neo4j_heap", "neo4j_pagecache", "kge_max_memory")
    @classmethod
    def _memory_size(cls, value: str | None) -> str | None:
        if value is not None:
            parse_memory(value)
        return value

    @property
    def neo4j_dir(self) -> Path:
        """Folder of the managed server (config, data, logs, pid file, credentials)."""
        return self.home / "neo4j"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.home / "cache"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def broker_folder(self) -> Path:
        return self.home / "broker"

    @property
    def resolved_result_backend(self) -> str:
        if self.result_backend:
            return self.result_backend
        if self.broker_url and self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return f"db+sqlite:///{self.home / 'celery-results.sqlite'}"

    @property
    def upload_dir(self) -> Path:
        """Where the web API stores uploaded media before the workers ingest them."""
        return self.home / "uploads"

    @property
    def thumbnail_dir(self) -> Path:
        return self.resolved_cache_dir / "thumbnails"

    @property
    def credentials_file(self) -> Path:
        return self.neo4j_dir / "credentials"

    @property
    def uri(self) -> str:
        """The Bolt URI to connect to: MMKG_NEO4J_URI, else the managed server."""
        return self.neo4j_uri or f"bolt://127.0.0.1:{self.neo4j_bolt_port}"

    @property
    def uses_managed_server(self) -> bool:
        return self.neo4j_uri is None


_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_memory(text: str) -> int:
    """Parse a JVM-style size such as ``512m`` or ``2g`` into bytes.

    >>> parse_memory("2g")
    2147483648
    """
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _UNITS and not value[-1:].isdigit() else ""
    number = value[: len(value) - len(unit)]
    if not number.isdigit() or int(number) <= 0:
        raise ValueError(f"invalid memory size {text!r}; use a number with k, m or g, e.g. 512m")
    return int(number) * _UNITS[unit]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
