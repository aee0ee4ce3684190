package io.mmkg.neo4j;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;
import org.neo4j.procedure.TerminationGuard;

/**
 * Top-k entities for a query vector: exactly (every cached row scored), through the plugin's own
 * HNSW graph over the cached rows, or through the run's Neo4j vector index. Candidates are always
 * re-scored exactly with the model's own function and filtered (excluded nodes, label).
 */
final class Ranker {
    /** Index candidates fetched per wanted answer when none are given (recall over speed). */
    private static final int ANN_FACTOR = 10;
    private static final int ANN_MIN_CANDIDATES = 100;
    private static final int MAX_CANDIDATES = 100_000;
    /** Compressed-scan candidates re-scored by default: 96% recall@10 at 1M random rows. */
    static final int BITS_CANDIDATES = 1000;

    record Hit(Node node, double score) {}

    /** How a cached row is scored in bulk, and how a candidate vector is scored exactly. */
    interface Scoring {
        Exact.RowScorer rows();

        double exact(float[] data, int off);
    }

    private final Transaction tx;
    private final Run run;
    private final Options options;
    private final Set<String> excluded;
    private final Label label;
    private final TerminationGuard guard;

    Ranker(Transaction tx, Run run, Options options, Set<String> excludedKeys, TerminationGuard guard) {
        this.tx = tx;
        this.run = run;
        this.options = options;
        this.excluded = excludedKeys;
        this.label = options.label == null ? null : Label.label(options.label);
        this.guard = guard;
    }

    private boolean accept(Node node) {
        if (excluded.contains(node.getElementId())) return false;
        return label == null || node.hasLabel(label);
    }

    /**
     * The k best entities. {@code annQuery} is the vector to look up in the run's Neo4j vector
     * index (MIPS-padded for inner-product runs).
     */
    List<Hit> top(int k, float[] query, float[] annQuery, Scoring scoring) {
        String route = options.route(run);
        return switch (route) {
            case "hnsw" -> hnsw(k, query, scoring);
            case "bits" -> bits(k, query, scoring);
            case "index" -> index(k, annQuery, v -> scoring.exact(v, 0));
            default -> exact(k, scoring);
        };
    }

    private List<Hit> exact(int k, Scoring scoring) {
        CachedRun entry = Catalog.get(tx, run, guard, false);
        long n = entry.rows();
        // Pull rows best-first, widening the pull until k pass the filters or all are seen.
        long want = Math.min(n, k + excluded.size() + (label == null ? 0 : 4L * k));
        while (true) {
            long[] rows = Exact.top(entry.vectors, scoring.rows(), (int) Math.min(want, Integer.MAX_VALUE - 8),
                    options.concurrency, guard);
            List<Hit> hits = collect(entry, rows, k, scoring);
            if (hits.size() >= k || want >= n) return hits;
            want = Math.min(n, want * 4L);
        }
    }

    private List<Hit> hnsw(int k, float[] query, Scoring scoring) {
        CachedRun entry = Catalog.get(tx, run, guard, false);
        Hnsw ann = entry.ann;
        if (ann == null) {
            throw MmkgException.of(MmkgException.Code.NO_INDEX,
                    "run '%s' has no HNSW graph in the cache; build one with "
                            + "CALL mmkg.cache.load('%s', {index: 'hnsw'}) or use {mode: 'exact'}", run.id, run.id);
        }
        int ef = options.candidates > 0 ? Math.max(options.candidates, k) : Math.max(ANN_MIN_CANDIDATES, ANN_FACTOR * k);
        ef += excluded.size();
        while (true) {
            long[] rows = ann.search(query, ef, guard);
            List<Hit> hits = collect(entry, rows, k, scoring);
            if (hits.size() >= k || ef >= entry.rows() || ef >= MAX_CANDIDATES) return hits;
            ef = (int) Math.min(MAX_CANDIDATES, ef * 4L);
        }
    }

    /** Candidates from the compressed scan, re-scored exactly. */
    private List<Hit> bits(int k, float[] query, Scoring scoring) {
        CachedRun entry = Catalog.get(tx, run, guard, false);
        BitCodes codes = entry.codes(run, options.concurrency, guard);
        int c = options.candidates > 0 ? Math.max(options.candidates, k) : Math.max(BITS_CANDIDATES, ANN_FACTOR * k);
        c += excluded.size();
        while (true) {
            long[] rows = codes.top(query, options.queryBits, c, options.concurrency, guard);
            List<Hit> hits = collect(entry, rows, k, scoring);
            if (hits.size() >= k || c >= entry.rows() || c >= MAX_CANDIDATES) return hits;
            c = (int) Math.min(MAX_CANDIDATES, c * 4L);
        }
    }

    /**
     * The k best accepted rows among {@code rows}: every candidate is re-scored exactly first
     * (cheap: arrays), then nodes are looked up best-first only until k pass the filters.
     */
    private List<Hit> collect(CachedRun entry, long[] rows, int k, Scoring scoring) {
        VectorStore store = entry.vectors;
        double[] exact = new double[rows.length];
        Integer[] order = new Integer[rows.length];
        for (int i = 0; i < rows.length; i++) {
            exact[i] = scoring.exact(store.pages[store.page(rows[i])], store.offset(rows[i]));
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> {
            int cmp = Double.compare(exact[b], exact[a]);
            return cmp != 0 ? cmp : Long.compare(rows[a], rows[b]);
        });
        List<Hit> hits = new ArrayList<>(k);
        for (int i : order) {
            Node node = Run.byKey(tx, entry.keys.get(rows[i]));
            if (node == null || !accept(node)) continue; // deleted since the run was written, or filtered
            hits.add(new Hit(node, exact[i]));
            if (hits.size() == k) break;
        }
        return hits;
    }

    private List<Hit> index(int k, float[] annQuery, ToDoubleFunction<float[]> exactScore) {
        if (run.annIndex == null) {
            throw MmkgException.of(MmkgException.Code.NO_INDEX,
                    "run '%s' was written without a vector index; use {mode: 'exact'}", run.id);
        }
        int candidates = options.candidates > 0
                ? Math.max(options.candidates, k)
                : Math.max(ANN_MIN_CANDIDATES, ANN_FACTOR * k);
        candidates += excluded.size();
        long total = run.entityCount;
        while (true) {
            if (guard != null) guard.check();
            List<Hit> hits = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            int returned = 0;
            try (Result result = tx.execute(
                    "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node RETURN node",
                    Map.of("index", run.annIndex, "k", candidates, "vector", Vectors.list(annQuery, 0)))) {
                while (result.hasNext()) {
                    Node node = (Node) result.next().get("node");
                    returned++;
                    if (!seen.add(node.getElementId()) || !accept(node)) continue;
                    hits.add(new Hit(node, exactScore.applyAsDouble(run.entityVector(node))));
                }
            }
            if (hits.size() >= k || returned < candidates || candidates >= total || candidates >= MAX_CANDIDATES) {
                hits.sort(Comparator.comparingDouble(Hit::score).reversed());
                return hits.size() > k ? new ArrayList<>(hits.subList(0, k)) : hits;
            }
            candidates = (int) Math.min(MAX_CANDIDATES, candidates * 4L);
        }
    }
}
