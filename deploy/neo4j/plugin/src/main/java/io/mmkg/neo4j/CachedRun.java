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
        return vectors.bytes() + keys.bytes() + (a == null ? 0 : a.bytes());
    }

    String storage() {
        return "float32";
    }

    String index() {
        Hnsw a = ann;
        return a == null ? null : a.describe();
    }

    void touch() {
        hits.incrementAndGet();
        lastUsed = System.nanoTime();
    }
}
