package io.mmkg.neo4j;

import java.util.ArrayList;
import java.util.List;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.NotFoundException;
import org.neo4j.graphdb.RelationshipType;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;

/**
 * One embedding run as the Python writer recorded it on its (:EmbeddingRun) node: property and
 * index names, scoring flags and sizes are all read from there, never derived.
 *
 * <p>A run's vectors never change once its status is ready, so everything read here (and the
 * matrix cached from it, keyed by the run's write token) stays valid for the run's lifetime.
 */
final class Run {
    static final Label ENTITY = Label.label("Entity");
    static final Label RELATION_TYPE = Label.label("RelationType");
    static final Label EMBEDDING_RUN = Label.label("EmbeddingRun");
    static final Label SERVING = Label.label("MmkgServing");

    final String id;
    final String token;
    final String model;
    final int dim;
    final boolean reciprocal;
    final String entityProperty;
    final String annProperty;
    final String annIndex;
    final String relationProperty;
    final String inverseProperty;
    final long entityCount;
    final Scorer scorer;
    /** Recommender runs: the User property holding each user's vector (else null). */
    final String userProperty;

    private Run(Node node) {
        this.id = str(node, "id");
        this.token = str(node, "token");
        this.model = str(node, "model");
        this.dim = (int) num(node, "dim");
        this.reciprocal = Boolean.TRUE.equals(node.getProperty("reciprocal", false));
        this.entityProperty = str(node, "entity_property");
        this.annProperty = (String) node.getProperty("ann_property", null);
        this.annIndex = (String) node.getProperty("ann_index", null);
        this.relationProperty = str(node, "relation_property");
        this.inverseProperty = (String) node.getProperty("inverse_property", null);
        this.entityCount = num(node, "entity_count");
        this.userProperty = (String) node.getProperty("user_property", null);
        this.scorer = Scorer.of(
                (String) node.getProperty("score", null),
                (String) node.getProperty("distance", null),
                Boolean.TRUE.equals(node.getProperty("complex", false)),
                ((Number) node.getProperty("gamma", 0.0)).doubleValue());
    }

    private static String str(Node node, String key) {
        Object v = node.getProperty(key, null);
        if (!(v instanceof String s)) {
            throw MmkgException.of(MmkgException.Code.RUN_CORRUPT,
                    "the EmbeddingRun node lacks '%s'; write the run again", key);
        }
        return s;
    }

    private static long num(Node node, String key) {
        Object v = node.getProperty(key, null);
        if (!(v instanceof Number n)) {
            throw MmkgException.of(MmkgException.Code.RUN_CORRUPT,
                    "the EmbeddingRun node lacks '%s'; write the run again", key);
        }
        return n.longValue();
    }

    /** The id of the active run, or null. */
    static String activeId(Transaction tx) {
        return activeId(tx, "default");
    }

    /** The id of the run a serving pointer names ('default': link prediction; 'recommend'). */
    static String activeId(Transaction tx, String name) {
        Node serving = tx.findNode(SERVING, "name", name);
        Object active = serving == null ? null : serving.getProperty("active", null);
        return active instanceof String s ? s : null;
    }

    /** The run named by {@code runId}, or the active run when it is null. */
    static Run resolve(Transaction tx, String runId) {
        String id = runId;
        if (id == null) {
            id = activeId(tx);
            if (id == null) {
                throw MmkgException.of(MmkgException.Code.NO_ACTIVE_RUN,
                        "no active embedding run: write one with `mmkg embeddings write RUN_DIR --activate` "
                                + "or name one with the option {run: 'id'}");
            }
        }
        Node node = tx.findNode(EMBEDDING_RUN, "id", id);
        if (node == null) {
            throw MmkgException.of(MmkgException.Code.UNKNOWN_RUN,
                    "unknown embedding run '%s'; `mmkg embeddings list` shows the runs", id);
        }
        Object status = node.getProperty("status", "");
        if (!"ready".equals(status) && !"active".equals(status)) {
            throw MmkgException.of(MmkgException.Code.RUN_NOT_READY,
                    "embedding run '%s' is not ready to serve (status %s)", id, status);
        }
        return new Run(node);
    }

    /** An entity given as a node or as its id. */
    static Node entity(Transaction tx, Object given, String param) {
        if (given instanceof Node node) {
            if (!node.hasLabel(ENTITY)) {
                throw MmkgException.of(MmkgException.Code.INVALID_ARGUMENT, "%s: the node given is not an :Entity", param);
            }
            return node;
        }
        if (given instanceof String s) {
            Node node = tx.findNode(ENTITY, "id", s);
            if (node == null) {
                throw MmkgException.of(MmkgException.Code.UNKNOWN_ENTITY,
                        "%s: unknown entity '%s' (no :Entity has that id)", param, s);
            }
            return node;
        }
        throw MmkgException.of(MmkgException.Code.INVALID_ARGUMENT,
                "%s: give an :Entity node or an entity id string, not %s", param, describe(given));
    }

    static String describe(Object value) {
        return value == null ? "null" : value.getClass().getSimpleName() + " " + value;
    }

    /** A relation given by its raw name (as loaded) or its relationship type. */
    static Node relation(Transaction tx, String given) {
        if (given == null || given.isEmpty()) {
            throw MmkgException.of(MmkgException.Code.INVALID_ARGUMENT, "relation: give a relation name or type");
        }
        Node node = tx.findNode(RELATION_TYPE, "name", given);
        if (node == null) node = tx.findNode(RELATION_TYPE, "type", given);
        if (node == null) {
            List<String> known = new ArrayList<>();
            try (ResourceIterator<Node> it = tx.findNodes(RELATION_TYPE)) {
                while (it.hasNext() && known.size() < 8) known.add((String) it.next().getProperty("name", "?"));
            }
            throw MmkgException.of(MmkgException.Code.UNKNOWN_RELATION,
                    "relation: unknown relation '%s'; known relations include %s", given, known);
        }
        return node;
    }

    static RelationshipType type(Node relation) {
        return RelationshipType.withName((String) relation.getProperty("type"));
    }

    /** A node by element id, or null when it no longer exists. */
    static Node byKey(Transaction tx, String elementId) {
        try {
            return tx.getNodeByElementId(elementId);
        } catch (NotFoundException | IllegalArgumentException gone) {
            return null;
        }
    }

    float[] entityVector(Node entity) {
        float[] v = Vectors.floats(entity.getProperty(entityProperty, null));
        if (v == null) {
            throw MmkgException.of(MmkgException.Code.NO_EMBEDDING,
                    "entity '%s' has no embedding in run '%s' (added after the run was trained? run an "
                            + "incremental refresh)", entity.getProperty("id", "?"), id);
        }
        if (v.length != dim) {
            throw MmkgException.of(MmkgException.Code.RUN_CORRUPT,
                    "entity '%s' has a %d-dimensional vector in run '%s', expected %d",
                    entity.getProperty("id", "?"), v.length, id, dim);
        }
        return v;
    }

    float[] relationVector(Node relation, boolean inverse) {
        String key = inverse ? inverseProperty : relationProperty;
        float[] v = key == null ? null : Vectors.floats(relation.getProperty(key, null));
        if (v == null) {
            throw MmkgException.of(MmkgException.Code.NO_EMBEDDING,
                    "relation '%s' has no embedding in run '%s' (it was not in the training data)",
                    relation.getProperty("name", "?"), id);
        }
        if (v.length != dim) {
            throw MmkgException.of(MmkgException.Code.RUN_CORRUPT,
                    "relation '%s' has a %d-dimensional vector in run '%s', expected %d",
                    relation.getProperty("name", "?"), v.length, id, dim);
        }
        return v;
    }
}
