"""Bulk loading of triples, entity texts, literals and features into the graph."""

from mmkg.platform.ingest.common import IngestSummary, RejectThreshold
from mmkg.platform.ingest.entities import ingest_entities
from mmkg.platform.ingest.triples import ingest_triples
from mmkg.platform.readers.lines import Reject

__all__ = ["IngestSummary", "Reject", "RejectThreshold", "ingest_entities", "ingest_triples"]
