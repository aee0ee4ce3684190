package io.mmkg.neo4j;

/**
 * The scoring functions of mmkg's KGE models, chosen by the run's capability flags (score kind,
 * distance, complex) as the Python writer recorded them; the model's name is never consulted.
 *
 * <p>Relation vectors arrive already prepared (RotatE's phases as cos/sin), so every model here is
 * a formula over float vectors. Complex vectors keep real parts in the first half and imaginary
 * parts in the second. Higher is better. The bulk kernels ({@link #scoreRows}) accumulate in
 * float with four independent sums (the scan is bound by memory and by dependent adds); the
 * answers they select are re-scored in double ({@link #compare}).
 */
final class Scorer {
    /** The same epsilon as the Python side, so scores agree to float precision. */
    private static final double EPS = 1e-9;

    enum Kind {
        L1,
        L2,
        MODULUS,
        DOT,
        COMPLEX_DOT
    }

    final Kind kind;
    final double gamma;
    /** Queries are complex rotations (RotatE) although the distance is L2 (PyKEEN's RotatE). */
    final boolean rotation;

    private Scorer(Kind kind, double gamma) {
        this(kind, gamma, kind == Kind.MODULUS);
    }

    private Scorer(Kind kind, double gamma, boolean rotation) {
        this.kind = kind;
        this.gamma = gamma;
        this.rotation = rotation;
    }

    /** From the run's flags: score 'distance' (with distance l1|l2|modulus) or 'inner_product'. */
    static Scorer of(String score, String distance, boolean complex, double gamma) {
        if ("inner_product".equals(score)) return new Scorer(complex ? Kind.COMPLEX_DOT : Kind.DOT, gamma);
        if ("distance".equals(score)) {
            if ("l1".equals(distance) && !complex) return new Scorer(Kind.L1, gamma);
            if ("l2".equals(distance)) return new Scorer(Kind.L2, gamma, complex);
            if ("modulus".equals(distance) && complex) return new Scorer(Kind.MODULUS, gamma);
        }
        throw MmkgException.of(MmkgException.Code.RUN_CORRUPT,
                "the run's scoring flags (score %s, distance %s, complex %s) name no scoring function this "
                        + "plugin knows; upgrade the plugin or rewrite the run", score, distance, complex);
    }

    /** Euclidean distance as a score (mmkg.similar over distance models). */
    static Scorer euclidean() {
        return new Scorer(Kind.L2, 0.0);
    }

    boolean innerProduct() {
        return kind == Kind.DOT || kind == Kind.COMPLEX_DOT;
    }

    /** The query vector q such that score(h, r, t) = compare(q, t) for every tail t. */
    float[] tailQuery(float[] h, float[] r) {
        if (rotation || kind == Kind.COMPLEX_DOT) return rotate(h, r, false);
        int d = h.length;
        float[] q = new float[d];
        switch (kind) {
            case L1, L2 -> {
                for (int i = 0; i < d; i++) q[i] = h[i] + r[i];
            }
            case DOT -> {
                for (int i = 0; i < d; i++) q[i] = h[i] * r[i];
            }
            default -> throw new IllegalStateException("rotations are handled above: " + kind);
        }
        return q;
    }

    /** x ∘ r (or x ∘ conj r) for complex vectors: real parts first, imaginary parts second. */
    private static float[] rotate(float[] x, float[] r, boolean conjugate) {
        int d = x.length, m = d / 2;
        float[] q = new float[d];
        for (int i = 0; i < m; i++) {
            float a = x[i], b = x[m + i], c = r[i], e = conjugate ? -r[m + i] : r[m + i];
            q[i] = a * c - b * e;
            q[m + i] = a * e + b * c;
        }
        return q;
    }

    /** The query vector q such that score(h, r, t) = compare(q, h) for every head h. */
    float[] headQuery(float[] r, float[] t) {
        // |h r - t| = |h - t conj(r)| because |r| = 1, for every norm of the difference
        if (rotation) return rotate(t, r, true);
        int d = t.length;
        float[] q = new float[d];
        switch (kind) {
            case L1, L2 -> {
                // ||h + r - t|| = ||h - (t - r)||
                for (int i = 0; i < d; i++) q[i] = t[i] - r[i];
            }
            case DOT -> {
                for (int i = 0; i < d; i++) q[i] = r[i] * t[i];
            }
            case COMPLEX_DOT -> {
                // Re<h, r, conj t> = <h_re, c e + d f> + <h_im, c f - d e>
                int m = d / 2;
                for (int i = 0; i < m; i++) {
                    float c = r[i], dd = r[m + i], e = t[i], f = t[m + i];
                    q[i] = c * e + dd * f;
                    q[m + i] = c * f - dd * e;
                }
            }
            default -> throw new IllegalStateException("rotations are handled above: " + kind);
        }
        return q;
    }

    /** The model's score (in double) of the candidate at {@code off} of {@code data} against q. */
    double compare(float[] q, float[] data, int off) {
        int d = q.length;
        switch (kind) {
            case L2 -> {
                double s = 0;
                for (int i = 0; i < d; i++) {
                    double x = q[i] - data[off + i];
                    s += x * x;
                }
                return gamma - Math.sqrt(Math.max(s, EPS));
            }
            case L1 -> {
                double s = 0;
                for (int i = 0; i < d; i++) s += Math.abs(q[i] - data[off + i]);
                return gamma - s;
            }
            case MODULUS -> {
                int m = d / 2;
                double s = 0;
                for (int i = 0; i < m; i++) {
                    double re = q[i] - data[off + i];
                    double im = q[m + i] - data[off + m + i];
                    s += Math.sqrt(re * re + im * im + EPS);
                }
                return gamma - s;
            }
            default -> {
                double s = 0;
                for (int i = 0; i < d; i++) s += (double) q[i] * data[off + i];
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

    /**
     * Fast float scores of rows {@code [from, to)} of a page against q, into out[outOff...]. Ranks
     * as {@link #compare} does (monotone transforms skipped: the L2 score is the negated squared
     * distance); NaN becomes -infinity, so a broken vector ranks last.
     */
    void scoreRows(float[] q, float[] page, int from, int to, float[] out, int outOff) {
        int d = q.length;
        for (int row = from; row < to; row++) {
            int off = row * d;
            float s;
            switch (kind) {
                case L2 -> s = -sqDist(q, page, off, d);
                case L1 -> s = (float) gamma - l1(q, page, off, d);
                case MODULUS -> s = (float) gamma - modulus(q, page, off, d);
                default -> s = dot(q, page, off, d);
            }
            out[outOff + row - from] = Float.isNaN(s) ? Float.NEGATIVE_INFINITY : s;
        }
    }

    static float sqDist(float[] q, float[] m, int off, int d) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < d; i += 4) {
            float x0 = q[i] - m[off + i], x1 = q[i + 1] - m[off + i + 1];
            float x2 = q[i + 2] - m[off + i + 2], x3 = q[i + 3] - m[off + i + 3];
            s0 += x0 * x0;
            s1 += x1 * x1;
            s2 += x2 * x2;
            s3 += x3 * x3;
        }
        for (; i < d; i++) {
            float x = q[i] - m[off + i];
            s0 += x * x;
        }
        return (s0 + s1) + (s2 + s3);
    }

    static float dot(float[] q, float[] m, int off, int d) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < d; i += 4) {
            s0 += q[i] * m[off + i];
            s1 += q[i + 1] * m[off + i + 1];
            s2 += q[i + 2] * m[off + i + 2];
            s3 += q[i + 3] * m[off + i + 3];
        }
        for (; i < d; i++) s0 += q[i] * m[off + i];
        return (s0 + s1) + (s2 + s3);
    }

    static float l1(float[] q, float[] m, int off, int d) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < d; i += 4) {
            s0 += Math.abs(q[i] - m[off + i]);
            s1 += Math.abs(q[i + 1] - m[off + i + 1]);
            s2 += Math.abs(q[i + 2] - m[off + i + 2]);
            s3 += Math.abs(q[i + 3] - m[off + i + 3]);
        }
        for (; i < d; i++) s0 += Math.abs(q[i] - m[off + i]);
        return (s0 + s1) + (s2 + s3);
    }

    static float modulus(float[] q, float[] m, int off, int d) {
        int h = d / 2;
        float s0 = 0, s1 = 0;
        int i = 0;
        for (; i + 1 < h; i += 2) {
            float re0 = q[i] - m[off + i], im0 = q[h + i] - m[off + h + i];
            float re1 = q[i + 1] - m[off + i + 1], im1 = q[h + i + 1] - m[off + h + i + 1];
            s0 += (float) Math.sqrt(re0 * re0 + im0 * im0 + 1e-9f);
            s1 += (float) Math.sqrt(re1 * re1 + im1 * im1 + 1e-9f);
        }
        for (; i < h; i++) {
            float re = q[i] - m[off + i], im = q[h + i] - m[off + h + i];
            s0 += (float) Math.sqrt(re * re + im * im + 1e-9f);
        }
        return s0 + s1;
    }
}
