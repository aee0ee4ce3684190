package io.mmkg.neo4j;

import org.neo4j.procedure.TerminationGuard;

/**
 * A compressed copy of a cached run for fast approximate ranking: every coordinate quantised to
 * 2 bits (4 levels over mean ± 2 sd of its dimension, cell centres) and stored bit-sliced, two
 * bit-planes of {@code ceil(dim / 64)} longs per row, plus each row's exact squared norm and code
 * sum. A query is quantised to 2 or 3 bits per coordinate (a uniform quantiser clipped at a
 * multiple of its spread); the inner product of codes is then a handful of popcounts per plane
 * pair, so a scan reads 62 bytes per row instead of 800 (d = 200) and runs without SIMD.
 *
 * <p>Measured on 1M random 200-d rows (bench/predict_latency.py and the study behind it): the best
 * 1,000 rows of this estimate hold the exact top 10 in 96% (3-bit queries: 99%) of cases; they are
 * re-scored exactly with the model's own function, so the answers' scores are exact.
 *
 * <p>The estimate is of the squared euclidean distance (and, for inner-product runs, of the inner
 * product); for L1 and RotatE's sum of moduli it is the euclidean approximation of the model's
 * distance, which the exact re-scoring then corrects.
 */
final class BitCodes {
    private static final int PAGE_LONGS = 1 << 24;
    /** Data clip range in standard deviations for 4 levels (close to optimal for Gaussians). */
    private static final double CLIP = 2.0;
    /** Query step in standard deviations, for 2 and 3 bits (uniform MSE-optimal for Gaussians). */
    private static final double[] QUERY_STEP = {0, 0, 0.9957, 0.586};

    final int dim;
    final long rows;
    final int words;
    final int rowsPerPage;
    final long[][] pages;
    final float[] norms; // exact ||x||^2
    final short[] codeSums;
    final double[] lo; // per dimension: lowest cell centre is lo + step / 2
    final double[] step;
    final boolean inner;
    double buildSeconds;

    private BitCodes(VectorStore store, boolean inner) {
        if (store.rows > Integer.MAX_VALUE - 8) {
            throw Options.invalid("compressed codes hold at most %d rows, the run has %d", Integer.MAX_VALUE - 8, store.rows);
        }
        this.dim = store.dim;
        this.rows = store.rows;
        this.words = (dim + 63) / 64;
        this.rowsPerPage = Math.max(1, PAGE_LONGS / (2 * words));
        int pageCount = (int) Math.max(1, (rows + rowsPerPage - 1) / rowsPerPage);
        this.pages = new long[pageCount][];
        for (int p = 0; p < pageCount; p++) {
            long inPage = Math.min(rowsPerPage, rows - (long) p * rowsPerPage);
            pages[p] = new long[(int) Math.max(inPage, 0) * 2 * words];
        }
        this.norms = new float[(int) rows];
        this.codeSums = new short[(int) rows];
        this.lo = new double[dim];
        this.step = new double[dim];
        this.inner = inner;
    }

    static long bytesFor(long rows, int dim) {
        return rows * (2L * ((dim + 63) / 64) * 8 + 4 + 2);
    }

    long bytes() {
        return bytesFor(rows, dim);
    }

    String describe() {
        return "bits(2)";
    }

    /** Builds the codes of a store (one pass for the statistics, one to quantise). */
    static BitCodes build(VectorStore store, boolean inner, int concurrency, TerminationGuard guard) {
        long started = System.nanoTime();
        BitCodes c = new BitCodes(store, inner);
        int d = store.dim;
        double[] sum = new double[d], sq = new double[d];
        for (long r = 0; r < store.rows; r++) {
            if ((r & 65535) == 0 && guard != null) guard.check();
            float[] page = store.pages[store.page(r)];
            int off = store.offset(r);
            for (int j = 0; j < d; j++) {
                double x = page[off + j];
                sum[j] += x;
                sq[j] += x * x;
            }
        }
        long n = Math.max(store.rows, 1);
        for (int j = 0; j < d; j++) {
            double mean = sum[j] / n;
            double sd = Math.sqrt(Math.max(sq[j] / n - mean * mean, 1e-24));
            c.lo[j] = mean - CLIP * sd;
            c.step[j] = 2 * CLIP * sd / 4;
        }
        int chunk = 65_536;
        int chunks = (int) ((store.rows + chunk - 1) / chunk);
        Pool.forEach(chunks, concurrency, guard, k -> {
            long from = (long) k * chunk, to = Math.min(store.rows, from + chunk);
            for (long r = from; r < to; r++) c.encode(store, r);
        });
        c.buildSeconds = (System.nanoTime() - started) / 1e9;
        return c;
    }

    private void encode(VectorStore store, long r) {
        float[] page = store.pages[store.page(r)];
        int off = store.offset(r);
        long[] codes = pages[(int) (r / rowsPerPage)];
        int base = (int) (r % rowsPerPage) * 2 * words;
        double norm = 0;
        int sumCodes = 0;
        for (int j = 0; j < dim; j++) {
            double x = page[off + j];
            norm += x * x;
            int code = (int) Math.floor((x - lo[j]) / step[j]);
            code = Math.max(0, Math.min(3, code));
            sumCodes += code;
            int w = j >>> 6;
            long bit = 1L << (j & 63);
            if ((code & 1) != 0) codes[base + w] |= bit;
            if ((code & 2) != 0) codes[base + words + w] |= bit;
        }
        norms[(int) r] = (float) norm;
        codeSums[(int) r] = (short) sumCodes;
    }

    /** A query quantised for the scan: bit-planes of its weights and the affine constants. */
    final class Query {
        final int bits;
        final long[] planes; // bits × words
        final double wmin;
        final double wstep;

        Query(float[] q, int bits) {
            if (bits != 2 && bits != 3) throw Options.invalid("query bits must be 2 or 3, got %d", bits);
            this.bits = bits;
            double[] w = new double[dim];
            double mean = 0;
            for (int j = 0; j < dim; j++) {
                w[j] = q[j] * step[j];
                mean += w[j];
            }
            mean /= dim;
            double var = 0;
            for (int j = 0; j < dim; j++) var += (w[j] - mean) * (w[j] - mean);
            double sd = Math.sqrt(Math.max(var / dim, 1e-30));
            int levels = (1 << bits) - 1;
            this.wstep = QUERY_STEP[bits] * sd;
            this.wmin = mean - levels / 2.0 * wstep;
            this.planes = new long[bits * words];
            for (int j = 0; j < dim; j++) {
                int u = (int) Math.round((w[j] - wmin) / wstep);
                u = Math.max(0, Math.min(levels, u));
                for (int k = 0; k < bits; k++) {
                    if ((u >>> k & 1) != 0) planes[k * words + (j >>> 6)] |= 1L << (j & 63);
                }
            }
        }
    }

    /**
     * The best {@code m} rows by the estimate (highest first): minus the estimated squared
     * distance to q (the query's own norm and constants dropped), or the estimated inner product.
     */
    long[] top(float[] q, int queryBits, int m, int concurrency, TerminationGuard guard) {
        Query query = new Query(q, queryBits);
        // q·x̂ = Σ q_j (lo_j + step_j / 2) + Σ w_j c_j, and Σ w_j c_j ≈ wmin Σ c_j + wstep Σ u_j c_j.
        final double a = query.wmin, b = query.wstep;
        // Few, large chunks: each keeps its own top m, and a chunk barely larger than m would
        // spend its time in heap insertions (capped so the termination guard is still checked
        // every few milliseconds).
        final long chunk = Math.min(1L << 18,
                Math.max(Exact.CHUNK_ROWS * 2L, (rows + 4L * concurrency - 1) / (4L * concurrency)));
        int chunks = (int) ((rows + chunk - 1) / chunk);
        TopK best = new TopK(m);
        if (rows == 0) return best.sorted();
        final long[] u = query.planes;
        final int bits = query.bits, w = words;
        Pool.forEach(chunks, concurrency, guard, k -> {
            long from = (long) k * chunk, to = Math.min(rows, from + chunk);
            TopK local = new TopK(m);
            float threshold = Float.NEGATIVE_INFINITY;
            // The page and the offset advance with the row: no division per row (two 64-bit
            // divisions cost as much as the popcounts of a d = 200 row).
            int page = (int) (from / rowsPerPage);
            long[] codes = pages[page];
            int o = (int) (from % rowsPerPage) * 2 * w;
            for (long r = from; r < to; r++, o += 2 * w) {
                if (o == codes.length) {
                    codes = pages[++page];
                    o = 0;
                }
                int p = 0;
                for (int kk = 0; kk < bits; kk++) {
                    int s = 0, ku = kk * w;
                    for (int x = 0; x < w; x++) {
                        long uw = u[ku + x];
                        s += Long.bitCount(codes[o + x] & uw) + (Long.bitCount(codes[o + w + x] & uw) << 1);
                    }
                    p += s << kk;
                }
                int row = (int) r;
                double dot = a * codeSums[row] + b * p;
                float score = inner ? (float) dot : (float) (2 * dot - norms[row]);
                if (score > threshold) {
                    local.offer(score, r);
                    threshold = local.threshold();
                }
            }
            synchronized (best) {
                best.addAll(local);
            }
        });
        return best.sorted();
    }
}
