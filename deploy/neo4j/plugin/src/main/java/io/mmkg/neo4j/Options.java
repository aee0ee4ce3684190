package io.mmkg.neo4j;

import java.util.Map;
import java.util.Set;

/** The options map of the predict and similar procedures, validated. */
final class Options {
    private static final Set<String> KEYS =
            Set.of("exclude", "label", "mode", "run", "candidates", "concurrency", "query_bits", "ann");

    final boolean exclude;
    final String label;
    final String mode;
    final String run;
    final int candidates;
    final int concurrency;
    final int queryBits;
    final String ann;

    Options(Map<String, Object> given) {
        Map<String, Object> o = given == null ? Map.of() : given;
        for (String key : o.keySet()) {
            if (!KEYS.contains(key)) {
                throw invalid("options: unknown key '%s'; allowed: %s", key, String.join(", ", new java.util.TreeSet<>(KEYS)));
            }
        }
        this.exclude = bool(o, "exclude", true);
        this.label = string(o, "label");
        String m = string(o, "mode");
        this.mode = m == null ? "auto" : m;
        if (!Set.of("auto", "exact", "ann").contains(mode)) {
            throw invalid("options.mode: '%s' is not one of exact, ann, auto", mode);
        }
        this.run = string(o, "run");
        this.candidates = integer(o, "candidates", 0, 1, 100_000);
        this.concurrency = integer(o, "concurrency", Pool.maxConcurrency(), 1, 256);
        this.queryBits = integer(o, "query_bits", 2, 2, 3);
        String a = string(o, "ann");
        this.ann = a == null ? "auto" : a;
        if (!Set.of("auto", "bits", "hnsw", "index").contains(ann)) {
            throw invalid("options.ann: '%s' is not one of bits, hnsw, index, auto", ann);
        }
    }

    static MmkgException invalid(String format, Object... args) {
        return MmkgException.of(MmkgException.Code.INVALID_ARGUMENT, format, args);
    }

    private static int integer(Map<String, Object> o, String key, int dflt, int lo, int hi) {
        Object v = o.get(key);
        if (v == null) return dflt;
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
            throw invalid("options.%s: expected an integer, got %s", key, Run.describe(v));
        }
        long x = n.longValue();
        if (x < lo || x > hi) throw invalid("options.%s: must lie in %d..%d, got %s", key, lo, hi, v);
        return (int) x;
    }

    private static boolean bool(Map<String, Object> o, String key, boolean dflt) {
        Object v = o.get(key);
        if (v == null) return dflt;
        if (!(v instanceof Boolean b)) throw invalid("options.%s: expected true or false, got %s", key, Run.describe(v));
        return b;
    }

    private static String string(Map<String, Object> o, String key) {
        Object v = o.get(key);
        if (v == null) return null;
        if (!(v instanceof String s)) throw invalid("options.%s: expected a string, got %s", key, Run.describe(v));
        return s;
    }

    /**
     * How to answer for this run: 'exact' (every cached row), 'bits' (the compressed scan),
     * 'hnsw' (the plugin's graph over the cached rows) or 'index' (Neo4j's vector index). 'auto'
     * is exact whenever the run is cached or fits the cache budget (always right, and fast enough
     * up to millions of rows), else the vector index; see the README for the measurements.
     */
    String route(Run r) {
        CachedRun entry = Catalog.cached(r);
        boolean hnsw = entry != null && entry.ann != null;
        return switch (mode) {
            case "exact" -> "exact";
            case "ann" -> annRoute(r, hnsw);
            default -> {
                if (Catalog.fits(r) || r.annIndex == null) yield "exact";
                yield "index";
            }
        };
    }

    /**
     * ANN: the compressed scan over the cached run ('bits', built on first use) unless the run
     * cannot be cached; an HNSW graph when one was built with mmkg.cache.load; Neo4j's vector index
     * when asked for, or when the run is too large for the cache.
     */
    private String annRoute(Run r, boolean hnsw) {
        return switch (ann) {
            case "bits", "hnsw", "index" -> ann;
            default -> {
                if (hnsw) yield "hnsw";
                if (Catalog.fits(r) || r.annIndex == null) yield "bits";
                yield "index";
            }
        };
    }

    static void checkK(long k) {
        if (k < 1 || k > 10_000) throw invalid("k: must lie in 1..10000, got %d", k);
    }
}
