"""mmkg: a multimodal knowledge graph that lives in Neo4j and learns."""

__version__ = "0.1.0"
