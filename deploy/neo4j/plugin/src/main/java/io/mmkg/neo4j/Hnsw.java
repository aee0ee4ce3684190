package io.mmkg.neo4j;

import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.neo4j.procedure.TerminationGuard;

/**
 * A hierarchical navigable small-world graph (Malkov and Yashunin, 2018) over a cached run's
 * rows, built in parallel on mmkg's pool and searched without locks once built.
 *
 * <p>The graph is built with the run's own distance between entity vectors (L1, L2, the sum of
 * complex moduli, or, for inner-product runs, the euclidean distance of MIPS-augmented vectors
 * [x, sqrt(M² - |x|²)]), and searched with the query vector the model scores against, so its
 * candidates are the model's best answers; the caller re-scores them exactly. Level-0 links live
 * in paged int arrays (no array is sized by rows × links in an int); upper levels, which hold
 * about 1/M of the nodes, in a map.
 */
final class Hnsw {
    private static final int PAGE_INTS = 1 << 24;
    private static final int LOCK_STRIPES = 4096;

    final VectorStore store;
    final Scorer.Kind kind;
    final int m;
    final int m0;
    final int efConstruction;
    final int n;
    private final float[] augmented; // inner-product runs: sqrt(M² - |x|²) per row
    private final byte[] levels;
    private final int[][] level0; // pages of (1 + m0) ints per node: count, then links
    private final int nodesPerPage;
    private final ConcurrentHashMap<Long, int[]> upper = new ConcurrentHashMap<>();
    private final Object[] locks = new Object[LOCK_STRIPES];
    private final double levelScale;
    private volatile int entry = -1;
    private volatile int maxLevel = -1;
    private final Object entryLock = new Object();
    private final ThreadLocal<Visited> visited;
    double buildSeconds;

    Hnsw(VectorStore store, Scorer.Kind kind, int m, int efConstruction) {
        if (store.rows > Integer.MAX_VALUE - 8) {
            throw Options.invalid("an HNSW graph holds at most %d rows, the run has %d", Integer.MAX_VALUE - 8, store.rows);
        }
        this.store = store;
        this.kind = kind;
        this.m = m;
        this.m0 = 2 * m;
        this.efConstruction = efConstruction;
        this.n = (int) store.rows;
        this.levels = new byte[n];
        this.nodesPerPage = PAGE_INTS / (m0 + 1);
        int pages = Math.max(1, (n + nodesPerPage - 1) / nodesPerPage);
        this.level0 = new int[pages][];
        for (int p = 0; p < pages; p++) {
            int nodes = Math.min(nodesPerPage, n - p * nodesPerPage);
            level0[p] = new int[Math.max(nodes, 0) * (m0 + 1)];
        }
        for (int i = 0; i < LOCK_STRIPES; i++) locks[i] = new Object();
        this.levelScale = 1.0 / Math.log(Math.max(m, 2));
        this.augmented = kind == Scorer.Kind.DOT || kind == Scorer.Kind.COMPLEX_DOT ? augment(store) : null;
        this.visited = ThreadLocal.withInitial(() -> new Visited(n));
    }

    /** Memory a graph over {@code rows} rows with {@code m} links per node takes (estimate). */
    static long bytesFor(long rows, int m) {
        return rows * (4L * (2L * m + 1) + 1 + 4) + rows / Math.max(m, 1) * (4L * (m + 1) + 64);
    }

    long bytes() {
        return bytesFor(n, m);
    }

    String describe() {
        return String.format("hnsw(m=%d, ef_construction=%d)", m, efConstruction);
    }

    private static float[] augment(VectorStore s) {
        int n = (int) s.rows;
        float[] norms = new float[n];
        double max = 0;
        for (int i = 0; i < n; i++) {
            float[] page = s.pages[s.page(i)];
            int off = s.offset(i);
            double sq = 0;
            for (int j = 0; j < s.dim; j++) sq += (double) page[off + j] * page[off + j];
            norms[i] = (float) sq;
            max = Math.max(max, sq);
        }
        for (int i = 0; i < n; i++) norms[i] = (float) Math.sqrt(Math.max(max - norms[i], 0));
        return norms;
    }

    // --- distances (lower is closer) ------------------------------------------------------------

    /** Distance between rows a and b, the metric the graph is built on. */
    private float between(int a, int b) {
        float[] pa = store.pages[store.page(a)], pb = store.pages[store.page(b)];
        int oa = store.offset(a), ob = store.offset(b), d = store.dim;
        return switch (kind) {
            case L1 -> l1(pa, oa, pb, ob, d);
            case MODULUS -> modulus(pa, oa, pb, ob, d);
            case L2 -> l2sq(pa, oa, pb, ob, d);
            default -> {
                float x = augmented[a] - augmented[b];
                yield l2sq(pa, oa, pb, ob, d) + x * x;
            }
        };
    }

    /** Distance from a query to row b: what the model's score ranks by. */
    private float toQuery(float[] q, int b) {
        float[] pb = store.pages[store.page(b)];
        int ob = store.offset(b), d = store.dim;
        return switch (kind) {
            case L1 -> Scorer.l1(q, pb, ob, d);
            case MODULUS -> Scorer.modulus(q, pb, ob, d);
            case L2 -> Scorer.sqDist(q, pb, ob, d);
            default -> -Scorer.dot(q, pb, ob, d);
        };
    }

    private static float l2sq(float[] a, int oa, float[] b, int ob, int d) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < d; i += 4) {
            float x0 = a[oa + i] - b[ob + i], x1 = a[oa + i + 1] - b[ob + i + 1];
            float x2 = a[oa + i + 2] - b[ob + i + 2], x3 = a[oa + i + 3] - b[ob + i + 3];
            s0 += x0 * x0;
            s1 += x1 * x1;
            s2 += x2 * x2;
            s3 += x3 * x3;
        }
        for (; i < d; i++) {
            float x = a[oa + i] - b[ob + i];
            s0 += x * x;
        }
        return (s0 + s1) + (s2 + s3);
    }

    private static float l1(float[] a, int oa, float[] b, int ob, int d) {
        float s = 0;
        for (int i = 0; i < d; i++) s += Math.abs(a[oa + i] - b[ob + i]);
        return s;
    }

    private static float modulus(float[] a, int oa, float[] b, int ob, int d) {
        int h = d / 2;
        float s = 0;
        for (int i = 0; i < h; i++) {
            float re = a[oa + i] - b[ob + i], im = a[oa + h + i] - b[ob + h + i];
            s += (float) Math.sqrt(re * re + im * im + 1e-9f);
        }
        return s;
    }

    // --- links ----------------------------------------------------------------------------------

    private int[] linksOf(int node, int level) {
        if (level == 0) return null;
        return upper.get(((long) node << 5) | level);
    }

    /** A copy of node's links at level (count first). */
    private int[] readLinks(int node, int level) {
        if (level == 0) {
            int[] page = level0[node / nodesPerPage];
            int off = (node % nodesPerPage) * (m0 + 1);
            int count = page[off];
            return Arrays.copyOfRange(page, off, off + 1 + count);
        }
        int[] links = linksOf(node, level);
        return links == null ? new int[] {0} : Arrays.copyOf(links, 1 + links[0]);
    }

    private void writeLinks(int node, int level, int[] ids, int count) {
        if (level == 0) {
            int[] page = level0[node / nodesPerPage];
            int off = (node % nodesPerPage) * (m0 + 1);
            System.arraycopy(ids, 0, page, off + 1, count);
            page[off] = count;
            return;
        }
        int[] links = new int[1 + m];
        links[0] = count;
        System.arraycopy(ids, 0, links, 1, count);
        upper.put(((long) node << 5) | level, links);
    }

    private Object lock(int node) {
        return locks[node & (LOCK_STRIPES - 1)];
    }

    // --- search ---------------------------------------------------------------------------------

    /** Generation-stamped visited marks, one array per thread, reset in O(1). */
    private static final class Visited {
        final int[] marks;
        int generation;

        Visited(int n) {
            marks = new int[n];
        }

        int next() {
            if (++generation == Integer.MAX_VALUE) {
                Arrays.fill(marks, 0);
                generation = 1;
            }
            return generation;
        }
    }

    /** A binary heap of (distance, node); min-heap or max-heap. */
    private static final class Heap {
        float[] dist;
        int[] node;
        int size;
        final boolean max;

        Heap(int capacity, boolean max) {
            dist = new float[Math.max(capacity, 4)];
            node = new int[Math.max(capacity, 4)];
            this.max = max;
        }

        private boolean before(int a, int b) {
            return max ? dist[a] > dist[b] : dist[a] < dist[b];
        }

        void push(float d, int v) {
            if (size == dist.length) {
                dist = Arrays.copyOf(dist, size * 2);
                node = Arrays.copyOf(node, size * 2);
            }
            dist[size] = d;
            node[size] = v;
            int i = size++;
            while (i > 0) {
                int p = (i - 1) >> 1;
                if (!before(i, p)) break;
                swap(i, p);
                i = p;
            }
        }

        float topDist() {
            return dist[0];
        }

        int topNode() {
            return node[0];
        }

        void pop() {
            size--;
            dist[0] = dist[size];
            node[0] = node[size];
            int i = 0;
            while (true) {
                int l = 2 * i + 1, r = l + 1, b = i;
                if (l < size && before(l, b)) b = l;
                if (r < size && before(r, b)) b = r;
                if (b == i) return;
                swap(i, b);
                i = b;
            }
        }

        private void swap(int a, int b) {
            float d = dist[a];
            dist[a] = dist[b];
            dist[b] = d;
            int v = node[a];
            node[a] = node[b];
            node[b] = v;
        }
    }

    @FunctionalInterface
    private interface Dist {
        float to(int node);
    }

    /** The ef nearest nodes found at one level, as a max-heap (farthest on top). */
    private Heap searchLayer(Dist dist, int[] entries, int ef, int level, boolean building) {
        Visited seen = visited.get();
        int gen = seen.next();
        Heap candidates = new Heap(ef * 2, false);
        Heap results = new Heap(ef + 1, true);
        for (int e : entries) {
            if (seen.marks[e] == gen) continue;
            seen.marks[e] = gen;
            float d = dist.to(e);
            candidates.push(d, e);
            results.push(d, e);
            if (results.size > ef) results.pop();
        }
        while (candidates.size > 0) {
            float d = candidates.topDist();
            int c = candidates.topNode();
            if (results.size >= ef && d > results.topDist()) break;
            candidates.pop();
            int[] links;
            if (building) {
                synchronized (lock(c)) {
                    links = readLinks(c, level);
                }
            } else if (level == 0) {
                int[] page = level0[c / nodesPerPage];
                int off = (c % nodesPerPage) * (m0 + 1);
                links = Arrays.copyOfRange(page, off, off + 1 + page[off]);
            } else {
                links = readLinks(c, level);
            }
            for (int i = 1; i <= links[0]; i++) {
                int e = links[i];
                if (seen.marks[e] == gen) continue;
                seen.marks[e] = gen;
                float de = dist.to(e);
                if (results.size < ef || de < results.topDist()) {
                    candidates.push(de, e);
                    results.push(de, e);
                    if (results.size > ef) results.pop();
                }
            }
        }
        return results;
    }

    /** Up to {@code ef} rows nearest to the query by the model's ranking, best first. */
    long[] search(float[] q, int ef, TerminationGuard guard) {
        int ep = entry;
        if (ep < 0) return new long[0];
        Dist dist = node -> toQuery(q, node);
        int[] entries = {ep};
        for (int level = maxLevel; level > 0; level--) {
            Heap h = searchLayer(dist, entries, 1, level, false);
            entries = new int[] {nearest(h)};
        }
        if (guard != null) guard.check();
        Heap found = searchLayer(dist, entries, Math.max(ef, 1), 0, false);
        long[] out = new long[found.size];
        for (int i = found.size - 1; i >= 0; i--) {
            out[i] = found.topNode();
            found.pop();
        }
        return out;
    }

    private static int nearest(Heap maxHeap) {
        int best = maxHeap.node[0];
        float bestD = maxHeap.dist[0];
        for (int i = 1; i < maxHeap.size; i++) {
            if (maxHeap.dist[i] < bestD) {
                bestD = maxHeap.dist[i];
                best = maxHeap.node[i];
            }
        }
        return best;
    }

    // --- build ----------------------------------------------------------------------------------

    /** Links for a node among candidates: the heuristic of the paper (keeps diverse neighbours). */
    private int selectNeighbors(int node, Heap candidates, int max, int[] out) {
        int k = candidates.size;
        float[] d = new float[k];
        int[] v = new int[k];
        for (int i = k - 1; i >= 0; i--) {
            d[i] = candidates.topDist();
            v[i] = candidates.topNode();
            candidates.pop();
        }
        int chosen = 0;
        for (int i = 0; i < k && chosen < max; i++) {
            boolean good = true;
            for (int j = 0; j < chosen; j++) {
                if (between(v[i], out[j]) < d[i]) {
                    good = false;
                    break;
                }
            }
            if (good) out[chosen++] = v[i];
        }
        return chosen;
    }

    private void connect(int node, int level, int other) {
        int max = level == 0 ? m0 : m;
        synchronized (lock(other)) {
            int[] links = readLinks(other, level);
            int count = links[0];
            for (int i = 1; i <= count; i++) if (links[i] == node) return;
            if (count < max) {
                int[] ids = Arrays.copyOfRange(links, 1, 1 + count + 1);
                ids[count] = node;
                writeLinks(other, level, ids, count + 1);
                return;
            }
            Heap pool = new Heap(count + 1, true);
            for (int i = 1; i <= count; i++) pool.push(between(other, links[i]), links[i]);
            pool.push(between(other, node), node);
            int[] ids = new int[max];
            int kept = selectNeighbors(other, pool, max, ids);
            writeLinks(other, level, ids, kept);
        }
    }

    private void insert(int node, java.util.SplittableRandom random) {
        int level = Math.min(30, (int) (-Math.log(1.0 - random.nextDouble()) * levelScale));
        levels[node] = (byte) level;
        int ep;
        int top;
        synchronized (entryLock) {
            ep = entry;
            top = maxLevel;
            if (ep < 0) {
                for (int l = 1; l <= level; l++) writeLinks(node, l, new int[0], 0);
                entry = node;
                maxLevel = level;
                return;
            }
        }
        for (int l = 1; l <= level; l++) writeLinks(node, l, new int[0], 0);
        Dist dist = other -> between(node, other);
        int[] entries = {ep};
        for (int l = top; l > level; l--) {
            entries = new int[] {nearest(searchLayer(dist, entries, 1, l, true))};
        }
        for (int l = Math.min(level, top); l >= 0; l--) {
            Heap found = searchLayer(dist, entries, efConstruction, l, true);
            int[] next = Arrays.copyOf(found.node, found.size);
            int max = l == 0 ? m0 : m;
            int[] chosen = new int[max];
            int count = selectNeighbors(node, found, l == 0 ? m0 : m, chosen);
            synchronized (lock(node)) {
                writeLinks(node, l, chosen, count);
            }
            for (int i = 0; i < count; i++) connect(node, l, chosen[i]);
            entries = next;
        }
        if (level > top) {
            synchronized (entryLock) {
                if (level > maxLevel) {
                    maxLevel = level;
                    entry = node;
                }
            }
        }
    }

    /** Inserts every row, in parallel; checks the guard (a query may be terminated). */
    Hnsw build(int concurrency, TerminationGuard guard, long seed) {
        long started = System.nanoTime();
        if (n == 0) return this;
        insert(0, new java.util.SplittableRandom(seed));
        int chunk = 1024;
        int chunks = (n - 1 + chunk - 1) / chunk;
        AtomicInteger done = new AtomicInteger();
        Pool.forEach(chunks, concurrency, guard, c -> {
            java.util.SplittableRandom random = new java.util.SplittableRandom(seed * 1_000_003L + c);
            int from = 1 + c * chunk, to = Math.min(n, from + chunk);
            for (int i = from; i < to; i++) insert(i, random);
            done.addAndGet(to - from);
        });
        buildSeconds = (System.nanoTime() - started) / 1e9;
        return this;
    }
}
