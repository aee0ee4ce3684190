package io.mmkg.neo4j;

import java.util.ArrayList;
import java.util.List;

/** Conversions between property values and float vectors. */
final class Vectors {
    private Vectors() {}

    /** A stored vector as floats: float[] as the writer stores it, double[] if set from Cypher. */
    static float[] floats(Object value) {
        if (value == null) return null;
        if (value instanceof float[] f) return f;
        if (value instanceof double[] d) {
            float[] f = new float[d.length];
            for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
            return f;
        }
        throw MmkgException.of(MmkgException.Code.RUN_CORRUPT,
                "expected a float array property, found %s", value.getClass().getSimpleName());
    }

    static List<Double> list(float[] v, int padTo) {
        List<Double> out = new ArrayList<>(Math.max(v.length, padTo));
        for (float x : v) out.add((double) x);
        while (out.size() < padTo) out.add(0.0);
        return out;
    }
}
