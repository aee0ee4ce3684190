"""Versioned schema migrations. Each is applied once and recorded in the graph.

Statements are idempotent (``IF NOT EXISTS``), so a migration interrupted halfway is simply
applied again. Never edit a released migration: add a new one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]

    @property
    def checksum(self) -> str:
        return hashlib.sha256("\n".join(self.statements).encode("utf-8")).hexdigest()[:16]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "entities, relation types, media and their constraints; entity full-text index",
        (
            "CREATE CONSTRAINT mmkg_migration_version IF NOT EXISTS "
            "FOR (n:MmkgMigration) REQUIRE n.version IS UNIQUE",
            "CREATE CONSTRAINT mmkg_entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE",
            "CREATE CONSTRAINT mmkg_relation_type_name IF NOT EXISTS "
            "FOR (n:RelationType) REQUIRE n.name IS UNIQUE",
            "CREATE CONSTRAINT mmkg_relation_type_type IF NOT EXISTS "
            "FOR (n:RelationType) REQUIRE n.type IS UNIQUE",
            "CREATE CONSTRAINT mmkg_media_id IF NOT EXISTS FOR (n:Media) REQUIRE n.id IS UNIQUE",
            "CREATE INDEX mmkg_media_uri IF NOT EXISTS FOR (n:Media) ON (n.uri)",
            "CREATE FULLTEXT INDEX mmkg_entity_text IF NOT EXISTS "
            "FOR (n:Entity) ON EACH [n.name, n.aliases, n.description]",
        ),
    ),
    Migration(
        2,
        "embedding runs and the serving pointer",
        (
            "CREATE CONSTRAINT mmkg_embedding_run_id IF NOT EXISTS "
            "FOR (n:EmbeddingRun) REQUIRE n.id IS UNIQUE",
            "CREATE CONSTRAINT mmkg_serving_name IF NOT EXISTS "
            "FOR (n:MmkgServing) REQUIRE n.name IS UNIQUE",
        ),
    ),
    Migration(
        3,
        "media failures and worker jobs",
        (
            "CREATE CONSTRAINT mmkg_media_failure_path IF NOT EXISTS "
            "FOR (n:MediaFailure) REQUIRE n.path IS UNIQUE",
            "CREATE CONSTRAINT mmkg_job_id IF NOT EXISTS FOR (n:MmkgJob) REQUIRE n.id IS UNIQUE",
        ),
    ),
    Migration(
        4,
        "API keys of the web API and workbench",
        (
            "CREATE CONSTRAINT mmkg_api_key_id IF NOT EXISTS "
            "FOR (n:MmkgApiKey) REQUIRE n.id IS UNIQUE",
        ),
    ),
    Migration(
        5,
        "users of the recommender: (:User {id})-[:INTERACTED {weight, at}]->(:Entity)",
        ("CREATE CONSTRAINT mmkg_user_id IF NOT EXISTS FOR (n:User) REQUIRE n.id IS UNIQUE",),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
