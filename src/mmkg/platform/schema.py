"""Applying and describing the graph schema (:mod:`mmkg.graph_schema.migrations`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from mmkg.errors import QueryError, SchemaError
from mmkg.graph_schema import MIGRATIONS, SCHEMA_VERSION
from mmkg.graph_schema import queries as Q
from mmkg.platform.store import Graph

log = logging.getLogger(__name__)


@dataclass
class SchemaReport:
    version: int
    target_version: int
    applied_now: list[int] = field(default_factory=list)
    migrations: list[dict[str, Any]] = field(default_factory=list)
    constraints: list[dict[str, Any]] = field(default_factory=list)
    indexes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "target_version": self.target_version,
            "applied_now": self.applied_now,
            "migrations": self.migrations,
            "constraints": self.constraints,
            "indexes": self.indexes,
        }


def applied_migrations(graph: Graph) -> dict[int, dict[str, Any]]:
    return {row["version"]: row for row in graph.read(Q.APPLIED_MIGRATIONS)}


def apply_schema(graph: Graph, await_seconds: int = 300) -> SchemaReport:
    """Apply every pending migration in order; safe to run any number of times.

    Raises:
        SchemaError: when a recorded migration's checksum differs from the code's (the schema
            in the graph was made by another version of mmkg).
    """
    done = applied_migrations(graph)
    applied_now = []
    pending = [m for m in MIGRATIONS if m.version not in done]
    if pending:
        from mmkg.platform.schema_repair import describe_duplicates, find_duplicates

        found = find_duplicates(graph)
        if found:
            raise SchemaError(
                "the graph holds nodes that the schema's uniqueness constraints forbid, "
                f"so they cannot be created: {describe_duplicates(found)}. They were most "
                "likely made by loads that ran before the schema was applied. "
                "`mmkg schema repair --dry-run` shows how each would be merged; "
                "`mmkg schema repair` merges them (deterministically, keeping every "
                "relationship and property), then run `mmkg schema apply` again"
            )
    for migration in MIGRATIONS:
        recorded = done.get(migration.version)
        if recorded is not None:
            if recorded["checksum"] != migration.checksum:
                raise SchemaError(
                    f"schema migration {migration.version} in the graph has checksum "
                    f"{recorded['checksum']}, this mmkg expects {migration.checksum}; the graph "
                    "was set up by a different mmkg version"
                )
            continue
        log.info("applying schema migration %d: %s", migration.version, migration.description)
        for statement in migration.statements:
            # Schema commands cannot share a transaction with data writes.
            try:
                graph.run_autocommit(statement)
            except QueryError as e:
                if "ConstraintCreationFailed" in str(e) or "already exists" in str(e).lower():
                    raise SchemaError(
                        f"schema migration {migration.version} could not be applied ({e}); "
                        "if another load wrote duplicates meanwhile, run `mmkg schema repair`"
                    ) from e
                raise
        graph.write(
            Q.RECORD_MIGRATION,
            {
                "version": migration.version,
                "description": migration.description,
                "checksum": migration.checksum,
            },
        )
        applied_now.append(migration.version)
    if applied_now:
        graph.run_autocommit(Q.AWAIT_INDEXES, {"timeout": await_seconds})
    report = describe_schema(graph)
    report.applied_now = applied_now
    return report


def describe_schema(graph: Graph) -> SchemaReport:
    """The schema version in the graph, its migrations, constraints and indexes."""
    done = applied_migrations(graph)
    return SchemaReport(
        version=max(done, default=0),
        target_version=SCHEMA_VERSION,
        migrations=[done[v] for v in sorted(done)],
        constraints=graph.read(Q.SHOW_CONSTRAINTS),
        indexes=graph.read(Q.SHOW_INDEXES),
    )


def require_schema(graph: Graph) -> None:
    """Make sure the graph's schema is current before a write: every write path calls this.

    Without the uniqueness constraints, concurrent loads duplicate entities. The managed server
    gets its schema when it starts (and here, should it be missing); on a server mmkg did not
    start, pending migrations are an error that names the fix, since applying a schema is the
    administrator's decision.

    Raises:
        SchemaError: pending migrations on a server mmkg does not manage.
    """
    if graph.schema_current:
        return
    done = applied_migrations(graph)
    if all(m.version in done for m in MIGRATIONS):
        graph.schema_current = True
        return
    if graph.managed:
        apply_schema(graph)
        graph.schema_current = True
        return
    version = max(done, default=0)
    raise SchemaError(
        f"the graph at {graph.uri} has schema version {version}, this mmkg writes to version "
        f"{SCHEMA_VERSION}; apply it first with `mmkg schema apply` (safe to run at any time; "
        "it creates the constraints that keep concurrent loads from duplicating entities)"
    )
