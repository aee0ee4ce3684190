"""The engine: the Neo4j store and managed server, schema application, ingest, export, stats."""
