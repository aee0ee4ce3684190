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
    "RETURN collect(elementId(e)) AS keys, collect(existed) AS existed"
)
UPSERT_ENTITY_TEXT = (
    "UNWIND $rows AS row "
    "MERGE (e:Entity {id: row.id}) "
    "SET e.name = coalesce(row.name, e.name), "
    "e.description = coalesce(row.description, e.description), "
    "e.aliases = coalesce(row.aliases, e.aliases)"
)


def merge_triples(rel_type: str) -> str:
    """MERGE one batch of ``[head, tail]`` element-id pairs as ``rel_type`` relationships.

    The loader has just merged both entities and got their element ids back (MERGE_ENTITIES):
    seeking a node by element id is twice as fast as through the id index. The label check
    guards against an id freed and reused by a concurrent delete.
    """
    t = quote_identifier(rel_type, "relationship type")
    return (
        "UNWIND $pairs AS p "
        "MATCH (h:Entity) WHERE elementId(h) = p[0] MATCH (t:Entity) WHERE elementId(t) = p[1] "
        f"MERGE (h)-[:{t}]->(t)"
    )


# --- export -------------------------------------------------------------------------------
# Element ids travel instead of string ids: they identify the nodes for the write-back of the
# trained vectors too, so it needs no second lookup.
EXPORT_ENTITIES = "MATCH (e:Entity) RETURN collect(elementId(e)) AS keys, collect(e.id) AS ids"
EXPORT_RELATION_TYPES = (
    "MATCH (r:RelationType) RETURN r.name AS name, r.type AS type, elementId(r) AS key "
    "ORDER BY r.name"
)


# From the count store (O(1)): an upper bound on the triples an export will move.
COUNT_ALL_RELATIONSHIPS = "MATCH ()-[r]->() RETURN count(r) AS n"
# One statement for all types (one plan, one scan), one row per type.
EXPORT_TRIPLES = (
    "MATCH (h:Entity)-[r]->(t:Entity) "
    "WITH type(r) AS type, collect(elementId(h)) AS heads, collect(elementId(t)) AS tails "
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
# Element ids of given entities / relation types, for an artefact that did not come from an
# export of this graph (a run trained on files): one index seek per id asked for.
ENTITY_KEYS = "UNWIND $ids AS id MATCH (e:Entity {id: id}) RETURN id, elementId(e) AS key"
RELATION_KEYS = (
    "UNWIND $names AS name MATCH (r:RelationType {name: name}) RETURN name, elementId(r) AS key"
)
GET_RUN = "MATCH (r:EmbeddingRun {id: $id}) RETURN r {.*} AS run"
RUN_FUSION_HEAD = "MATCH (r:EmbeddingRun {id: $id}) RETURN r.fusion_head AS head"
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
    "CALL mmkg.embeddings.write($property, $keys, $data, $dim, $ids) YIELD written RETURN written"
)
# Streams batches of (ids, element ids, float32 blob) of the nodes of $label that hold $property.
READ_VECTORS = (
    "CALL mmkg.embeddings.read($property, $label, $batch) "
    "YIELD ids, keys, data, dim RETURN ids, keys, data, dim"
)
# The serving node is locked first (SET), so concurrent activations serialise and exactly one
# run ends up active; readers see either the old pointer or the new one.
ACTIVATE_RUN = (
    "MATCH (new:EmbeddingRun {id: $id}) WHERE new.status IN ['ready', 'active'] "
    "MERGE (s:MmkgServing {name: 'default'}) "
    "SET s.active = new.id, s.activated_at = datetime() "
    "WITH s, new "
    "CALL (new) { MATCH (old:EmbeddingRun {status: 'active'}) WHERE old <> new "
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
CACHE_LOAD = (
    "CALL mmkg.cache.load($run, $options) YIELD run, rows, dim, bytes, storage, index, "
    "loaded_at, hits, pinned, seconds RETURN run, rows, dim, bytes, storage, index, loaded_at, "
    "hits, pinned, seconds"
)
CACHE_LIST = (
    "CALL mmkg.cache.list() YIELD run, rows, dim, bytes, storage, index, loaded_at, hits, "
    "pinned RETURN run, rows, dim, bytes, storage, index, loaded_at, hits, pinned"
)
CACHE_DROP = "CALL mmkg.cache.drop($run) YIELD run, dropped, bytes RETURN run, dropped, bytes"
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


def create_vector_index(label: str, prop: str) -> str:
    """A vector index over ``prop`` of ``label`` nodes, named ``$name``, configured by
    ``$options`` (see :func:`vector_index_options`). Label and property are validated
    identifiers; everything else travels as a parameter."""
    lab = quote_identifier(label, "label")
    p = quote_identifier(prop, "property")
    return f"CREATE VECTOR INDEX $name IF NOT EXISTS FOR (n:{lab}) ON (n.{p}) OPTIONS $options"


def vector_index_options(
    dim: int,
    similarity: str,
    m: int | None = None,
    ef_construction: int | None = None,
    quantization: bool | None = None,
) -> dict[str, object]:
    """The ``$options`` of :func:`create_vector_index`: HNSW settings are left to Neo4j's
    defaults when None."""
    for value, what in ((dim, "dimensions"), (m, "hnsw m"), (ef_construction, "ef_construction")):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"vector index {what} must be a positive integer, got {value!r}")
    if similarity not in ("euclidean", "cosine"):
        raise ValueError(f"vector index similarity must be euclidean or cosine, not {similarity!r}")
    config: dict[str, object] = {
        "vector.dimensions": dim,
        "vector.similarity_function": similarity,
    }
    if m is not None:
        config["vector.hnsw.m"] = m
    if ef_construction is not None:
        config["vector.hnsw.ef_construction"] = ef_construction
    if quantization is not None:
        config["vector.quantization.enabled"] = quantization
    return {"indexConfig": config}


# The index name travels as a parameter ($name).
DROP_INDEX = "DROP INDEX $name IF EXISTS"


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
# Fusion reads features from the graph: entity vectors of one encoder, and the features of
# the media that depict or mention each entity (pooled in Python), a page of entities a time.
ENTITY_FEATURES = (
    "MATCH (e:Entity) WHERE e.id > $after AND e[$property] IS NOT NULL "
    "RETURN e.id AS id, e[$property] AS vector, e[$encoder_property] AS encoder "
    "ORDER BY e.id LIMIT $limit"
)
MEDIA_FEATURES_OF_ENTITIES = (
    "MATCH (e:Entity) WHERE e.id > $after WITH e ORDER BY e.id LIMIT $limit "
    "OPTIONAL MATCH (m:Media)-[:DEPICTS|MENTIONS]->(e) "
    "WHERE $label IN labels(m) AND m[$property] IS NOT NULL "
    "RETURN e.id AS id, collect(m[$property]) AS vectors, "
    "collect(DISTINCT m[$encoder_property]) AS encoders ORDER BY id"
)
# Numeric literals: one property per attribute on the entities (names.literal_property), and
# a node per attribute that records its name and property for the readers.
MISSING_ENTITY_IDS = (
    "UNWIND $ids AS id OPTIONAL MATCH (e:Entity {id: id}) WITH id, e WHERE e IS NULL "
    "RETURN collect(id) AS missing"
)
SET_LITERALS = (
    "UNWIND $rows AS row MATCH (e:Entity {id: row.id}) SET e[$property] = row.value "
    "RETURN count(e) AS written"
)
MERGE_LITERAL_ATTRIBUTE = "MERGE (a:LiteralAttribute {name: $name}) SET a.property = $property"
LITERAL_ATTRIBUTES = (
    "MATCH (a:LiteralAttribute) RETURN a.name AS name, a.property AS property ORDER BY a.name"
)
ENTITY_LITERALS = (
    "MATCH (e:Entity) WHERE e[$property] IS NOT NULL RETURN e.id AS id, e[$property] AS value"
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
        "WITH m, row CALL (m, row) { WITH * WHERE row.vector IS NOT NULL "
        "CALL db.create.setNodeVectorProperty(m, $property, row.vector) SET m += row.meta } "
        "WITH row OPTIONAL MATCH (f:MediaFailure {path: row.props.path}) DELETE f"
    )


def link_media(rel_type: str) -> str:
    """Link media to entities by id; returns the entity ids that do not exist.

    The edge is keyed by its source (``manifest`` unless the manifest names one), so a
    manifest's link never merges into the entity linker's (``source: 'linker'``)."""
    t = quote_identifier(rel_type, "relationship type")
    return (
        "UNWIND $rows AS row MATCH (m:Media {id: row.media}) "
        "OPTIONAL MATCH (e:Entity {id: row.entity}) "
        "CALL (m, e, row) { WITH * WHERE e IS NOT NULL "
        f"MERGE (m)-[r:{t} {{source: coalesce(row.source, 'manifest')}}]->(e) "
        "SET r.caption = row.caption "
        "RETURN count(r) AS linked } "
        "RETURN sum(linked) AS linked, collect(CASE WHEN e IS NULL THEN row.entity END) AS missing"
    )


# --- entity linking -----------------------------------------------------------------------
# The linker's view of an entity: its names, its degree in the knowledge graph (from the
# degree store: all relationships minus the media links) and its most frequent outgoing and
# incoming relation types (the "type" the disambiguator learns NER labels against).
LINK_ENTITIES = (
    "MATCH (e:Entity) WHERE e.id > $after WITH e ORDER BY e.id LIMIT $limit "
    "CALL (e) { OPTIONAL MATCH (e)-[r]->(:Entity) WITH type(r) AS t, count(r) AS c "
    "ORDER BY c DESC LIMIT 1 RETURN t AS out_type } "
    "CALL (e) { OPTIONAL MATCH (e)<-[r]-(:Entity) WITH type(r) AS t, count(r) AS c "
    "ORDER BY c DESC LIMIT 1 RETURN t AS in_type } "
    "RETURN e.id AS id, e.name AS name, e.aliases AS aliases, "
    "COUNT { (e)--() } - COUNT { (e)-[:DEPICTS|MENTIONS]-() } AS degree, "
    "out_type, in_type, e[$property] AS vector"
)
# Which candidate pairs of one document are joined by a knowledge-graph relationship (either
# direction): the coherence signal. EXISTS expands from the lower-degree end.
CONNECTED_PAIRS = (
    "UNWIND $pairs AS p MATCH (a:Entity {id: p[0]}) MATCH (b:Entity {id: p[1]}) "
    "WHERE EXISTS { (a)-[r]-(b) WHERE NOT type(r) IN ['DEPICTS', 'MENTIONS'] } "
    "RETURN p[0] AS a, p[1] AS b"
)
# Fuzzy and partial names through the full-text index of names, aliases and descriptions.
FULLTEXT_ENTITIES = (
    "UNWIND $rows AS row "
    "CALL db.index.fulltext.queryNodes('mmkg_entity_text', row.query, {limit: $k}) "
    "YIELD node, score RETURN row.key AS key, collect(node.id) AS ids, collect(score) AS scores"
)
# Nearest entity text vectors to a mention's surface form.
VECTOR_ENTITIES = (
    "UNWIND $rows AS row "
    "CALL db.index.vector.queryNodes($index, $k, row.vector) YIELD node, score "
    "RETURN row.key AS key, collect(node.id) AS ids, collect(score) AS scores"
)
# Media of one kind ($label: Text, Image or Video) to link, after an id, optionally only those
# without any of the linker's edges yet; and given media of that kind. Text files are read
# again; a caption stored on the node (``text``) needs no file.
MEDIA_TO_LINK = (
    "MATCH (m:Media) WHERE m.id > $after AND $label IN labels(m) AND ($unlinked = false OR "
    "NOT EXISTS { (m)-[:MENTIONS|DEPICTS {source: 'linker'}]->() }) "
    "RETURN m.id AS id, m.path AS path, m.text AS text ORDER BY m.id LIMIT $limit"
)
MEDIA_TO_LINK_BY_ID = (
    "UNWIND $ids AS id MATCH (m:Media {id: id}) WHERE $label IN labels(m) "
    "RETURN m.id AS id, m.path AS path, m.text AS text ORDER BY id"
)
IMAGE_VECTORS = (
    "UNWIND $ids AS id MATCH (m:Media {id: id}) RETURN m.id AS id, m[$property] AS vector"
)
# Re-linking replaces the linker's own edges of these media, never the manifests' ones, in
# the same transaction as the new edges.
REPLACE_TEXT_LINKS = (
    "UNWIND $docs AS d MATCH (m:Media {id: d.id}) "
    "CALL (m) { MATCH (m)-[old:MENTIONS {source: 'linker'}]->() DELETE old } "
    "WITH m, d UNWIND d.mentions AS x MATCH (e:Entity {id: x.entity}) "
    "CREATE (m)-[r:MENTIONS {source: 'linker'}]->(e) "
    "SET r.start = x.start, r.end = x.end, r.surface = x.surface, r.score = x.score, "
    "r.linker = $linker, r.at = datetime() RETURN count(r) AS linked"
)
REPLACE_IMAGE_LINKS = (
    "UNWIND $docs AS d MATCH (m:Media {id: d.id}) "
    "CALL (m) { MATCH (m)-[old:DEPICTS {source: 'linker'}]->() DELETE old } "
    "WITH m, d UNWIND d.links AS x MATCH (e:Entity {id: x.entity}) "
    "CREATE (m)-[r:DEPICTS {source: 'linker'}]->(e) "
    "SET r += x.props, r.score = x.score, r.linker = $linker, r.at = datetime() "
    "RETURN count(r) AS linked"
)
COUNT_ENTITIES = "MATCH (e:Entity) RETURN count(e) AS n"


# --- grounded datasets (COCO) -------------------------------------------------------------
# WordNet entities (ids are synset offsets, ``n02084071`` or ``02084071``) named like a
# category, the best connected first.
WORDNET_BY_NAME = (
    "UNWIND $names AS name MATCH (e:Entity) "
    "WHERE e.id =~ 'n?[0-9]{8}' AND toLower(replace(e.name, '_', ' ')) = name "
    "WITH name, e ORDER BY COUNT { (e)--() } DESC "
    "RETURN name, collect(e.id)[0] AS id"
)
COCO_BOXES = (
    "UNWIND $rows AS row MATCH (m:Media {id: row.media}) MATCH (e:Entity {id: row.entity}) "
    "MERGE (m)-[r:DEPICTS {source: 'coco', annotation: row.annotation}]->(e) "
    "SET r.box = row.box, r.area = row.area, r.crowd = row.crowd "
    "RETURN count(r) AS linked"
)
CAPTION_OF_IMAGES = (
    "UNWIND $rows AS row MATCH (t:Media {id: row.text}) MATCH (m:Media {id: row.image}) "
    "MERGE (t)-[:CAPTION_OF]->(m) SET m.caption = coalesce(m.caption, row.caption) "
    "RETURN count(*) AS linked"
)


# --- the web API and workbench ---------------------------------------------------------------
API_KEY_CREATE = (
    "CREATE (k:MmkgApiKey {id: $id, hash: $hash, scope: $scope, name: $name, "
    "created_at: datetime()})"
)
API_KEY_GET = (
    "MATCH (k:MmkgApiKey {id: $id}) WHERE k.revoked_at IS NULL "
    "RETURN k.id AS id, k.hash AS hash, k.scope AS scope, k.name AS name"
)
API_KEY_LIST = (
    "MATCH (k:MmkgApiKey) RETURN k.id AS id, k.scope AS scope, k.name AS name, "
    "toString(k.created_at) AS created_at, toString(k.revoked_at) AS revoked_at "
    "ORDER BY k.created_at"
)
API_KEY_REVOKE = (
    "MATCH (k:MmkgApiKey {id: $id}) SET k.revoked_at = coalesce(k.revoked_at, datetime()) "
    "RETURN k.id AS id"
)
ENTITY_CARD = (
    "MATCH (e:Entity {id: $id}) RETURN e.id AS id, e.name AS name, "
    "e.description AS description, e.aliases AS aliases"
)
# An entity's facts both ways, at most $limit each way, with the relation's name.
ENTITY_FACTS = (
    "MATCH (e:Entity {id: $id}) CALL (e) { "
    "MATCH (e)-[r]->(o:Entity) RETURN 'out' AS direction, type(r) AS type, o LIMIT $limit "
    "UNION ALL "
    "MATCH (e)<-[r]-(o:Entity) RETURN 'in' AS direction, type(r) AS type, o LIMIT $limit } "
    "OPTIONAL MATCH (t:RelationType {type: type}) "
    "RETURN direction, type, coalesce(t.name, toLower(type)) AS relation, o.id AS id, "
    "o.name AS name ORDER BY relation, direction, coalesce(name, id)"
)
ENTITY_MEDIA = (
    "MATCH (m:Media)-[r:DEPICTS|MENTIONS]->(:Entity {id: $id}) "
    "RETURN m.id AS id, m.kind AS kind, m.title AS title, m.duration AS duration, "
    "m.segment_count AS segments, type(r) AS link, r.source AS source, r.score AS score, "
    "r.caption AS caption, r.segment_start AS segment_start, r.segment_end AS segment_end "
    "ORDER BY coalesce(r.score, 1.0) DESC, m.id LIMIT $limit"
)
# Up to $per images or videos depicting each entity: the thumbnails of search results.
ENTITY_THUMBNAILS = (
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
    "CALL (e) { MATCH (m:Media)-[:DEPICTS]->(e) WHERE m:Image OR m:Video "
    "WITH m ORDER BY m.id LIMIT $per RETURN collect(m.id) AS media } "
    "RETURN id, media"
)
ENTITY_DESCRIPTIONS = (
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) RETURN e.id AS id, e.description AS description"
)
# What to call a media search hit: its link's caption, its title, else its file's name.
MEDIA_LABELS = (
    "UNWIND $ids AS id MATCH (m:Media {id: id}) "
    "OPTIONAL MATCH (m)-[r:DEPICTS|MENTIONS]->(:Entity) WHERE r.caption IS NOT NULL "
    "WITH id, m, collect(r.caption)[0] AS caption "
    "RETURN id, coalesce(caption, m.title, last(split(m.path, '/'))) AS label"
)
# The relations the entity and the given others (its nearest neighbours) have as heads, most
# used first: the relations worth predicting facts for.
HEAD_RELATIONS = (
    "UNWIND $ids AS id MATCH (:Entity {id: id})-[r]->(:Entity) WITH type(r) AS type, "
    "count(*) AS n MATCH (t:RelationType {type: type}) "
    "RETURN t.name AS relation, n ORDER BY n DESC, relation LIMIT $limit"
)
TAIL_RELATIONS = (
    "UNWIND $ids AS id MATCH (:Entity)-[r]->(:Entity {id: id}) WITH type(r) AS type, "
    "count(*) AS n MATCH (t:RelationType {type: type}) "
    "RETURN t.name AS relation, n ORDER BY n DESC, relation LIMIT $limit"
)
MEDIA_FILE = (
    "MATCH (m:Media {id: $id}) RETURN m.path AS path, m.mime AS mime, m.kind AS kind, "
    "m.duration AS duration"
)


# --- question answering --------------------------------------------------------------------
# The known answers of a one-hop question: tails of (head, type) or heads of (type, tail).
QA_TAILS = (
    "MATCH (:Entity {id: $id})-[:$($type)]->(t:Entity) "
    "RETURN t.id AS id, t.name AS name ORDER BY coalesce(t.name, t.id) LIMIT $k"
)
QA_HEADS = (
    "MATCH (h:Entity)-[:$($type)]->(:Entity {id: $id}) "
    "RETURN h.id AS id, h.name AS name ORDER BY coalesce(h.name, h.id) LIMIT $k"
)
# What an answer shows: name, description and up to $media media depicting or mentioning it.
QA_CARDS = (
    "UNWIND $ids AS id MATCH (e:Entity {id: id}) "
    "CALL (e) { OPTIONAL MATCH (m:Media)-[r:DEPICTS|MENTIONS]->(e) "
    "WITH m, r ORDER BY coalesce(r.score, 1.0) DESC, m.id LIMIT $media "
    "RETURN [x IN collect({id: m.id, kind: m.kind, uri: m.uri, title: m.title, "
    "link: type(r)}) WHERE x.id IS NOT NULL] AS media } "
    "RETURN e.id AS id, e.name AS name, e.description AS description, media"
)
# Names close to a question's words, for a question whose entity was not recognised.
QA_SUGGEST = (
    "CALL db.index.fulltext.queryNodes('mmkg_entity_text', $query, {limit: $k}) "
    "YIELD node, score RETURN node.id AS id, node.name AS name, score"
)


# --- recommendation ------------------------------------------------------------------------
# One edge per (user, item); loading the same log again changes nothing.
MERGE_INTERACTIONS = (
    "UNWIND $rows AS row MATCH (e:Entity) WHERE elementId(e) = row.key "
    "MERGE (u:User {id: row.user}) MERGE (u)-[i:INTERACTED]->(e) "
    "SET i.weight = row.weight, i.at = row.at"
)
EXPORT_INTERACTIONS = (
    "MATCH (u:User)-[i:INTERACTED]->(e:Entity) "
    "RETURN u.id AS user, e.id AS item, i.weight AS weight, i.at AS at ORDER BY user, at, item"
)
USER_EXISTS = "MATCH (u:User {id: $id}) RETURN u.id AS id, COUNT { (u)-[:INTERACTED]->() } AS n"
SET_USER_VECTORS = "UNWIND $rows AS row MATCH (u:User {id: row.id}) SET u[$property] = row.vector"
REMOVE_USER_VECTORS = (
    "MATCH (u:User) WHERE u[$property] IS NOT NULL "
    "CALL (u) { SET u[$property] = null } IN TRANSACTIONS OF 10000 ROWS"
)
RECOMMENDER_RUN = "OPTIONAL MATCH (s:MmkgServing {name: 'recommend'}) RETURN s.active AS id"
SET_RECOMMENDER_RUN = "MERGE (s:MmkgServing {name: 'recommend'}) SET s.active = $id"
RECOMMEND = (
    "CALL mmkg.recommend($user, $k, $options) YIELD id, score, rank, run "
    "RETURN id, score, rank, run"
)
# Why an item is recommended: an item the user has, a neighbour of it, and that neighbour's
# fact about the recommended item (user → item → shared entity → recommendation). The most
# specific shared entity first (a director before a currency: fewest relationships), then the
# user's heaviest, latest interactions.
EXPLAIN_RECOMMENDATIONS = (
    "MATCH (u:User {id: $user}) UNWIND $ids AS rid MATCH (rec:Entity {id: rid}) "
    "CALL (u, rec) { MATCH (u)-[i:INTERACTED]->(item:Entity)-[r1]-(shared:Entity)-[r2]-(rec) "
    "WHERE item <> rec AND shared <> rec AND shared <> item "
    "RETURN item, r1, shared, r2 "
    "ORDER BY COUNT { (shared)--() } ASC, i.weight DESC, i.at DESC LIMIT 1 } "
    "OPTIONAL MATCH (t1:RelationType {type: type(r1)}) "
    "OPTIONAL MATCH (t2:RelationType {type: type(r2)}) "
    "RETURN rid AS id, rec.name AS name, item.id AS item, item.name AS item_name, "
    "coalesce(t1.name, type(r1)) AS relation1, startNode(r1) = item AS item_is_head, "
    "shared.id AS shared, shared.name AS shared_name, "
    "coalesce(t2.name, type(r2)) AS relation2, startNode(r2) = shared AS shared_is_head"
)
ENTITY_NAMES_OF = "UNWIND $ids AS id MATCH (e:Entity {id: id}) RETURN e.id AS id, e.name AS name"


# --- samples for bench/web.py ---------------------------------------------------------------
ENTITY_NAMES = "MATCH (e:Entity) RETURN e.id AS id, e.name AS name ORDER BY e.id"
SAMPLE_FACTS = (
    "MATCH (h:Entity)-[r]->(:Entity) WITH h, type(r) AS t, rand() AS x ORDER BY x LIMIT $n "
    "MATCH (rt:RelationType {type: t}) RETURN h.id AS head, rt.name AS relation"
)
IMAGE_IDS = "MATCH (m:Image) RETURN m.id AS id ORDER BY m.id LIMIT $limit"


# --- jobs (Celery tasks) ------------------------------------------------------------------
# Claiming a job: a worker runs it unless another holds a live lease on it (a duplicate
# delivery while it still runs) or it already succeeded (a redelivery after its ack was lost).
# A running job whose lease ran out lost its worker: that is recorded, and this attempt takes it.
JOB_CLAIM = (
    "MERGE (j:MmkgJob {id: $id}) "
    "ON CREATE SET j.submitted_at = datetime(), j.attempts = 0, j.state = 'queued' "
    "WITH j, j.state AS previous, j.worker AS previous_worker, "
    "j.state = 'running' AND j.worker <> $worker AND j.lease_until > datetime() AS held, "
    "j.state = 'succeeded' AS done "
    "CALL (j, previous, previous_worker, held, done) { "
    "WITH * WHERE NOT held AND NOT done "
    "SET j.task = $task, j.args = $args, j.state = 'running', j.started_at = datetime(), "
    "j.attempts = j.attempts + 1, j.worker = $worker, j.progress = 0.0, j.error = null, "
    "j.lease_until = datetime() + duration({seconds: $lease}), "
    "j.lost_workers = CASE WHEN previous = 'running' AND previous_worker <> $worker "
    "THEN coalesce(j.lost_workers, []) + previous_worker ELSE j.lost_workers END, "
    "j.note = CASE WHEN previous = 'running' AND previous_worker <> $worker "
    "THEN 'worker lost: ' + previous_worker + '; retried' ELSE j.note END } "
    "RETURN held, done, previous, previous_worker, j.result AS result, "
    "duration.inSeconds(datetime(), j.lease_until).seconds AS lease_left"
)
# A job queued by the web API: visible in `mmkg jobs` before a worker claims it.
JOB_QUEUED = (
    "MERGE (j:MmkgJob {id: $id}) ON CREATE SET j.submitted_at = datetime(), j.attempts = 0, "
    "j.state = 'queued', j.task = $task, j.args = $args, j.submitted_by = $by"
)
JOB_HEARTBEAT = (
    "MATCH (j:MmkgJob {id: $id}) WHERE j.worker = $worker AND j.state = 'running' "
    "SET j.lease_until = datetime() + duration({seconds: $lease})"
)
JOB_PROGRESS = "MATCH (j:MmkgJob {id: $id}) SET j.progress = $progress, j.note = $note"
JOB_FINISH = (
    "MATCH (j:MmkgJob {id: $id}) SET j.state = $state, j.finished_at = datetime(), "
    "j.lease_until = null, "
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
    "toString(j.finished_at) AS finished_at, j.error AS error, j.result AS result, j.args AS args, "
    "j.lost_workers AS lost_workers "
    "ORDER BY coalesce(j.started_at, j.submitted_at) DESC LIMIT $limit"
)
GET_JOB = "MATCH (j:MmkgJob {id: $id}) RETURN j {.*} AS job"


# --- duplicates and their repair ------------------------------------------------------------
# Nodes that break a uniqueness constraint can only exist where the schema was not applied
# when they were written. Label and property are validated identifiers.
def count_duplicates(label: str, prop: str) -> str:
    lab, p = quote_identifier(label, "label"), quote_identifier(prop, "property")
    return (
        f"MATCH (n:{lab}) WHERE n.{p} IS NOT NULL WITH n.{p} AS v, count(*) AS c WHERE c > 1 "
        "RETURN count(v) AS groups, coalesce(sum(c), 0) - count(v) AS extra, "
        "collect(v)[..$sample] AS sample"
    )


def duplicate_values(label: str, prop: str) -> str:
    lab, p = quote_identifier(label, "label"), quote_identifier(prop, "property")
    return (
        f"MATCH (n:{lab}) WHERE n.{p} IS NOT NULL WITH n.{p} AS v, count(*) AS c WHERE c > 1 "
        "RETURN v ORDER BY v"
    )


def merge_duplicates(label: str, prop: str) -> str:
    """Merge each group of ``label`` nodes sharing ``prop`` (values ``$values``) into the one with
    the smallest element id: relationships move to it (a relationship it already has of the same
    type and direction absorbs the other's properties), properties it lacks are copied, labels
    are added, and the others are deleted."""
    lab, p = quote_identifier(label, "label"), quote_identifier(prop, "property")
    return (
        f"MATCH (n:{lab}) WHERE n.{p} IN $values "
        f"WITH n.{p} AS v, n ORDER BY elementId(n) "
        "WITH v, collect(n) AS ns WITH v, head(ns) AS keep, tail(ns) AS dups "
        "UNWIND dups AS d "
        "CALL (keep, d) { MATCH (d)-[r]->(x) WHERE x <> d "
        "MERGE (keep)-[n:$(type(r))]->(x) SET n += properties(r) DELETE r "
        "RETURN count(*) AS outgoing } "
        "CALL (keep, d) { MATCH (x)-[r]->(d) WHERE x <> d "
        "MERGE (x)-[n:$(type(r))]->(keep) SET n += properties(r) DELETE r "
        "RETURN count(*) AS incoming } "
        "CALL (keep, d) { MATCH (d)-[r]->(d) "
        "MERGE (keep)-[n:$(type(r))]->(keep) SET n += properties(r) DELETE r "
        "RETURN count(*) AS loops } "
        "WITH v, keep, d, outgoing + incoming + loops AS moved, properties(d) AS dp, "
        "properties(keep) AS kp, labels(d) AS dl "
        "SET keep = dp SET keep += kp SET keep:$(dl) "
        "DETACH DELETE d "
        "RETURN count(d) AS removed, sum(moved) AS moved"
    )


# Two :RelationType nodes with one name but different types: the relationships of the type
# that goes are retyped to the one that stays.
def retype_relationships(old_type: str, new_type: str) -> str:
    old = quote_identifier(old_type, "relationship type")
    new = quote_identifier(new_type, "relationship type")
    return (
        f"MATCH (h)-[r:{old}]->(t) CALL (h, r, t) {{ MERGE (h)-[n:{new}]->(t) "
        "SET n += properties(r) DELETE r } IN TRANSACTIONS OF 10000 ROWS"
    )


RELATION_TYPES_BY_NAME = (
    "MATCH (r:RelationType) WHERE r.name IN $names "
    "RETURN r.name AS name, r.type AS type, elementId(r) AS key ORDER BY name, key"
)
COUNT_DUPLICATE_RELATIONSHIPS = (
    "MATCH (h:Entity)-[r]->(t:Entity) WITH h, type(r) AS ty, t, count(r) AS c WHERE c > 1 "
    "RETURN count(*) AS pairs, coalesce(sum(c), 0) - count(*) AS extra"
)
DELETE_DUPLICATE_RELATIONSHIPS = (
    "MATCH (h:Entity)-[r]->(t:Entity) WITH h, type(r) AS ty, t, collect(r) AS rs "
    "WHERE size(rs) > 1 UNWIND tail(rs) AS extra DELETE extra RETURN count(extra) AS removed"
)


# --- maintenance (tests and benchmarks empty the database between rounds) ------------------
DELETE_ALL = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS"
DELETE_USERS = "MATCH (n:User) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS"
DELETE_MEDIA = "MATCH (n:Media) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 20000 ROWS"
# Run against the system database of a server started with authentication off (reset).
RESET_PASSWORD = "ALTER USER $user SET PASSWORD $password CHANGE NOT REQUIRED"
