package io.mmkg.neo4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;
import org.neo4j.procedure.Context;
import org.neo4j.procedure.Description;
import org.neo4j.procedure.Mode;
import org.neo4j.procedure.Name;
import org.neo4j.procedure.Procedure;
import org.neo4j.procedure.TerminationGuard;

/**
 * The write and read sides of embedding runs: vectors travel as one little-endian float32 blob
 * per batch (a tenth of the bytes Bolt spends on a list of floats) and land as float[]
 * properties, the compact form Neo4j's vector indexes read. Nodes are addressed by the element
 * ids the export handed out, each checked against the id it must carry.
 */
public class Write {
    private static final Pattern PROPERTY = Pattern.compile("mmkg_[A-Za-z0-9_]{1,100}");

    @Context
    public Transaction tx;

    @Context
    public TerminationGuard guard;

    public static final class Written {
        public long written;

        Written(long written) {
            this.written = written;
        }
    }

    public static final class Batch {
        public List<String> ids;
        public List<String> keys;
        public byte[] data;
        public long dim;

        Batch(List<String> ids, List<String> keys, byte[] data, long dim) {
            this.ids = ids;
            this.keys = keys;
            this.data = data;
            this.dim = dim;
        }
    }

    private static void checkProperty(String property) {
        if (property == null || !PROPERTY.matcher(property).matches()) {
            throw Options.invalid("property: '%s' is not an mmkg_ property name", property);
        }
    }

    /** The key property that names a node of this label (its id, or a relation type's name). */
    private static String keyOf(Node node) {
        Object v = node.hasLabel(Run.ENTITY) ? node.getProperty("id", null) : node.getProperty("name", null);
        return v instanceof String s ? s : null;
    }

    @Procedure(name = "mmkg.embeddings.write", mode = Mode.WRITE)
    @Description("mmkg.embeddings.write(property, keys, data, dim, ids = null) - set property (mmkg_*) on each "
            + ":Entity or :RelationType node, named by its element id, to its row of data (float32 "
            + "little-endian, row-major). ids, when given, are the entity ids (relation names) the nodes must "
            + "carry: a mismatch means the element id is stale and fails the batch with MMKG-E010.")
    public Stream<Written> write(
            @Name("property") String property,
            @Name("keys") List<String> keys,
            @Name("data") byte[] data,
            @Name("dim") long dim,
            @Name(value = "ids", defaultValue = "null") List<String> ids) {
        checkProperty(property);
        if (dim < 1 || dim > 65_536) throw Options.invalid("dim: must lie in 1..65536, got %d", dim);
        long expected = (long) keys.size() * dim * 4L;
        if (data == null || data.length != expected) {
            throw Options.invalid("data: %d bytes for %d rows of dimension %d, expected %d",
                    data == null ? 0 : data.length, keys.size(), dim, expected);
        }
        if (ids != null && ids.size() != keys.size()) {
            throw Options.invalid("ids: %d ids for %d keys", ids.size(), keys.size());
        }
        FloatBuffer floats = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        int d = (int) dim;
        for (int i = 0; i < keys.size(); i++) {
            String key = keys.get(i);
            if (key == null) throw Options.invalid("keys[%d] is null", i);
            Node node = Run.byKey(tx, key);
            if (node == null) {
                throw MmkgException.of(MmkgException.Code.STALE_KEY,
                        "keys[%d]: node %s does not exist (deleted since the export?)", i, key);
            }
            if (!node.hasLabel(Run.ENTITY) && !node.hasLabel(Run.RELATION_TYPE)) {
                throw MmkgException.of(MmkgException.Code.STALE_KEY,
                        "keys[%d]: node %s is neither an :Entity nor a :RelationType", i, key);
            }
            if (ids != null && !ids.get(i).equals(keyOf(node))) {
                throw MmkgException.of(MmkgException.Code.STALE_KEY,
                        "keys[%d]: node %s is '%s', not '%s' (its element id was reused)", i, key, keyOf(node), ids.get(i));
            }
            float[] row = new float[d];
            floats.get(row);
            node.setProperty(property, row);
        }
        return Stream.of(new Written(keys.size()));
    }

    @Procedure(name = "mmkg.embeddings.read", mode = Mode.READ)
    @Description("mmkg.embeddings.read(property, label, batch = 10000) - every :Entity (or :RelationType) "
            + "node holding property (mmkg_*), in batches: their ids (relation names), element ids, and vectors "
            + "as one float32 little-endian blob per batch.")
    public Stream<Batch> read(
            @Name("property") String property,
            @Name("label") String label,
            @Name(value = "batch", defaultValue = "10000") long batch) {
        checkProperty(property);
        if (!"Entity".equals(label) && !"RelationType".equals(label)) {
            throw Options.invalid("label: must be Entity or RelationType, got '%s'", label);
        }
        if (batch < 1 || batch > 1_000_000) throw Options.invalid("batch: must lie in 1..1000000, got %d", batch);
        ResourceIterator<Node> nodes = tx.findNodes(Label.label(label));
        java.util.Iterator<Batch> batches = new java.util.Iterator<>() {
            Batch next = advance();

            private Batch advance() {
                List<String> ids = new ArrayList<>();
                List<String> keys = new ArrayList<>();
                List<float[]> rows = new ArrayList<>();
                int dim = -1;
                while (rows.size() < batch && nodes.hasNext()) {
                    Node node = nodes.next();
                    float[] v = Vectors.floats(node.getProperty(property, null));
                    if (v == null) continue;
                    if (dim < 0) dim = v.length;
                    if (v.length != dim) {
                        throw MmkgException.of(MmkgException.Code.RUN_CORRUPT,
                                "%s: vectors of dimension %d and %d", property, dim, v.length);
                    }
                    ids.add(keyOf(node));
                    keys.add(node.getElementId());
                    rows.add(v);
                }
                if (guard != null) guard.check();
                if (rows.isEmpty()) {
                    nodes.close();
                    return null;
                }
                ByteBuffer buf = ByteBuffer.allocate(rows.size() * dim * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float[] v : rows) for (float x : v) buf.putFloat(x);
                return new Batch(ids, keys, buf.array(), dim);
            }

            public boolean hasNext() {
                return next != null;
            }

            public Batch next() {
                Batch out = next;
                next = advance();
                return out;
            }
        };
        Iterable<Batch> iterable = () -> batches;
        return StreamSupport.stream(iterable.spliterator(), false).onClose(nodes::close);
    }
}
