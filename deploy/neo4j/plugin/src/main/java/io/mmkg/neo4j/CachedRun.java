package io.mmkg.neo4j;

import java.time.ZonedDateTime;
import java.util.concurrent.atomic.AtomicLong;

/** One run's vectors held in the plugin's cache: the matrix, the rows' element ids, an ANN graph. */
final class CachedRun {
    final String runId;
    final String token;
    final VectorStore vectors;
    final Keys keys;
    final ZonedDateTime loadedAt = ZonedDateTime.now();
    final AtomicLong hits = new AtomicLong();
    final double loadSeconds;
    volatile boolean pinned;
    volatile Hnsw ann;
    volatile BitCodes codes;
    volatile long lastUsed = System.nanoTime();

    CachedRun(String runId, String token, VectorStore vectors, Keys keys, double loadSeconds) {
        this.runId = runId;
        this.token = token;
        this.vectors = vectors;
        this.keys = keys;
        this.loadSeconds = loadSeconds;
    }

    long rows() {
        return vectors.rows;
    }

    long bytes() {
        Hnsw a = ann;
        BitCodes c = codes;
        return vectors.bytes() + keys.bytes() + (a == null ? 0 : a.bytes()) + (c == null ? 0 : c.bytes());
    }

    String storage() {
        return "float32";
    }

    String index() {
        Hnsw a = ann;
        BitCodes c = codes;
        if (a == null && c == null) return null;
        if (a == null) return c.describe();
        return c == null ? a.describe() : a.describe() + "," + c.describe();
    }

    /** The compressed codes, built on first use (once, however many queries ask). */
    BitCodes codes(Run run, int concurrency, org.neo4j.procedure.TerminationGuard guard) {
        BitCodes c = codes;
        if (c != null) return c;
        synchronized (this) {
            if (codes == null) {
                Catalog.reserve(run, BitCodes.bytesFor(rows(), vectors.dim));
                codes = BitCodes.build(vectors, run.scorer.innerProduct(), concurrency, guard);
            }
            return codes;
        }
    }

    void touch() {
        hits.incrementAndGet();
        lastUsed = System.nanoTime();
    }
}
