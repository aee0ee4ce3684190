package io.mmkg.neo4j;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;

/**
 * A run's entity vectors as one row-major float matrix, rows sorted by internal node id, for
 * exact (brute-force) scoring.
 *
 * <p>Loaded once per run from the nodes and kept in a small static cache keyed by the run's write
 * token: a run's vectors never change after it is written, and a run written again under the same
 * id gets a new token, so a cached matrix is never stale.
 */
final class Matrix {
    private static final int CACHED_RUNS = 2;
    /** Below this many rows one thread is faster than splitting the work. */
    private static final int PARALLEL_ROWS = 50_000;

    private static final Map<String, Matrix> CACHE = new LinkedHashMap<>(4, 0.75f, true);
    private static final ConcurrentHashMap<String, Object> LOADING = new ConcurrentHashMap<>();

    final long[] nodeIds;
    final float[] data;
    final int dim;

    private Matrix(long[] nodeIds, float[] data, int dim) {
        this.nodeIds = nodeIds;
        this.data = data;
        this.dim = dim;
    }

    int rows() {
        return nodeIds.length;
    }

    static Matrix of(Transaction tx, Run run) {
        synchronized (CACHE) {
            Matrix m = CACHE.get(run.token);
            if (m != null) return m;
        }
        // One loader per run: concurrent first queries wait instead of each holding a copy.
        Object lock = LOADING.computeIfAbsent(run.token, t -> new Object());
        synchronized (lock) {
            try {
                synchronized (CACHE) {
                    Matrix m = CACHE.get(run.token);
                    if (m != null) return m;
                }
                Matrix loaded = load(tx, run);
                synchronized (CACHE) {
                    CACHE.put(run.token, loaded);
                    while (CACHE.size() > CACHED_RUNS) {
                        String eldest = CACHE.keySet().iterator().next();
                        CACHE.remove(eldest);
                    }
                }
                return loaded;
            } finally {
                LOADING.remove(run.token);
            }
        }
    }

    /** Whether the run's matrix is cached or would take at most a third of the heap. */
    static boolean fitsComfortably(Run run) {
        synchronized (CACHE) {
            if (CACHE.containsKey(run.token)) return true;
        }
        return run.entityCount * (run.dim * 4L + 8L) <= Runtime.getRuntime().maxMemory() / 3;
    }

    /** Drops every cached matrix (after a run is dropped, to give the memory back at once). */
    static void clear() {
        synchronized (CACHE) {
            CACHE.clear();
        }
    }

    @SuppressWarnings("deprecation") // internal node ids: stable while the node lives, and compact
    private static Matrix load(Transaction tx, Run run) {
        long need = run.entityCount * (run.dim * 4L + 8L) * 2L; // packing briefly holds two copies
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        if (need > free * 0.8) {
            throw new IllegalStateException(String.format(
                    "exact scoring of run '%s' needs about %d MB of heap to cache %d vectors of dimension %d, "
                            + "but only %d MB are free; use the option {mode: 'ann'} or raise "
                            + "server.memory.heap.max_size",
                    run.id, need >> 20, run.entityCount, run.dim, free >> 20));
        }
        int capacity = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(run.entityCount, 16));
        long[] ids = new long[capacity];
        float[] rows = new float[Math.multiplyExact(capacity, run.dim)];
        int n = 0;
        try (ResourceIterator<Node> it = tx.findNodes(Run.ENTITY)) {
            while (it.hasNext()) {
                Node node = it.next();
                float[] v = Vectors.floats(node.getProperty(run.entityProperty, null));
                if (v == null) continue;
                if (v.length != run.dim) {
                    throw new IllegalStateException("entity '" + node.getProperty("id", "?") + "' has a "
                            + v.length + "-dimensional vector in run '" + run.id + "', expected " + run.dim);
                }
                if (n == ids.length) {
                    ids = Arrays.copyOf(ids, n * 2);
                    rows = Arrays.copyOf(rows, n * 2 * run.dim);
                }
                ids[n] = node.getId();
                System.arraycopy(v, 0, rows, n * run.dim, run.dim);
                n++;
            }
        }
        // Sort rows by node id so that lookups are a binary search.
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        final long[] unsorted = ids;
        Arrays.sort(order, (a, b) -> Long.compare(unsorted[a], unsorted[b]));
        long[] sortedIds = new long[n];
        float[] sorted = new float[n * run.dim];
        for (int i = 0; i < n; i++) {
            sortedIds[i] = ids[order[i]];
            System.arraycopy(rows, order[i] * run.dim, sorted, i * run.dim, run.dim);
        }
        return new Matrix(sortedIds, sorted, run.dim);
    }

    int rowOf(long nodeId) {
        int i = Arrays.binarySearch(nodeIds, nodeId);
        return i >= 0 ? i : -1;
    }

    /** A score of row {@code row} of a row-major matrix against query q. */
    @FunctionalInterface
    interface RowScore {
        double score(float[] q, float[] data, int row);
    }

    /** The score of every row against query q; NaN becomes -infinity (ranked last). */
    float[] scoreAll(RowScore scorer, float[] q) {
        int n = rows();
        float[] out = new float[n];
        IntStream range = IntStream.range(0, n);
        if (n >= PARALLEL_ROWS) range = range.parallel();
        range.forEach(i -> {
            double s = scorer.score(q, data, i);
            out[i] = Double.isNaN(s) ? Float.NEGATIVE_INFINITY : (float) s;
        });
        return out;
    }

    float[] row(int i) {
        return Arrays.copyOfRange(data, i * dim, (i + 1) * dim);
    }
}
