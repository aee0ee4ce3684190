package io.mmkg.neo4j;

import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.neo4j.graphdb.Transaction;
import org.neo4j.procedure.Context;
import org.neo4j.procedure.Description;
import org.neo4j.procedure.Mode;
import org.neo4j.procedure.Name;
import org.neo4j.procedure.Procedure;
import org.neo4j.procedure.TerminationGuard;

/**
 * The cache as a catalog, as GDS keeps its graphs: load (and pin) a run's matrix ahead of
 * queries, optionally with an HNSW graph; list what is held; drop it.
 *
 * <p>Modes say what each really does: {@code load} reads the graph (READ); {@code list} and
 * {@code drop} touch no database, only the plugin's own state (DBMS).
 */
public class CacheProcedures {
    private static final Set<String> LOAD_KEYS = Set.of("index", "m", "ef_construction", "concurrency", "seed");

    @Context
    public Transaction tx;

    @Context
    public TerminationGuard guard;

    public static final class Entry {
        public String run;
        public long rows;
        public long dim;
        public long bytes;
        public String storage;
        public String index;
        public ZonedDateTime loaded_at;
        public long hits;
        public boolean pinned;
        public double seconds;

        Entry(CachedRun c, double seconds) {
            this.run = c.runId;
            this.rows = c.rows();
            this.dim = c.vectors.dim;
            this.bytes = c.bytes();
            this.storage = c.storage();
            this.index = c.index();
            this.loaded_at = c.loadedAt;
            this.hits = c.hits.get();
            this.pinned = c.pinned;
            this.seconds = seconds;
        }
    }

    public static final class Dropped {
        public String run;
        public boolean dropped;
        public long bytes;

        Dropped(String run, boolean dropped, long bytes) {
            this.run = run;
            this.dropped = dropped;
            this.bytes = bytes;
        }
    }

    @Procedure(name = "mmkg.cache.load", mode = Mode.READ)
    @Description("mmkg.cache.load(run = null, options = {}) - load an embedding run's vectors (default the "
            + "active run) into the plugin's cache and pin them there; refused with the figures when they would "
            + "not fit dbms.mmkg.cache.max_heap_fraction of the heap. options: index ('bits' builds the compressed "
            + "codes the ANN scan reads, 'hnsw' an HNSW graph), m (links per node, default 16), ef_construction (default 100), concurrency, seed.")
    public Stream<Entry> load(
            @Name(value = "run", defaultValue = "null") String runId,
            @Name(value = "options", defaultValue = "{}") Map<String, Object> given) {
        Map<String, Object> o = given == null ? Map.of() : given;
        for (String key : o.keySet()) {
            if (!LOAD_KEYS.contains(key)) {
                throw Options.invalid("options: unknown key '%s'; allowed: %s", key, String.join(", ", new java.util.TreeSet<>(LOAD_KEYS)));
            }
        }
        Object index = o.get("index");
        if (index != null && !"hnsw".equals(index) && !"bits".equals(index)) {
            throw Options.invalid("options.index: 'hnsw' or 'bits', got %s", Run.describe(index));
        }
        int m = number(o, "m", 16, 4, 128);
        int ef = number(o, "ef_construction", 100, 8, 4000);
        int concurrency = number(o, "concurrency", Pool.maxConcurrency(), 1, 256);
        long seed = number(o, "seed", 42, 0, Integer.MAX_VALUE);
        long started = System.nanoTime();
        Run run = Run.resolve(tx, runId);
        CachedRun entry = Catalog.get(tx, run, guard, true);
        if ("bits".equals(index)) entry.codes(run, concurrency, guard);
        if ("hnsw".equals(index)) {
            synchronized (entry) {
                Hnsw current = entry.ann;
                if (current == null || current.m != m || current.efConstruction != ef) {
                    Catalog.reserve(run, Hnsw.bytesFor(entry.rows(), m));
                    entry.ann = new Hnsw(entry.vectors, run.scorer.kind, m, ef).build(concurrency, guard, seed);
                }
            }
        }
        return Stream.of(new Entry(entry, (System.nanoTime() - started) / 1e9));
    }

    private static int number(Map<String, Object> o, String key, int dflt, int lo, int hi) {
        Object v = o.get(key);
        if (v == null) return dflt;
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
            throw Options.invalid("options.%s: expected an integer, got %s", key, Run.describe(v));
        }
        long x = n.longValue();
        if (x < lo || x > hi) throw Options.invalid("options.%s: must lie in %d..%d, got %s", key, lo, hi, v);
        return (int) x;
    }

    @Procedure(name = "mmkg.cache.list", mode = Mode.DBMS)
    @Description("mmkg.cache.list() - the runs in the plugin's cache: rows, dim, bytes, storage, ANN index, "
            + "when loaded, hits, pinned.")
    public Stream<Entry> list() {
        List<CachedRun> entries = Catalog.list();
        return entries.stream().map(c -> new Entry(c, c.loadSeconds));
    }

    @Procedure(name = "mmkg.cache.drop", mode = Mode.DBMS)
    @Description("mmkg.cache.drop(run) - forget a run's cached matrix and ANN graph (its next exact query "
            + "loads it again).")
    public Stream<Dropped> drop(@Name("run") String runId) {
        if (runId == null || runId.isEmpty()) throw Options.invalid("run: give a run id");
        CachedRun gone = Catalog.drop(runId);
        return Stream.of(new Dropped(runId, gone != null, gone == null ? 0 : gone.bytes()));
    }
}
