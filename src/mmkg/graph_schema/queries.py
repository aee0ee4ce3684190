"""Every Cypher statement mmkg runs, in one place.

Values always travel as parameters (``$name``). The few statements that need a relationship
type in their text are built by functions that validate the identifier first.
"""

from __future__ import annotations

from mmkg.graph_schema.identifiers import quote_identifier

# --- server -------------------------------------------------------------------------------
PING = "RETURN 1 AS ok"
SERVER_COMPONENTS = (
    "CALL dbms.components() YIELD name, versions, edition "
    "RETURN name, versions[0] AS version, edition"
)

# --- schema -------------------------------------------------------------------------------
APPLIED_MIGRATIONS = (
    "MATCH (m:MmkgMigration) RETURN m.version AS version, m.description AS description, "
    "m.checksum AS checksum, toString(m.applied_at) AS applied_at ORDER BY version"
)
RECORD_MIGRATION = (
    "MERGE (m:MmkgMigration {version: $version}) "
    "SET m.description = $description, m.checksum = $checksum, m.applied_at = datetime()"
)
SHOW_CONSTRAINTS = (
    "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties "
    "WHERE name STARTS WITH 'mmkg_' RETURN name, type, labelsOrTypes, properties ORDER BY name"
)
SHOW_INDEXES = (
    "SHOW INDEXES YIELD name, type, labelsOrTypes, properties, state, owningConstraint "
    "WHERE name STARTS WITH 'mmkg_' AND owningConstraint IS NULL "
    "RETURN name, type, labelsOrTypes, properties, state ORDER BY name"
)
AWAIT_INDEXES = "CALL db.awaitIndexes($timeout)"

# --- relation types -----------------------------------------------------------------------
RELATION_TYPES = "MATCH (r:RelationType) RETURN r.name AS name, r.type AS type ORDER BY r.name"
CREATE_RELATION_TYPES = (
    "UNWIND $rows AS row "
    "MERGE (r:RelationType {name: row.name}) ON CREATE SET r.type = row.type "
    "RETURN r.name AS name, r.type AS type"
)

# --- entities and triples -----------------------------------------------------------------
# Returns the internal node ids, in input order, so that the relationship writes that follow
# in the same load can seek nodes by id instead of through the index (twice as fast).
# ``existed`` tells the loader which nodes are new: a relationship touching a new node cannot
# exist yet, so it skips the existence check for it.
MERGE_ENTITIES = (
    "UNWIND $ids AS id "
    "OPTIONAL MATCH (x:Entity {id: id}) "
    "WITH id, x IS NOT NULL AS existed "
    "MERGE (e:Entity {id: id}) "
    "RETURN collect(id(e)) AS nids, collect(existed) AS existed"
)
UPSERT_ENTITY_TEXT = (
    "UNWIND $rows AS row "
    "MERGE (e:Entity {id: row.id}) "
    "SET e.name = coalesce(row.name, e.name), "
    "e.description = coalesce(row.description, e.description), "
    "e.aliases = coalesce(row.aliases, e.aliases)"
)


def merge_triples(rel_type: str) -> str:
    """MERGE one batch of ``[head, tail]`` internal-node-id pairs as ``rel_type`` relationships.

    The loader has just merged both entities and got their internal ids back (MERGE_ENTITIES);
    the label check guards against an id freed and reused by a concurrent delete.
    """
    t = quote_identifier(rel_type, "relationship type")
    return (
        "UNWIND $pairs AS p "
        "MATCH (h:Entity) WHERE id(h) = p[0] MATCH (t:Entity) WHERE id(t) = p[1] "
        f"MERGE (h)-[:{t}]->(t)"
    )


# --- export -------------------------------------------------------------------------------
# Internal node ids are only used within one read transaction, to avoid shipping every
# entity's string id once per triple.
EXPORT_ENTITIES = "MATCH (e:Entity) RETURN collect(id(e)) AS nids, collect(e.id) AS ids"


# From the count store (O(1)): an upper bound on the triples an export will move.
COUNT_ALL_RELATIONSHIPS = "MATCH ()-[r]->() RETURN count(r) AS n"
# One statement for all types (one plan, one scan), one row per type.
EXPORT_TRIPLES = (
    "MATCH (h:Entity)-[r]->(t:Entity) "
    "WITH type(r) AS type, collect(id(h)) AS heads, collect(id(t)) AS tails "
    "RETURN type, heads, tails"
)


# --- statistics ---------------------------------------------------------------------------
# Counts come from the count store (O(1)); the scan is the fallback for users who may not call
# db.stats procedures on a server they do not administer.
GRAPH_COUNTS = "CALL db.stats.retrieve('GRAPH COUNTS') YIELD data RETURN data"
RELATIONSHIPS_PER_TYPE_SCAN = "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS n"
LABEL_COUNTS = (
    "RETURN count { (e:Entity) } AS entities, count { (r:RelationType) } AS relation_types, "
    "count { (m:Media) } AS media, count { (i:Media:Image) } AS images, "
    "count { (v:Media:Video) } AS videos, count { (x:Media:Text) } AS texts"
)
