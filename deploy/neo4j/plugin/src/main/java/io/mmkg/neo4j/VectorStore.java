package io.mmkg.neo4j;

/**
 * A run's vectors as paged, long-indexed float32 rows.
 *
 * <p>Each page holds whole rows (at most 2^24 floats, 64 MB), so no Java array is ever sized
 * by rows × dim in an int: 50 million rows of 128 floats are refused only for want of memory.
 */
final class VectorStore {
    static final int PAGE_FLOATS = 1 << 24;

    final int dim;
    final long rows;
    final int rowsPerPage;
    final float[][] pages;

    private VectorStore(int dim, long rows, int rowsPerPage, float[][] pages) {
        this.dim = dim;
        this.rows = rows;
        this.rowsPerPage = rowsPerPage;
        this.pages = pages;
    }

    /** The first {@code n} rows (the pages are shared, not copied). */
    VectorStore truncate(long n) {
        return new VectorStore(dim, n, rowsPerPage, pages);
    }

    VectorStore(int dim, long rows) {
        if (dim < 1) throw MmkgException.of(MmkgException.Code.RUN_CORRUPT, "dimension %d", dim);
        this.dim = dim;
        this.rows = rows;
        this.rowsPerPage = Math.max(1, PAGE_FLOATS / dim);
        int pageCount = (int) Math.max(1, (rows + rowsPerPage - 1) / rowsPerPage);
        this.pages = new float[pageCount][];
        for (int p = 0; p < pageCount; p++) {
            long inPage = Math.min(rowsPerPage, rows - (long) p * rowsPerPage);
            pages[p] = new float[(int) Math.max(inPage, 0) * dim];
        }
    }

    /** Bytes a store of this shape takes (for budgets, before allocating it). */
    static long bytesFor(long rows, int dim) {
        return rows * (long) dim * 4L;
    }

    long bytes() {
        return bytesFor(rows, dim);
    }

    int page(long row) {
        return (int) (row / rowsPerPage);
    }

    int offset(long row) {
        return (int) (row % rowsPerPage) * dim;
    }

    void set(long row, float[] v) {
        System.arraycopy(v, 0, pages[page(row)], offset(row), dim);
    }

    float[] row(long row) {
        float[] out = new float[dim];
        System.arraycopy(pages[page(row)], offset(row), out, 0, dim);
        return out;
    }

    long pageStart(int page) {
        return (long) page * rowsPerPage;
    }

    int rowsIn(int page) {
        return (int) Math.max(0, Math.min(rowsPerPage, rows - pageStart(page)));
    }

    int pageCount() {
        return (int) ((rows + rowsPerPage - 1) / rowsPerPage);
    }
}
