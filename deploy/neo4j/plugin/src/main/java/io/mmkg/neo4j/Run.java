package io.mmkg.neo4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.RelationshipType;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;

/**
 * One embedding run as the Python writer recorded it on its (:EmbeddingRun) node.
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
        this.scorer = new Scorer(model, ((Number) node.getProperty("gamma", 0.0)).doubleValue());
    }

    private static String str(Node node, String key) {
        Object v = node.getProperty(key, null);
        if (!(v instanceof String s)) {
            throw new IllegalStateException("the EmbeddingRun node lacks '" + key + "'; rewrite the run");
        }
        return s;
    }

    private static long num(Node node, String key) {
        Object v = node.getProperty(key, null);
        if (!(v instanceof Number n)) {
            throw new IllegalStateException("the EmbeddingRun node lacks '" + key + "'; rewrite the run");
        }
        return n.longValue();
    }

    /** The run named by {@code runId}, or the active run when it is null. */
    static Run resolve(Transaction tx, String runId) {
        String id = runId;
        if (id == null) {
            Node serving = tx.findNode(SERVING, "name", "default");
            Object active = serving == null ? null : serving.getProperty("active", null);
            if (!(active instanceof String s)) {
                throw new IllegalArgumentException(
                        "no active embedding run: write one with `mmkg embeddings write RUN_DIR --activate` "
                                + "or name one with the option {run: 'id'}");
            }
            id = s;
        }
        Node node = tx.findNode(EMBEDDING_RUN, "id", id);
        if (node == null) {
            throw new IllegalArgumentException(
                    "unknown embedding run '" + id + "'; `mmkg embeddings list` shows the runs");
        }
        Object status = node.getProperty("status", "");
        if (!"ready".equals(status) && !"active".equals(status)) {
            throw new IllegalArgumentException(
                    "embedding run '" + id + "' is not ready to serve (status " + status + ")");
        }
        return new Run(node);
    }

    /** An entity given as a node or as its id. */
    static Node entity(Transaction tx, Object given, String param) {
        if (given instanceof Node node) {
            if (!node.hasLabel(ENTITY)) {
                throw new IllegalArgumentException(param + ": the node given is not an :Entity");
            }
            return node;
        }
        if (given instanceof String s) {
            Node node = tx.findNode(ENTITY, "id", s);
            if (node == null) {
                throw new IllegalArgumentException(param + ": unknown entity '" + s + "' (no :Entity has that id)");
            }
            return node;
        }
        throw new IllegalArgumentException(
                param + ": give an :Entity node or an entity id string, not " + describe(given));
    }

    static String describe(Object value) {
        return value == null ? "null" : value.getClass().getSimpleName() + " " + value;
    }

    /** A relation given by its raw name (as loaded) or its relationship type. */
    static Node relation(Transaction tx, String given) {
        if (given == null || given.isEmpty()) {
            throw new IllegalArgumentException("relation: give a relation name or type");
        }
        Node node = tx.findNode(RELATION_TYPE, "name", given);
        if (node == null) node = tx.findNode(RELATION_TYPE, "type", given);
        if (node == null) {
            List<String> known = new ArrayList<>();
            try (ResourceIterator<Node> it = tx.findNodes(RELATION_TYPE)) {
                while (it.hasNext() && known.size() < 8) known.add((String) it.next().getProperty("name", "?"));
            }
            throw new IllegalArgumentException(
                    "relation: unknown relation '" + given + "'; known relations include " + known);
        }
        return node;
    }

    static RelationshipType type(Node relation) {
        return RelationshipType.withName((String) relation.getProperty("type"));
    }

    float[] entityVector(Node entity) {
        float[] v = Vectors.floats(entity.getProperty(entityProperty, null));
        if (v == null) {
            throw new IllegalArgumentException(
                    "entity '" + entity.getProperty("id", "?") + "' has no embedding in run '" + id
                            + "' (added after the run was trained? run an incremental refresh)");
        }
        if (v.length != dim) {
            throw new IllegalStateException("entity '" + entity.getProperty("id", "?") + "' has a "
                    + v.length + "-dimensional vector in run '" + id + "', expected " + dim);
        }
        return v;
    }

    float[] relationVector(Node relation, boolean inverse) {
        String key = inverse ? inverseProperty : relationProperty;
        float[] v = Vectors.floats(relation.getProperty(key, null));
        if (v == null) {
            throw new IllegalArgumentException("relation '" + relation.getProperty("name", "?")
                    + "' has no embedding in run '" + id + "' (it was not in the training data)");
        }
        if (v.length != dim) {
            throw new IllegalStateException("relation '" + relation.getProperty("name", "?") + "' has a "
                    + v.length + "-dimensional vector in run '" + id + "', expected " + dim);
        }
        return v;
    }

    Map<String, Object> describe() {
        return Map.of("id", id, "model", model, "dim", dim);
    }
}
