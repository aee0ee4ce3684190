package io.mmkg.neo4j;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.NotFoundException;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;

/**
 * Top-k entities for a query vector, exactly (every cached row scored) or through the run's
 * vector index (candidates from HNSW, re-scored exactly with the model's own function).
 */
final class Ranker {
    /** Index candidates fetched per wanted answer when none are given (recall over speed). */
    private static final int ANN_FACTOR = 10;
    private static final int ANN_MIN_CANDIDATES = 100;

    record Hit(Node node, double score) {}

    private final Transaction tx;
    private final Run run;
    private final Options options;
    private final Set<Long> excluded;
    private final Label label;

    Ranker(Transaction tx, Run run, Options options, Set<Long> excluded) {
        this.tx = tx;
        this.run = run;
        this.options = options;
        this.excluded = excluded;
        this.label = options.label == null ? null : Label.label(options.label);
    }

    @SuppressWarnings("deprecation")
    private boolean accept(Node node) {
        if (excluded.contains(node.getId())) return false;
        return label == null || node.hasLabel(label);
    }

    /**
     * The k best entities. {@code rowScore} scores a cached matrix row against the query,
     * {@code exactScore} a candidate vector read from its node; {@code annQuery} is the vector
     * to look up in the run's index.
     */
    List<Hit> top(int k, float[] query, float[] annQuery, Matrix.RowScore rowScore,
            ToDoubleFunction<float[]> exactScore) {
        return options.ann(run)
                ? approximate(k, annQuery, exactScore)
                : exact(k, query, rowScore, exactScore);
    }

    @SuppressWarnings("deprecation")
    private List<Hit> exact(int k, float[] query, Matrix.RowScore rowScore,
            ToDoubleFunction<float[]> exactScore) {
        Matrix matrix = Matrix.of(tx, run);
        float[] scores = matrix.scoreAll(rowScore, query);
        int n = matrix.rows();
        // Pull rows best-first, widening the pull until k pass the filters or all are seen.
        int want = Math.min(n, k + excluded.size() + (label == null ? 0 : 4 * k));
        while (true) {
            int[] order = best(scores, want);
            List<Hit> hits = new ArrayList<>(k);
            for (int row : order) {
                Node node;
                try {
                    node = tx.getNodeById(matrix.nodeIds[row]);
                } catch (NotFoundException deleted) {
                    continue; // deleted since the run was written
                }
                if (!accept(node)) continue;
                hits.add(new Hit(node, exactScore.applyAsDouble(matrix.row(row))));
                if (hits.size() == k) return hits;
            }
            if (want >= n) return hits;
            want = (int) Math.min(n, want * 4L);
        }
    }

    /** Indices of the m highest scores, best first (ties by row). */
    static int[] best(float[] scores, int m) {
        PriorityQueue<Integer> heap = new PriorityQueue<>(m + 1, (a, b) -> {
            int c = Float.compare(scores[a], scores[b]);
            return c != 0 ? c : Integer.compare(b, a);
        });
        for (int i = 0; i < scores.length; i++) {
            if (heap.size() < m) {
                heap.add(i);
            } else if (scores[i] > scores[heap.peek()]) {
                heap.poll();
                heap.add(i);
            }
        }
        int[] out = new int[heap.size()];
        for (int i = out.length - 1; i >= 0; i--) out[i] = heap.poll();
        return out;
    }

    @SuppressWarnings("deprecation")
    private List<Hit> approximate(int k, float[] annQuery, ToDoubleFunction<float[]> exactScore) {
        if (run.annIndex == null) {
            throw new IllegalArgumentException(
                    "run '" + run.id + "' was written without a vector index; use {mode: 'exact'}");
        }
        int candidates = options.candidates > 0
                ? Math.max(options.candidates, k)
                : Math.max(ANN_MIN_CANDIDATES, ANN_FACTOR * k);
        candidates += excluded.size();
        long total = run.entityCount;
        while (true) {
            List<Hit> hits = new ArrayList<>();
            Set<Long> seen = new HashSet<>();
            int returned = 0;
            try (Result result = tx.execute(
                    "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node RETURN node",
                    Map.of("index", run.annIndex, "k", candidates, "vector", Vectors.list(annQuery, 0)))) {
                while (result.hasNext()) {
                    Node node = (Node) result.next().get("node");
                    returned++;
                    if (!seen.add(node.getId()) || !accept(node)) continue;
                    hits.add(new Hit(node, exactScore.applyAsDouble(run.entityVector(node))));
                }
            }
            if (hits.size() >= k || returned < candidates || candidates >= total || candidates >= 100_000) {
                hits.sort(Comparator.comparingDouble(Hit::score).reversed());
                return hits.size() > k ? hits.subList(0, k) : hits;
            }
            candidates = (int) Math.min(100_000, candidates * 4L);
        }
    }
}
