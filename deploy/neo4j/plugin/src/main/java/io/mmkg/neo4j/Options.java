package io.mmkg.neo4j;

import java.util.Map;
import java.util.Set;

/** The options map of the predict and similar procedures, validated. */
final class Options {
    private static final Set<String> KEYS = Set.of("exclude", "label", "mode", "run", "candidates");

    final boolean exclude;
    final String label;
    final String mode;
    final String run;
    final int candidates;

    Options(Map<String, Object> given) {
        Map<String, Object> o = given == null ? Map.of() : given;
        for (String key : o.keySet()) {
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException(
                        "options: unknown key '" + key + "'; allowed: exclude, label, mode, run, candidates");
            }
        }
        this.exclude = bool(o, "exclude", true);
        this.label = string(o, "label");
        String m = string(o, "mode");
        this.mode = m == null ? "auto" : m;
        if (!Set.of("auto", "exact", "ann").contains(mode)) {
            throw new IllegalArgumentException("options.mode: '" + mode + "' is not one of exact, ann, auto");
        }
        this.run = string(o, "run");
        Object c = o.get("candidates");
        if (c != null && !(c instanceof Number)) {
            throw new IllegalArgumentException("options.candidates: expected an integer, got " + Run.describe(c));
        }
        this.candidates = c == null ? 0 : ((Number) c).intValue();
        if (c != null && (candidates < 1 || candidates > 10_000)) {
            throw new IllegalArgumentException("options.candidates: must lie in 1..10000, got " + c);
        }
    }

    private static boolean bool(Map<String, Object> o, String key, boolean dflt) {
        Object v = o.get(key);
        if (v == null) return dflt;
        if (!(v instanceof Boolean b)) {
            throw new IllegalArgumentException("options." + key + ": expected true or false, got " + Run.describe(v));
        }
        return b;
    }

    private static String string(Map<String, Object> o, String key) {
        Object v = o.get(key);
        if (v == null) return null;
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException("options." + key + ": expected a string, got " + Run.describe(v));
        }
        return s;
    }

    /**
     * Whether to answer from the vector index for this run. 'auto' scores exactly whenever the
     * run's matrix fits in a third of the heap: measured on 2 cores, brute force over 1M x 200
     * floats (60 ms, every answer right) beats Neo4j's HNSW index at 100 candidates (53 ms,
     * recall@10 0.69), so the index is the fallback for runs too large to cache.
     */
    boolean ann(Run run) {
        return switch (mode) {
            case "ann" -> true;
            case "exact" -> false;
            default -> run.annIndex != null && !Matrix.fitsComfortably(run);
        };
    }

    static void checkK(long k) {
        if (k < 1 || k > 10_000) throw new IllegalArgumentException("k: must lie in 1..10000, got " + k);
    }
}
