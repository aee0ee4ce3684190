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

DEPICTS = "DEPICTS"
MENTIONS = "MENTIONS"

MEDIA_KINDS = (IMAGE, VIDEO, TEXT)

# Relationship types that knowledge-graph relations may never be mapped onto, so that a
# relation called "depicts" in user data cannot merge with media links.
RESERVED_TYPES = frozenset({DEPICTS, MENTIONS})
