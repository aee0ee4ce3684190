package io.mmkg.neo4j;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;
import org.neo4j.procedure.TerminationGuard;

/**
 * The plugin's cache of run matrices, like GDS's graph catalog: runs are loaded on their first
 * exact query (or ahead of time, pinned, by {@code mmkg.cache.load}), listed and dropped.
 *
 * <p>Entries are keyed by run id and carry the run's write token: a run written again under the
 * same id gets a new token, so a cached matrix is never stale. The memory budget is
 * {@code dbms.mmkg.cache.max_heap_fraction} of the heap, checked with the figures before anything is
 * allocated; unpinned entries are evicted, least recently used first, to make room.
 */
final class Catalog {
    private static final ConcurrentHashMap<String, CachedRun> ENTRIES = new ConcurrentHashMap<>();
    private static final ConcurrentHashMap<String, Object> LOADING = new ConcurrentHashMap<>();
    /** Transient bytes per row while loading (the id bytes and their list slot). */
    private static final long LOAD_OVERHEAD_PER_ROW = 80;
    /** Bytes per row of the element-id arena (a length byte and ~45 id bytes). */
    private static final long KEY_BYTES_PER_ROW = 48;

    private Catalog() {}

    static CachedRun cached(Run run) {
        CachedRun e = ENTRIES.get(run.id);
        return e != null && e.token.equals(run.token) ? e : null;
    }

    static long estimateBytes(Run run) {
        return VectorStore.bytesFor(run.entityCount, run.dim) + run.entityCount * KEY_BYTES_PER_ROW;
    }

    /** Whether the run is cached, or would fit the budget now (with evictions). */
    static boolean fits(Run run) {
        if (cached(run) != null) return true;
        return estimateBytes(run) + run.entityCount * LOAD_OVERHEAD_PER_ROW <= budget() - pinnedBytes();
    }

    static long budget() {
        return (long) (Runtime.getRuntime().maxMemory() * PluginSettings.maxHeapFraction());
    }

    static long usedBytes() {
        long total = 0;
        for (CachedRun e : ENTRIES.values()) total += e.bytes();
        return total;
    }

    private static long pinnedBytes() {
        long total = 0;
        for (CachedRun e : ENTRIES.values()) if (e.pinned) total += e.bytes();
        return total;
    }

    /** The run's cached entry, loading it (once, however many queries ask at the same time). */
    static CachedRun get(Transaction tx, Run run, TerminationGuard guard, boolean pin) {
        CachedRun e = cached(run);
        if (e == null) {
            Object lock = LOADING.computeIfAbsent(run.id, id -> new Object());
            synchronized (lock) {
                try {
                    e = cached(run);
                    if (e == null) {
                        e = load(tx, run, guard);
                        ENTRIES.put(run.id, e);
                    }
                } finally {
                    LOADING.remove(run.id, lock);
                }
            }
        }
        if (pin) e.pinned = true;
        e.touch();
        return e;
    }

    static List<CachedRun> list() {
        List<CachedRun> out = new ArrayList<>(ENTRIES.values());
        out.sort(Comparator.comparing(c -> c.runId));
        return out;
    }

    static CachedRun drop(String runId) {
        return ENTRIES.remove(runId);
    }

    static void clear() {
        ENTRIES.clear();
    }

    /** Checks (evicting others if needed) that {@code need} more bytes fit, for an ANN graph. */
    static void reserve(Run run, long need) {
        makeRoom(run, need);
    }

    /** Makes room for {@code need} bytes by evicting unpinned entries, least recently used first. */
    private static void makeRoom(Run run, long need) {
        long budget = budget();
        List<CachedRun> victims = new ArrayList<>();
        for (CachedRun c : ENTRIES.values()) if (!c.pinned && !c.runId.equals(run.id)) victims.add(c);
        victims.sort(Comparator.comparingLong(c -> c.lastUsed));
        long used = usedBytes();
        for (CachedRun v : victims) {
            if (used + need <= budget) break;
            ENTRIES.remove(v.runId, v);
            used -= v.bytes();
        }
        if (used + need > budget) {
            throw MmkgException.of(MmkgException.Code.OUT_OF_MEMORY,
                    "caching run '%s' needs about %d MB (%d vectors of dimension %d and their ids, "
                            + "plus %d MB while loading), but the cache may use %d MB "
                            + "(dbms.mmkg.cache.max_heap_fraction = %.2f of a %d MB heap) and pinned runs hold %d MB; "
                            + "drop a run from the cache (mmkg.cache.drop), raise the fraction or the heap "
                            + "(server.memory.heap.max_size), or use {mode: 'ann'} with a vector index",
                    run.id, estimateBytes(run) >> 20, run.entityCount, run.dim,
                    (run.entityCount * LOAD_OVERHEAD_PER_ROW) >> 20, budget >> 20,
                    PluginSettings.maxHeapFraction(), Runtime.getRuntime().maxMemory() >> 20,
                    pinnedBytes() >> 20);
        }
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        if (need > free) {
            System.gc(); // evicted entries may still occupy the heap
            free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
            if (need > free) {
                throw MmkgException.of(MmkgException.Code.OUT_OF_MEMORY,
                        "caching run '%s' needs about %d MB of heap, but only %d MB are free now; "
                                + "raise server.memory.heap.max_size or use {mode: 'ann'}",
                        run.id, need >> 20, free >> 20);
            }
        }
    }

    private static CachedRun load(Transaction tx, Run run, TerminationGuard guard) {
        long started = System.nanoTime();
        makeRoom(run, estimateBytes(run) + run.entityCount * LOAD_OVERHEAD_PER_ROW);
        VectorStore store = new VectorStore(run.dim, run.entityCount);
        Keys.Builder keys = new Keys.Builder();
        long n = 0;
        try (ResourceIterator<Node> it = tx.findNodes(Run.ENTITY)) {
            while (it.hasNext()) {
                Node node = it.next();
                if ((n & 4095) == 0 && guard != null) guard.check();
                float[] v = Vectors.floats(node.getProperty(run.entityProperty, null));
                if (v == null) continue;
                if (v.length != run.dim) {
                    throw MmkgException.of(MmkgException.Code.RUN_CORRUPT,
                            "entity '%s' has a %d-dimensional vector in run '%s', expected %d",
                            node.getProperty("id", "?"), v.length, run.id, run.dim);
                }
                if (n == store.rows) {
                    throw MmkgException.of(MmkgException.Code.RUN_CORRUPT,
                            "run '%s' has more entity vectors than its entity_count (%d); write it again",
                            run.id, run.entityCount);
                }
                store.set(n, v);
                keys.add(node.getElementId());
                n++;
            }
        }
        VectorStore rows = n == store.rows ? store : store.truncate(n);
        double seconds = (System.nanoTime() - started) / 1e9;
        return new CachedRun(run.id, run.token, rows, keys.build(), seconds);
    }
}
