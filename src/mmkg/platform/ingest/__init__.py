"""Bulk loading of triples and entity texts into the graph."""

from mmkg.platform.ingest.common import IngestSummary, Reject
from mmkg.platform.ingest.entities import ingest_entities
from mmkg.platform.ingest.triples import ingest_triples

__all__ = ["IngestSummary", "Reject", "ingest_entities", "ingest_triples"]
