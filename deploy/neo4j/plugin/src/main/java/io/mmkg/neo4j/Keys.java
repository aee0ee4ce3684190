package io.mmkg.neo4j;

import java.nio.charset.StandardCharsets;

/**
 * Element ids of many nodes in a compact, long-indexed arena: fixed-width slots of UTF-8 bytes
 * (one length byte, then the id), in pages, so a million ids cost about 45 MB instead of the
 * 100+ MB of String objects, and the row count is limited only by memory.
 */
final class Keys {
    private static final int PAGE_BYTES = 1 << 24;

    private final byte[][] pages;
    private final int slot;
    private final int slotsPerPage;
    private final long count;

    private Keys(byte[][] pages, int slot, long count) {
        this.pages = pages;
        this.slot = slot;
        this.slotsPerPage = PAGE_BYTES / slot;
        this.count = count;
    }

    long size() {
        return count;
    }

    long bytes() {
        long total = 0;
        for (byte[] p : pages) total += p.length;
        return total;
    }

    String get(long row) {
        byte[] page = pages[(int) (row / slotsPerPage)];
        int off = (int) (row % slotsPerPage) * slot;
        int len = page[off] & 0xff;
        return new String(page, off + 1, len, StandardCharsets.UTF_8);
    }

    /** Builds the arena from ids given in order; the slot width is the longest id seen. */
    static final class Builder {
        private final java.util.ArrayList<byte[]> ids = new java.util.ArrayList<>();
        private int longest = 1;

        void add(String elementId) {
            byte[] b = elementId.getBytes(StandardCharsets.UTF_8);
            if (b.length > 255) {
                throw MmkgException.of(MmkgException.Code.RUN_CORRUPT, "element id longer than 255 bytes: %s", elementId);
            }
            longest = Math.max(longest, b.length);
            ids.add(b);
        }

        long size() {
            return ids.size();
        }

        Keys build() {
            int slot = longest + 1;
            int perPage = PAGE_BYTES / slot;
            long n = ids.size();
            int pageCount = (int) ((n + perPage - 1) / perPage);
            byte[][] pages = new byte[pageCount][];
            for (int p = 0; p < pageCount; p++) {
                long rows = Math.min(perPage, n - (long) p * perPage);
                pages[p] = new byte[(int) rows * slot];
            }
            for (long i = 0; i < n; i++) {
                byte[] b = ids.get((int) i);
                byte[] page = pages[(int) (i / perPage)];
                int off = (int) (i % perPage) * slot;
                page[off] = (byte) b.length;
                System.arraycopy(b, 0, page, off + 1, b.length);
            }
            ids.clear();
            return new Keys(pages, slot, n);
        }
    }
}
