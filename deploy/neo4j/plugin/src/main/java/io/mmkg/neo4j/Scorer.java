package io.mmkg.neo4j;

/**
 * The scoring functions of mmkg's KGE models, mirroring mmkg.platform.kge.interactions.
 *
 * <p>Relation vectors arrive already prepared by the Python writer (RotatE's phases turned into
 * cos/sin), so every model here is a formula over float vectors. Complex-valued models keep real
 * parts in the first half of a vector and imaginary parts in the second. Higher is better.
 */
final class Scorer {
    /** The same epsilon as the Python side, so scores agree to float precision. */
    private static final double EPS = 1e-9;

    enum Kind {
        TRANSE_L1,
        TRANSE_L2,
        DISTMULT,
        COMPLEX,
        ROTATE
    }

    final Kind kind;
    final double gamma;

    Scorer(String model, double gamma) {
        this.kind =
                switch (model) {
                    case "transe_l1" -> Kind.TRANSE_L1;
                    case "transe_l2" -> Kind.TRANSE_L2;
                    case "distmult" -> Kind.DISTMULT;
                    case "complex" -> Kind.COMPLEX;
                    case "rotate" -> Kind.ROTATE;
                    default -> throw new IllegalArgumentException(
                            "embedding run has unknown model '" + model + "'; this plugin serves "
                                    + "transe_l1, transe_l2, distmult, complex and rotate");
                };
        this.gamma = gamma;
    }

    /** Models that rank by inner product; their ANN index holds MIPS-augmented vectors. */
    boolean bilinear() {
        return kind == Kind.DISTMULT || kind == Kind.COMPLEX;
    }

    /** The query vector q such that score(h, r, t) = compare(q, t) for every tail t. */
    float[] tailQuery(float[] h, float[] r) {
        int d = h.length;
        float[] q = new float[d];
        switch (kind) {
            case TRANSE_L1, TRANSE_L2 -> {
                for (int i = 0; i < d; i++) q[i] = h[i] + r[i];
            }
            case DISTMULT -> {
                for (int i = 0; i < d; i++) q[i] = h[i] * r[i];
            }
            case COMPLEX, ROTATE -> {
                int m = d / 2;
                for (int i = 0; i < m; i++) {
                    float a = h[i], b = h[m + i], c = r[i], e = r[m + i];
                    q[i] = a * c - b * e;
                    q[m + i] = a * e + b * c;
                }
            }
        }
        return q;
    }

    /** The query vector q such that score(h, r, t) = compare(q, h) for every head h. */
    float[] headQuery(float[] r, float[] t) {
        int d = t.length;
        float[] q = new float[d];
        switch (kind) {
            case TRANSE_L1, TRANSE_L2 -> {
                // ||h + r - t|| = ||h - (t - r)||
                for (int i = 0; i < d; i++) q[i] = t[i] - r[i];
            }
            case DISTMULT -> {
                for (int i = 0; i < d; i++) q[i] = r[i] * t[i];
            }
            case COMPLEX -> {
                // Re<h, r, conj t> = <h_re, c e + d f> + <h_im, c f - d e>
                int m = d / 2;
                for (int i = 0; i < m; i++) {
                    float c = r[i], dd = r[m + i], e = t[i], f = t[m + i];
                    q[i] = c * e + dd * f;
                    q[m + i] = c * f - dd * e;
                }
            }
            case ROTATE -> {
                // |h r - t| = |h - t conj(r)| because |r| = 1
                int m = d / 2;
                for (int i = 0; i < m; i++) {
                    float a = t[i], b = t[m + i], c = r[i], e = -r[m + i];
                    q[i] = a * c - b * e;
                    q[m + i] = a * e + b * c;
                }
            }
        }
        return q;
    }

    /** The model's score of candidate row {@code row} of {@code matrix} against query q. */
    double compare(float[] q, float[] matrix, int row) {
        int d = q.length;
        int off = row * d;
        switch (kind) {
            case TRANSE_L2 -> {
                double s = 0;
                for (int i = 0; i < d; i++) {
                    double x = q[i] - matrix[off + i];
                    s += x * x;
                }
                return gamma - Math.sqrt(Math.max(s, EPS));
            }
            case TRANSE_L1 -> {
                double s = 0;
                for (int i = 0; i < d; i++) s += Math.abs(q[i] - matrix[off + i]);
                return gamma - s;
            }
            case ROTATE -> {
                int m = d / 2;
                double s = 0;
                for (int i = 0; i < m; i++) {
                    double re = q[i] - matrix[off + i];
                    double im = q[m + i] - matrix[off + m + i];
                    s += Math.sqrt(re * re + im * im + EPS);
                }
                return gamma - s;
            }
            default -> {
                double s = 0;
                for (int i = 0; i < d; i++) s += (double) q[i] * matrix[off + i];
                return s;
            }
        }
    }

    double compare(float[] q, float[] candidate) {
        return compare(q, candidate, 0);
    }

    double score(float[] h, float[] r, float[] t) {
        return compare(tailQuery(h, r), t, 0);
    }
}
