"""Media in the graph: discovery, metadata, features, links to entities, and search."""

from mmkg.platform.media.ingest import MediaSummary, ingest_media
from mmkg.platform.media.search import SearchHit, embed_entities, search_image, search_text

__all__ = [
    "MediaSummary",
    "SearchHit",
    "embed_entities",
    "ingest_media",
    "search_image",
    "search_text",
]
