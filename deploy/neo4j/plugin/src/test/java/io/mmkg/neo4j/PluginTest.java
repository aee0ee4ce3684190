package io.mmkg.neo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Transaction;
import org.neo4j.harness.Neo4j;
import org.neo4j.harness.Neo4jBuilders;

/** mmkg's procedures on an in-process Neo4j 5.26, with runs written as the Python side writes them. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PluginTest {
    private Neo4j neo4j;
    private GraphDatabaseService db;

    @BeforeAll
    void start() {
        neo4j = Neo4jBuilders.newInProcessBuilder()
                .withDisabledServer()
                .withProcedure(Predict.class)
                .withFunction(Predict.class)
                .withProcedure(CacheProcedures.class)
                .withProcedure(Write.class)
                .withProcedure(Recommend.class)
                .withConfig(PluginSettings.CACHE_MAX_HEAP_FRACTION, 0.6)
                .withConfig(PluginSettings.CONCURRENCY, 2)
                // The monitor that applies transaction timeouts checks every 2 s by default.
                .withConfig(GraphDatabaseSettings.transaction_monitor_check_interval, Duration.ofMillis(20))
                .build();
        db = neo4j.defaultDatabaseService();
    }

    @AfterAll
    void stop() {
        neo4j.close();
    }

    // --- reference formulas, written independently of Scorer -------------------------------------

    private static double reference(String model, float[] h, float[] r, float[] t, double gamma) {
        int d = h.length, m = d / 2;
        double s = 0;
        switch (model) {
            case "transe_l1" -> {
                for (int i = 0; i < d; i++) s += Math.abs((double) h[i] + r[i] - t[i]);
                return gamma - s;
            }
            case "transe_l2" -> {
                for (int i = 0; i < d; i++) s += Math.pow((double) h[i] + r[i] - t[i], 2);
                return gamma - Math.sqrt(s);
            }
            case "distmult" -> {
                for (int i = 0; i < d; i++) s += (double) h[i] * r[i] * t[i];
                return s;
            }
            case "complex" -> {
                for (int i = 0; i < m; i++) {
                    double a = h[i], b = h[m + i], c = r[i], e = r[m + i], f = t[i], g = t[m + i];
                    s += (a * c - b * e) * f + (a * e + b * c) * g;
                }
                return s;
            }
            case "rotate" -> {
                for (int i = 0; i < m; i++) {
                    double a = h[i], b = h[m + i], c = r[i], e = r[m + i];
                    double re = a * c - b * e - t[i], im = a * e + b * c - t[m + i];
                    s += Math.sqrt(re * re + im * im);
                }
                return gamma - s;
            }
            case "rotate_l2" -> {
                for (int i = 0; i < m; i++) {
                    double a = h[i], b = h[m + i], c = r[i], e = r[m + i];
                    double re = a * c - b * e - t[i], im = a * e + b * c - t[m + i];
                    s += re * re + im * im;
                }
                return gamma - Math.sqrt(s);
            }
            default -> throw new IllegalArgumentException(model);
        }
    }

    private List<Integer> bruteForce(Fixtures.Written w, String model, int head, int k) {
        return IntStream.range(0, w.entities().length)
                .boxed()
                .sorted(Comparator.comparingDouble(
                        (Integer t) -> -reference(model, w.entities()[head], w.relation(), w.entities()[t], 6.0)))
                .limit(k)
                .toList();
    }

    private List<Map<String, Object>> tail(String run, String head, int k, String extra) {
        return Fixtures.rows(db, "CALL mmkg.predict.tail($head, $rel, $k, {run: $run, exclude: false" + extra
                + "}) YIELD id, score, rank RETURN id, score, rank",
                Map.of("head", head, "rel", "rel_" + run, "k", k, "run", run));
    }

    @Test
    void exactAnswersAreTheModelsOwnTopKForEveryScoringFunction() {
        for (String model : List.of("transe_l1", "transe_l2", "distmult", "complex", "rotate", "rotate_l2")) {
            Fixtures.Written w = Fixtures.run(db, "ex_" + model, model, 700, 16, model.hashCode());
            for (int head : new int[] {0, 17, 345}) {
                List<Map<String, Object>> got = tail(w.run(), w.ids()[head], 10, ", mode: 'exact'");
                List<Integer> want = bruteForce(w, model, head, 10);
                assertEquals(10, got.size(), model);
                for (int i = 0; i < 10; i++) {
                    int t = want.get(i);
                    assertEquals(w.ids()[t], got.get(i).get("id"), model + " rank " + (i + 1));
                    double expected = reference(model, w.entities()[head], w.relation(), w.entities()[t], 6.0);
                    assertEquals(expected, (double) got.get(i).get("score"), 1e-4, model);
                    assertEquals((long) i + 1, got.get(i).get("rank"));
                }
            }
        }
    }

    @Test
    void recommendRanksItemsByInnerProductExcludesWhatTheUserHasAndNamesBadUsers() {
        Fixtures.Written w = Fixtures.run(db, "rec_run", "distmult", 500, 16, 5);
        float[] user = w.entities()[3].clone();
        try (var tx = db.beginTx()) {
            tx.findNode(Run.EMBEDDING_RUN, "id", "rec_run").setProperty("user_property", "mmkg_u_rec_run");
            var u = tx.createNode(Recommend.USER);
            u.setProperty("id", "alice");
            u.setProperty("mmkg_u_rec_run", user);
            u.createRelationshipTo(tx.findNode(Run.ENTITY, "id", w.ids()[3]), Recommend.INTERACTED);
            tx.createNode(Recommend.USER).setProperty("id", "bob"); // fitted before bob existed
            tx.createNode(Run.SERVING).setProperty("name", "recommend");
            tx.commit();
        }
        List<Integer> want = IntStream.range(0, w.entities().length).boxed().filter(i -> i != 3)
                .sorted(Comparator.comparingDouble((Integer t) -> -dot(user, w.entities()[t])))
                .limit(5).toList();
        List<Map<String, Object>> got = Fixtures.rows(db,
                "CALL mmkg.recommend('alice', 5, {run: 'rec_run', mode: 'exact'}) YIELD id, score, rank "
                        + "RETURN id, score, rank", Map.of());
        assertEquals(5, got.size());
        for (int i = 0; i < 5; i++) {
            assertEquals(w.ids()[want.get(i)], got.get(i).get("id"));
            assertEquals(dot(user, w.entities()[want.get(i)]), (double) got.get(i).get("score"), 1e-4);
        }
        var unknown = assertThrows(Exception.class,
                () -> Fixtures.rows(db, "CALL mmkg.recommend('carol', 5, {run: 'rec_run'})", Map.of()));
        assertTrue(rootMessage(unknown).contains("MMKG-E012"), rootMessage(unknown));
        var blank = assertThrows(Exception.class,
                () -> Fixtures.rows(db, "CALL mmkg.recommend('bob', 5, {run: 'rec_run'})", Map.of()));
        assertTrue(rootMessage(blank).contains("MMKG-E006"), rootMessage(blank));
        var none = assertThrows(Exception.class, () -> Fixtures.rows(db, "CALL mmkg.recommend('alice', 5)", Map.of()));
        assertTrue(rootMessage(none).contains("MMKG-E003"), rootMessage(none));
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void cacheLoadsListsCountsHitsAndDrops() {
        Fixtures.Written w = Fixtures.run(db, "cache_run", "transe_l2", 3000, 24, 7);
        Map<String, Object> loaded = Fixtures.rows(db, "CALL mmkg.cache.load('cache_run')", Map.of()).get(0);
        assertEquals(3000L, loaded.get("rows"));
        assertEquals(24L, loaded.get("dim"));
        assertTrue((long) loaded.get("bytes") >= 3000L * 24 * 4);
        assertEquals(true, loaded.get("pinned"));
        for (int i = 0; i < 3; i++) tail(w.run(), w.ids()[i], 5, ", mode: 'exact'");
        Map<String, Object> listed = Fixtures.rows(db, "CALL mmkg.cache.list() YIELD run, hits, pinned "
                + "WHERE run = 'cache_run' RETURN run, hits, pinned", Map.of()).get(0);
        assertTrue((long) listed.get("hits") >= 4, "a hit per query after the load");
        Map<String, Object> dropped = Fixtures.rows(db, "CALL mmkg.cache.drop('cache_run')", Map.of()).get(0);
        assertEquals(true, dropped.get("dropped"));
        assertTrue(Fixtures.rows(db, "CALL mmkg.cache.list() YIELD run WHERE run = 'cache_run' RETURN run",
                Map.of()).isEmpty());
        // The next exact query loads it again (unpinned this time).
        tail(w.run(), w.ids()[0], 5, ", mode: 'exact'");
        assertEquals(false, Fixtures.rows(db, "CALL mmkg.cache.list() YIELD run, pinned WHERE run = 'cache_run' "
                + "RETURN pinned", Map.of()).get(0).get("pinned"));
    }

    @Test
    void aRunTooLargeForTheBudgetIsRefusedWithItsFiguresNotAnOverflow() {
        // 50 million rows of 128 floats: more than a Java int can index, refused only for memory.
        try (Transaction tx = db.beginTx()) {
            var node = tx.createNode(Run.EMBEDDING_RUN);
            Map<String, Object> props = Map.of("id", "huge", "token", "t-huge", "model", "transe_l2", "dim", 128L,
                    "entity_property", "mmkg_e_huge", "relation_property", "mmkg_r_huge",
                    "entity_count", 50_000_000L, "status", "ready", "score", "distance", "distance", "l2");
            props.forEach(node::setProperty);
            tx.commit();
        }
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> Fixtures.rows(db, "CALL mmkg.cache.load('huge')", Map.of()));
        String message = rootMessage(e);
        assertTrue(message.matches("(?s)MMKG-E008: caching run 'huge' needs about 2\\d{4} MB.*"), message);
        assertTrue(message.contains("50000000 vectors of dimension 128"), message);
        assertTrue(message.contains("dbms.mmkg.cache.max_heap_fraction = 0.60"), message);
    }

    @Test
    void hnswFindsTheExactAnswersAndIsUsedWhenAskedFor() {
        Fixtures.Written w = Fixtures.run(db, "ann_run", "transe_l2", 20_000, 32, 11);
        Map<String, Object> loaded = Fixtures.rows(db,
                "CALL mmkg.cache.load('ann_run', {index: 'hnsw', m: 16, ef_construction: 100})", Map.of()).get(0);
        assertTrue(((String) loaded.get("index")).startsWith("hnsw"), String.valueOf(loaded));
        double overlap = 0;
        int queries = 50;
        for (int q = 0; q < queries; q++) {
            String head = w.ids()[q * 37];
            Set<Object> exact = new HashSet<>();
            tail(w.run(), head, 10, ", mode: 'exact'").forEach(r -> exact.add(r.get("id")));
            List<Map<String, Object>> ann = tail(w.run(), head, 10, ", mode: 'ann', candidates: 200");
            assertEquals(10, ann.size());
            overlap += ann.stream().filter(r -> exact.contains(r.get("id"))).count() / 10.0;
        }
        double recall = overlap / queries;
        assertTrue(recall >= 0.95, "recall@10 " + recall);
    }

    @Test
    void theCompressedScanFindsTheExactAnswersForDistanceAndInnerProductRuns() {
        for (String model : List.of("transe_l2", "distmult", "rotate", "rotate_l2")) {
            Fixtures.Written w = Fixtures.run(db, "bits_" + model, model, 30_000, 48, 17);
            double overlap = 0;
            int queries = 40;
            for (int q = 0; q < queries; q++) {
                String head = w.ids()[q * 101];
                Set<Object> exact = new HashSet<>();
                tail(w.run(), head, 10, ", mode: 'exact'").forEach(r -> exact.add(r.get("id")));
                List<Map<String, Object>> ann = tail(w.run(), head, 10, ", mode: 'ann', ann: 'bits'");
                assertEquals(10, ann.size());
                overlap += ann.stream().filter(r -> exact.contains(r.get("id"))).count() / 10.0;
                // Answers are re-scored exactly: the same entity has the same score either way.
                List<Map<String, Object>> both = tail(w.run(), head, 1, ", mode: 'exact'");
                if (both.get(0).get("id").equals(ann.get(0).get("id"))) {
                    assertEquals((double) both.get(0).get("score"), (double) ann.get(0).get("score"), 1e-9);
                }
            }
            double recall = overlap / queries;
            assertTrue(recall >= 0.9, model + " recall@10 " + recall);
        }
        String listed = (String) Fixtures.rows(db, "CALL mmkg.cache.list() YIELD run, index WHERE run = 'bits_rotate' "
                + "RETURN index", Map.of()).get(0).get("index");
        assertEquals("bits(2)", listed);
    }

    @Test
    void aTerminatedOrTimedOutQueryStopsWithinAHundredMilliseconds() throws Exception {
        Fixtures.run(db, "slow_run", "transe_l2", 150_000, 64, 13);
        // TERMINATE TRANSACTION while the HNSW build runs (many seconds of work).
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLong ended = new AtomicLong();
        Thread query = new Thread(() -> {
            try {
                Fixtures.rows(db, "CALL mmkg.cache.load('slow_run', {index: 'hnsw', ef_construction: 400})", Map.of());
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                ended.set(System.nanoTime());
            }
        });
        query.start();
        String id = null;
        for (int i = 0; i < 400 && id == null; i++) {
            Thread.sleep(25);
            List<Map<String, Object>> running = Fixtures.rows(db, "SHOW TRANSACTIONS YIELD transactionId, currentQuery "
                    + "WHERE currentQuery STARTS WITH $prefix RETURN transactionId",
                    Map.of("prefix", "CALL mmkg.cache.load('slow_run'"));
            if (!running.isEmpty()) id = (String) running.get(0).get("transactionId");
        }
        assertNotNull(id, "the loading query never showed up");
        Thread.sleep(1500); // well into the build
        long asked = System.nanoTime();
        Fixtures.rows(db, "TERMINATE TRANSACTION $id", Map.of("id", id));
        long terminated = System.nanoTime(); // the transaction is marked terminated now
        System.out.printf("TERMINATE TRANSACTION itself took %.1f ms%n", (terminated - asked) / 1e6);
        query.join(10_000);
        assertFalse(query.isAlive());
        assertNotNull(failure.get(), "the load was not terminated");
        assertTrue(rootMessage(failure.get()).toLowerCase().contains("terminated"), rootMessage(failure.get()));
        double ms = (ended.get() - terminated) / 1e6;
        assertTrue(ms <= 100, "stopped " + ms + " ms after TERMINATE TRANSACTION");
        assertTrue(Catalog.cached(runOf("slow_run")) == null || Catalog.cached(runOf("slow_run")).ann == null);

        // A transaction timeout of 300 ms on an exact query that would take seconds.
        long started = System.nanoTime();
        RuntimeException timeout = assertThrows(RuntimeException.class, () -> {
            try (Transaction tx = db.beginTx(300, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                tx.execute("CALL mmkg.cache.load('slow_run', {index: 'hnsw', ef_construction: 401})").resultAsString();
            }
        });
        double total = (System.nanoTime() - started) / 1e6;
        assertTrue(total < 300 + 20 + 100 + 200, "a 300 ms timeout ended the query after " + total + " ms: "
                + rootMessage(timeout));
    }

    private Run runOf(String id) {
        try (Transaction tx = db.beginTx()) {
            return Run.resolve(tx, id);
        }
    }

    @Test
    void writeAndReadRoundTripAndStaleKeysAreRefused() {
        String key;
        try (Transaction tx = db.beginTx()) {
            var node = tx.createNode(Run.ENTITY);
            node.setProperty("id", "roundtrip");
            key = node.getElementId();
            tx.commit();
        }
        byte[] data = new byte[8];
        java.nio.ByteBuffer.wrap(data).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f);
        Fixtures.rows(db, "CALL mmkg.embeddings.write('mmkg_e_rt', [$key], $data, 2, ['roundtrip'])",
                Map.of("key", key, "data", data));
        Map<String, Object> batch = Fixtures.rows(db, "CALL mmkg.embeddings.read('mmkg_e_rt', 'Entity')", Map.of())
                .get(0);
        assertEquals(List.of("roundtrip"), batch.get("ids"));
        assertEquals(List.of(key), batch.get("keys"));
        java.nio.ByteBuffer back = java.nio.ByteBuffer.wrap((byte[]) batch.get("data")).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertEquals(1.5f, back.getFloat());
        assertEquals(-2f, back.getFloat());
        RuntimeException stale = assertThrows(RuntimeException.class, () -> Fixtures.rows(db,
                "CALL mmkg.embeddings.write('mmkg_e_rt', [$key], $data, 2, ['someone_else'])",
                Map.of("key", key, "data", data)));
        assertTrue(rootMessage(stale).startsWith("MMKG-E010"), rootMessage(stale));
    }

    @Test
    void errorsCarryStableCodes() {
        Fixtures.Written w = Fixtures.run(db, "codes", "transe_l2", 50, 8, 3);
        List<String[]> cases = new ArrayList<>();
        cases.add(new String[] {"CALL mmkg.predict.tail('nobody', 'rel_codes', 3, {run: 'codes'})", "MMKG-E001"});
        cases.add(new String[] {"CALL mmkg.predict.tail('" + w.ids()[0] + "', 'nope', 3, {run: 'codes'})", "MMKG-E002"});
        cases.add(new String[] {"CALL mmkg.predict.tail('" + w.ids()[0] + "', 'rel_codes', 3, {run: 'absent'})", "MMKG-E004"});
        cases.add(new String[] {"CALL mmkg.predict.tail('" + w.ids()[0] + "', 'rel_codes', 0, {run: 'codes'})", "MMKG-E007"});
        cases.add(new String[] {"CALL mmkg.predict.tail('" + w.ids()[0] + "', 'rel_codes', 3, {run: 'codes', mode: 'ann', ann: 'index'})", "MMKG-E009"});
        for (String[] c : cases) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> Fixtures.rows(db, c[0], Map.of()));
            assertTrue(rootMessage(e).startsWith(c[1]), c[0] + " -> " + rootMessage(e));
        }
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null) t = t.getCause();
        return String.valueOf(t.getMessage());
    }
}
