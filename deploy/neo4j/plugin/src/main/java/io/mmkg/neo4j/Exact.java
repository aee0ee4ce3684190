package io.mmkg.neo4j;

import org.neo4j.procedure.TerminationGuard;

/** Brute-force top-m over every cached row, in parallel on mmkg's pool, checking termination. */
final class Exact {
    /** Rows per chunk: a few milliseconds of work, so termination is noticed quickly. */
    static final int CHUNK_ROWS = 16_384;

    private Exact() {}

    interface RowScorer {
        /** Scores of rows [from, to) of a page into out[0...]. */
        void score(float[] page, int from, int to, float[] out);
    }

    static long[] top(VectorStore store, RowScorer scorer, int m, int concurrency, TerminationGuard guard) {
        int pages = store.pageCount();
        int[] firstChunk = new int[pages + 1];
        for (int p = 0; p < pages; p++) {
            firstChunk[p + 1] = firstChunk[p] + (store.rowsIn(p) + CHUNK_ROWS - 1) / CHUNK_ROWS;
        }
        int chunks = firstChunk[pages];
        TopK best = new TopK(m);
        if (chunks == 0) return best.sorted();
        Pool.forEach(chunks, concurrency, guard, c -> {
            int p = 0;
            while (firstChunk[p + 1] <= c) p++;
            int from = (c - firstChunk[p]) * CHUNK_ROWS;
            int to = Math.min(store.rowsIn(p), from + CHUNK_ROWS);
            float[] out = new float[to - from];
            scorer.score(store.pages[p], from, to, out);
            TopK local = new TopK(m);
            long base = store.pageStart(p) + from;
            for (int i = 0; i < out.length; i++) {
                if (out[i] >= local.threshold()) local.offer(out[i], base + i);
            }
            synchronized (best) {
                best.addAll(local);
            }
        });
        return best.sorted();
    }
}
