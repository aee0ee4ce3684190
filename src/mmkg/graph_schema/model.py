"""Names of the labels and relationship types mmkg owns."""

from __future__ import annotations

ENTITY = "Entity"
RELATION_TYPE = "RelationType"
MEDIA = "Media"
IMAGE = "Image"
VIDEO = "Video"
TEXT = "Text"
MIGRATION = "MmkgMigration"
EMBEDDING_RUN = "EmbeddingRun"
SERVING = "MmkgServing"
USER = "User"

DEPICTS = "DEPICTS"
MENTIONS = "MENTIONS"
CAPTION_OF = "CAPTION_OF"  # (:Text)-[:CAPTION_OF]->(:Image): a caption and its image
INTERACTED = "INTERACTED"  # (:User)-[:INTERACTED {weight, at}]->(:Entity)

MEDIA_KINDS = (IMAGE, VIDEO, TEXT)

# Relationship types that knowledge-graph relations may never be mapped onto, so that a
# relation called "depicts" in user data cannot merge with media links.
RESERVED_TYPES = frozenset({DEPICTS, MENTIONS, CAPTION_OF, INTERACTED})

# (label, property) pairs the schema declares unique (migrations), in the order a repair of
# duplicates handles them: relation types before the entities their relationships join.
UNIQUE_KEYS: tuple[tuple[str, str], ...] = (
    ("MmkgMigration", "version"),
    (RELATION_TYPE, "name"),
    (RELATION_TYPE, "type"),
    (ENTITY, "id"),
    (MEDIA, "id"),
    (EMBEDDING_RUN, "id"),
    (SERVING, "name"),
    ("MediaFailure", "path"),
    ("MmkgJob", "id"),
    ("MmkgApiKey", "id"),
    (USER, "id"),
)
