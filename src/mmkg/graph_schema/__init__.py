"""mmkg's data model: labels, relationship types, constraints, indexes, migrations and Cypher.

Nothing here imports torch or talks to a server; :mod:`mmkg.platform` runs what is defined here.
"""

from mmkg.graph_schema.identifiers import (
    assign_relation_types,
    quote_identifier,
    validate_identifier,
)
from mmkg.graph_schema.migrations import MIGRATIONS, SCHEMA_VERSION, Migration

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "assign_relation_types",
    "quote_identifier",
    "validate_identifier",
]
