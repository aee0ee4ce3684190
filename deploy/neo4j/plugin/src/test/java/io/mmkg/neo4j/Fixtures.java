package io.mmkg.neo4j;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Transaction;

/** Runs written straight into a test database, as mmkg's Python writer would write them. */
final class Fixtures {
    private Fixtures() {}

    record Written(String run, float[][] entities, float[] relation, String[] ids) {}

    /**
     * A run of {@code n} entities with random vectors; its entity ids are {@code prefix + i}, its one
     * relation is named {@code rel_<run>}. Scoring flags are those of the named model.
     */
    static Written run(GraphDatabaseService db, String run, String model, int n, int dim, long seed) {
        Random random = new Random(seed);
        float[][] vectors = new float[n][dim];
        for (float[] v : vectors) for (int j = 0; j < dim; j++) v[j] = (float) random.nextGaussian() / (float) Math.sqrt(dim);
        float[] relation = new float[dim];
        for (int j = 0; j < dim; j++) relation[j] = (float) random.nextGaussian() / (float) Math.sqrt(dim);
        if (model.startsWith("rotate")) { // a unit complex number per dimension, as prepared by Python
            int h = dim / 2;
            for (int j = 0; j < h; j++) {
                double phase = random.nextDouble() * 2 * Math.PI;
                relation[j] = (float) Math.cos(phase);
                relation[h + j] = (float) Math.sin(phase);
            }
        }
        String[] ids = new String[n];
        String prop = "mmkg_e_" + run;
        int batch = 5000;
        for (int start = 0; start < n; start += batch) {
            try (Transaction tx = db.beginTx()) {
                for (int i = start; i < Math.min(n, start + batch); i++) {
                    ids[i] = run + "_" + i;
                    var node = tx.createNode(Run.ENTITY);
                    node.setProperty("id", ids[i]);
                    node.setProperty(prop, vectors[i]);
                }
                tx.commit();
            }
        }
        Map<String, Object> props = new HashMap<>();
        props.put("id", run);
        props.put("token", "token-" + run + "-" + seed);
        props.put("model", model);
        props.put("dim", (long) dim);
        props.put("gamma", 6.0);
        props.put("reciprocal", false);
        props.put("entity_property", prop);
        props.put("relation_property", "mmkg_r_" + run);
        props.put("entity_count", (long) n);
        props.put("status", "ready");
        switch (model) {
            case "transe_l1" -> flags(props, "distance", "l1", false);
            case "transe_l2" -> flags(props, "distance", "l2", false);
            case "rotate" -> flags(props, "distance", "modulus", true);
            case "rotate_l2" -> flags(props, "distance", "l2", true);
            case "distmult" -> flags(props, "inner_product", null, false);
            case "complex" -> flags(props, "inner_product", null, true);
            default -> throw new IllegalArgumentException(model);
        }
        try (Transaction tx = db.beginTx()) {
            var node = tx.createNode(Run.EMBEDDING_RUN);
            props.forEach((k, v) -> {
                if (v != null) node.setProperty(k, v);
            });
            var rel = tx.createNode(Run.RELATION_TYPE);
            rel.setProperty("name", "rel_" + run);
            rel.setProperty("type", "REL_" + run.toUpperCase());
            rel.setProperty("mmkg_r_" + run, relation);
            tx.commit();
        }
        return new Written(run, vectors, relation, ids);
    }

    private static void flags(Map<String, Object> props, String score, String distance, boolean complex) {
        props.put("score", score);
        props.put("distance", distance);
        props.put("complex", complex);
    }

    /** Rows of a query's result as maps. */
    static List<Map<String, Object>> rows(GraphDatabaseService db, String query, Map<String, Object> params) {
        return db.executeTransactionally(query, params, result -> {
            List<Map<String, Object>> out = new ArrayList<>();
            while (result.hasNext()) out.add(result.next());
            return out;
        });
    }
}
