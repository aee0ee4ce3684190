package io.mmkg.neo4j;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import org.neo4j.procedure.TerminationGuard;

/**
 * mmkg's own bounded thread pool (never the JVM's common pool, which Neo4j and other plugins
 * share), sized by the setting {@code mmkg.concurrency}.
 *
 * <p>Work is split into chunks that a bounded number of workers pull from a counter. The calling
 * (transaction) thread waits in short slices and checks the transaction's {@link TerminationGuard}
 * between them: a terminated or timed-out query cancels the workers, which stop after their
 * current chunk (a few milliseconds), and the termination is rethrown to the caller.
 */
final class Pool {
    private static final long POLL_MS = 5;
    private static volatile ThreadPoolExecutor executor;
    private static int size;

    private Pool() {}

    static synchronized ThreadPoolExecutor executor() {
        int want = PluginSettings.concurrency();
        if (executor == null || size != want) {
            if (executor != null) executor.shutdown();
            AtomicInteger n = new AtomicInteger();
            executor = new ThreadPoolExecutor(want, want, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
                Thread t = new Thread(r, "mmkg-worker-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            executor.allowCoreThreadTimeOut(true);
            size = want;
        }
        return executor;
    }

    static int maxConcurrency() {
        return PluginSettings.concurrency();
    }

    /**
     * Runs {@code body} for every chunk in {@code [0, chunks)} on at most {@code concurrency}
     * workers; returns when all ran. {@code guard} may be null (no transaction to watch).
     */
    static void forEach(int chunks, int concurrency, TerminationGuard guard, IntConsumer body) {
        int workers = Math.max(1, Math.min(Math.min(concurrency, maxConcurrency()), chunks));
        AtomicInteger next = new AtomicInteger();
        AtomicBoolean cancelled = new AtomicBoolean();
        if (workers == 1) {
            for (int c = 0; c < chunks; c++) {
                if (guard != null && (c & 7) == 0) guard.check();
                body.accept(c);
            }
            return;
        }
        ThreadPoolExecutor pool = executor();
        List<Future<?>> futures = new ArrayList<>(workers);
        for (int w = 0; w < workers; w++) {
            futures.add(pool.submit(() -> {
                int c;
                while (!cancelled.get() && (c = next.getAndIncrement()) < chunks) body.accept(c);
            }));
        }
        try {
            for (Future<?> f : futures) {
                while (true) {
                    try {
                        f.get(POLL_MS, TimeUnit.MILLISECONDS);
                        break;
                    } catch (TimeoutException slice) {
                        if (guard != null) guard.check();
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException re) throw re;
            if (cause instanceof Error err) throw err;
            throw new IllegalStateException(cause);
        } finally {
            cancelled.set(true);
            for (Future<?> f : futures) f.cancel(false);
        }
    }
}
