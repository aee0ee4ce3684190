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


# --- embedding runs and serving -----------------------------------------------------------
# A run's vectors live in per-run properties (mmkg_e_<key> ...) so that writing a new run never
# touches what the active run serves; the single (:MmkgServing {name: 'default'}).active pointer
# decides which run answers, and it changes in one transaction.
ENTITY_NODE_IDS = "MATCH (e:Entity) RETURN collect(e.id) AS ids, collect(id(e)) AS nids"
RELATION_NODE_IDS = "MATCH (r:RelationType) RETURN collect(r.name) AS names, collect(id(r)) AS nids"
GET_RUN = "MATCH (r:EmbeddingRun {id: $id}) RETURN r {.*} AS run"
LIST_RUNS = (
    "MATCH (r:EmbeddingRun) "
    "OPTIONAL MATCH (s:MmkgServing {name: 'default'}) "
    "RETURN r {.*} AS run, coalesce(s.active = r.id, false) AS serving "
    "ORDER BY r.created_at"
)
ACTIVE_RUN_ID = "OPTIONAL MATCH (s:MmkgServing {name: 'default'}) RETURN s.active AS id"
# A run being written again after a crash keeps its node; everything else is replaced.
BEGIN_RUN = (
    "MERGE (r:EmbeddingRun {id: $id}) "
    "ON CREATE SET r.created_at = datetime() "
    "SET r += $props, r.status = 'writing'"
)
FINISH_RUN = (
    "MATCH (r:EmbeddingRun {id: $id}) WHERE r.status = 'writing' AND r.token = $token "
    "SET r += $props, r.status = 'ready', r.written_at = datetime() RETURN r.id AS id"
)
WRITE_VECTORS = (
    "CALL mmkg.embeddings.write($property, $nids, $data, $dim) YIELD written RETURN written"
)
# The serving node is locked first (SET), so concurrent activations serialise and exactly one
# run ends up active; readers see either the old pointer or the new one.
ACTIVATE_RUN = (
    "MATCH (new:EmbeddingRun {id: $id}) WHERE new.status IN ['ready', 'active'] "
    "MERGE (s:MmkgServing {name: 'default'}) "
    "SET s.active = new.id, s.activated_at = datetime() "
    "WITH s, new "
    "CALL { WITH new MATCH (old:EmbeddingRun {status: 'active'}) WHERE old <> new "
    "SET old.status = 'ready' } "
    "SET new.status = 'active', new.activated_at = datetime() "
    "RETURN new.id AS id"
)
DEACTIVATE_RUN = (
    "MATCH (s:MmkgServing {name: 'default'}) WHERE s.active = $id "
    "REMOVE s.active "
    "WITH s MATCH (r:EmbeddingRun {id: $id}) SET r.status = 'ready'"
)
MARK_RUN_DROPPING = "MATCH (r:EmbeddingRun {id: $id}) SET r.status = 'dropping'"
DELETE_RUN = "MATCH (r:EmbeddingRun {id: $id}) DELETE r"
EVICT_CACHE = "CALL mmkg.embeddings.evict() YIELD written RETURN written"
AWAIT_INDEX = "CALL db.awaitIndex($name, $timeout)"
INDEX_STATE = (
    "SHOW VECTOR INDEXES YIELD name, state, populationPercent WHERE name = $name "
    "RETURN state, populationPercent"
)
PLUGIN_VERSION = "RETURN mmkg.version() AS version"

PREDICT_TAIL = (
    "CALL mmkg.predict.tail($head, $relation, $k, $options) YIELD node, id, score, rank, run "
    "RETURN id, node.name AS name, score, rank, run"
)
PREDICT_HEAD = (
    "CALL mmkg.predict.head($relation, $tail, $k, $options) YIELD node, id, score, rank, run "
    "RETURN id, node.name AS name, score, rank, run"
)
PREDICT_RELATION = (
    "CALL mmkg.predict.relation($head, $tail, $k, $options) "
    "YIELD relation, type, score, rank, run RETURN relation, type, score, rank, run"
)
SIMILAR = (
    "CALL mmkg.similar($entity, $k, $options) YIELD node, id, score, rank, run "
    "RETURN id, node.name AS name, score, rank, run"
)
SCORE = "RETURN mmkg.score($head, $relation, $tail, $run) AS score"


def remove_property_batch(label: str, prop: str) -> str:
    """Remove ``prop`` from up to ``$limit`` nodes of ``label``; returns how many it touched."""
    lab = quote_identifier(label, "label")
    p = quote_identifier(prop, "property")
    return (
        f"MATCH (n:{lab}) WHERE n.{p} IS NOT NULL WITH n LIMIT $limit "
        f"REMOVE n.{p} RETURN count(n) AS n"
    )


def create_vector_index(
    name: str, prop: str, dim: int, m: int, ef_construction: int, quantization: bool = False
) -> str:
    """A euclidean HNSW index over ``prop`` of :Entity nodes (numbers are inlined: OPTIONS
    takes no parameters)."""
    n = quote_identifier(name, "index name")
    p = quote_identifier(prop, "property")
    for value, what in ((dim, "dimensions"), (m, "hnsw m"), (ef_construction, "ef_construction")):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"vector index {what} must be a positive integer, got {value!r}")
    return (
        f"CREATE VECTOR INDEX {n} IF NOT EXISTS FOR (e:Entity) ON (e.{p}) "
        "OPTIONS {indexConfig: {`vector.dimensions`: "
        f"{dim}, `vector.similarity_function`: 'euclidean', `vector.hnsw.m`: {m}, "
        f"`vector.hnsw.ef_construction`: {ef_construction}, "
        f"`vector.quantization.enabled`: {'true' if quantization else 'false'}}}}}"
    )


def drop_index(name: str) -> str:
    return f"DROP INDEX {quote_identifier(name, 'index name')} IF EXISTS"


# --- media --------------------------------------------------------------------------------
# Which media already exist, and whether they carry the given encoder's features.
MEDIA_STATE = (
    "UNWIND $ids AS id MATCH (m:Media {id: id}) "
    "RETURN m.id AS id, m[$feature] IS NOT NULL AS has_feature"
)
# Features travel as float32 through db.create.setNodeVectorProperty (the form vector indexes
# read); the encoder's name and version go with them.
SET_NODE_VECTORS_ENTITY = (
    "UNWIND $rows AS row MATCH (e:Entity {id: row.id}) "
    "CALL db.create.setNodeVectorProperty(e, $property, row.vector) "
    "SET e += row.meta"
)
ENTITY_TEXTS = (
    "MATCH (e:Entity) WHERE e.id > $after AND ($missing_only = false OR e[$feature] IS NULL) "
    "RETURN e.id AS id, e.name AS name, e.description AS description "
    "ORDER BY e.id LIMIT $limit"
)
RECORD_MEDIA_FAILURES = (
    "UNWIND $rows AS row MERGE (f:MediaFailure {path: row.path}) "
    "SET f.reason = row.reason, f.stage = row.stage, f.ingest = $ingest, f.at = datetime()"
)
CLEAR_MEDIA_FAILURES = "UNWIND $paths AS p MATCH (f:MediaFailure {path: p}) DELETE f"
MEDIA_FAILURES = (
    "MATCH (f:MediaFailure) RETURN f.path AS path, f.reason AS reason, f.stage AS stage, "
    "f.ingest AS ingest, toString(f.at) AS at ORDER BY f.at DESC LIMIT $limit"
)
SET_MEDIA_CAPTIONS = "UNWIND $rows AS row MATCH (m:Media {id: row.id}) SET m.caption = row.caption"
VECTOR_INDEX_NAMES = "SHOW VECTOR INDEXES YIELD name RETURN name"
VECTOR_QUERY = (
    "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node, score "
    "RETURN node.id AS id, node.uri AS uri, node.name AS name, node.title AS title, "
    "[l IN labels(node) WHERE l IN ['Image', 'Video', 'Text', 'Entity']][0] AS kind, score"
)
# Entities found through the media that depict or mention them (best media score per entity).
ENTITIES_VIA_MEDIA = (
    "CALL db.index.vector.queryNodes($index, $fetch, $vector) YIELD node AS m, score "
    "MATCH (m)-[:DEPICTS|MENTIONS]->(e:Entity) "
    "WITH e, max(score) AS score, collect(m.id)[..3] AS via "
    "RETURN e.id AS id, null AS uri, e.name AS name, null AS title, 'Entity' AS kind, score, via "
    "ORDER BY score DESC LIMIT $k"
)


def merge_media(kind: str) -> str:
    """MERGE media of one kind (label) by content id, metadata set on creation, and their
    features (float32, with the encoder's name and version) in the same transaction."""
    label = quote_identifier(kind, "media label")
    return (
        "UNWIND $rows AS row MERGE (m:Media {id: row.id}) "
        "ON CREATE SET m += row.props, m.created_at = datetime() "
        f"SET m:{label}, m.uri = coalesce(m.uri, row.props.uri) "
        "WITH m, row CALL { WITH m, row WITH m, row WHERE row.vector IS NOT NULL "
        "CALL db.create.setNodeVectorProperty(m, $property, row.vector) SET m += row.meta } "
        "WITH row OPTIONAL MATCH (f:MediaFailure {path: row.props.path}) DELETE f"
    )


def link_media(rel_type: str) -> str:
    """Link media to entities by id; returns the entity ids that do not exist."""
    t = quote_identifier(rel_type, "relationship type")
    return (
        "UNWIND $rows AS row MATCH (m:Media {id: row.media}) "
        "OPTIONAL MATCH (e:Entity {id: row.entity}) "
        "CALL { WITH m, e, row WITH m, e, row WHERE e IS NOT NULL "
        f"MERGE (m)-[r:{t}]->(e) SET r.source = row.source, r.caption = row.caption "
        "RETURN count(r) AS linked } "
        "RETURN sum(linked) AS linked, collect(CASE WHEN e IS NULL THEN row.entity END) AS missing"
    )


def create_feature_index(name: str, label: str, prop: str, dim: int) -> str:
    n = quote_identifier(name, "index name")
    lab = quote_identifier(label, "label")
    p = quote_identifier(prop, "property")
    if not isinstance(dim, int) or dim < 1:
        raise ValueError(f"vector index dimensions must be a positive integer, got {dim!r}")
    return (
        f"CREATE VECTOR INDEX {n} IF NOT EXISTS FOR (x:{lab}) ON (x.{p}) "
        "OPTIONS {indexConfig: {`vector.dimensions`: "
        f"{dim}, `vector.similarity_function`: 'cosine'}}}}"
    )


# --- jobs (Celery tasks) ------------------------------------------------------------------
JOB_START = (
    "MERGE (j:MmkgJob {id: $id}) "
    "ON CREATE SET j.submitted_at = datetime(), j.attempts = 0 "
    "SET j.task = $task, j.args = $args, j.state = 'running', j.started_at = datetime(), "
    "j.attempts = j.attempts + 1, j.worker = $worker, j.progress = 0.0, j.error = null"
)
JOB_PROGRESS = "MATCH (j:MmkgJob {id: $id}) SET j.progress = $progress, j.note = $note"
JOB_FINISH = (
    "MATCH (j:MmkgJob {id: $id}) SET j.state = $state, j.finished_at = datetime(), "
    "j.progress = CASE WHEN $state = 'succeeded' THEN 1.0 ELSE j.progress END, "
    "j.result = $result, j.error = $error"
)
JOB_RETRY = (
    "MERGE (j:MmkgJob {id: $id}) ON CREATE SET j.submitted_at = datetime(), j.attempts = 1 "
    "SET j.task = $task, j.state = 'retrying', j.error = $error"
)
LIST_JOBS = (
    "MATCH (j:MmkgJob) RETURN j.id AS id, j.task AS task, j.state AS state, "
    "j.progress AS progress, j.note AS note, j.attempts AS attempts, j.worker AS worker, "
    "toString(j.submitted_at) AS submitted_at, toString(j.started_at) AS started_at, "
    "toString(j.finished_at) AS finished_at, j.error AS error, j.result AS result, j.args AS args "
    "ORDER BY coalesce(j.started_at, j.submitted_at) DESC LIMIT $limit"
)
GET_JOB = "MATCH (j:MmkgJob {id: $id}) RETURN j {.*} AS job"
