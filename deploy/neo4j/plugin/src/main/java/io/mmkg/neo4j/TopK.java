package io.mmkg.neo4j;

/**
 * The m best (score, row) pairs seen, in primitive arrays: a min-heap on score whose root is the
 * worst kept pair. Ties keep the lower row, so results do not depend on the order rows arrive.
 */
final class TopK {
    private final float[] scores;
    private final long[] rows;
    private int size;

    TopK(int m) {
        this.scores = new float[Math.max(1, m)];
        this.rows = new long[Math.max(1, m)];
    }

    int size() {
        return size;
    }

    /** Whether (score, row) ranks below (s, r). */
    private static boolean worse(float score, long row, float s, long r) {
        return score < s || (score == s && row > r);
    }

    float threshold() {
        return size < scores.length ? Float.NEGATIVE_INFINITY : scores[0];
    }

    void offer(float score, long row) {
        if (size < scores.length) {
            scores[size] = score;
            rows[size] = row;
            up(size++);
        } else if (worse(scores[0], rows[0], score, row)) {
            scores[0] = score;
            rows[0] = row;
            down(0);
        }
    }

    void addAll(TopK other) {
        for (int i = 0; i < other.size; i++) offer(other.scores[i], other.rows[i]);
    }

    /** The kept rows, best first. */
    long[] sorted() {
        int n = size;
        TopK copy = new TopK(scores.length);
        System.arraycopy(scores, 0, copy.scores, 0, n);
        System.arraycopy(rows, 0, copy.rows, 0, n);
        copy.size = n;
        long[] out = new long[n];
        for (int i = n - 1; i >= 0; i--) {
            out[i] = copy.rows[0];
            copy.pop();
        }
        return out;
    }

    private void pop() {
        size--;
        scores[0] = scores[size];
        rows[0] = rows[size];
        if (size > 0) down(0);
    }

    private void up(int i) {
        while (i > 0) {
            int p = (i - 1) / 2;
            if (!worse(scores[i], rows[i], scores[p], rows[p])) break;
            swap(i, p);
            i = p;
        }
    }

    private void down(int i) {
        while (true) {
            int l = 2 * i + 1, r = l + 1, w = i;
            if (l < size && worse(scores[l], rows[l], scores[w], rows[w])) w = l;
            if (r < size && worse(scores[r], rows[r], scores[w], rows[w])) w = r;
            if (w == i) return;
            swap(i, w);
            i = w;
        }
    }

    private void swap(int a, int b) {
        float s = scores[a];
        scores[a] = scores[b];
        scores[b] = s;
        long r = rows[a];
        rows[a] = rows[b];
        rows[b] = r;
    }
}
