package io.mmkg.neo4j;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.NotFoundException;
import org.neo4j.graphdb.Transaction;
import org.neo4j.procedure.Context;
import org.neo4j.procedure.Description;
import org.neo4j.procedure.Mode;
import org.neo4j.procedure.Name;
import org.neo4j.procedure.Procedure;

/**
 * The write side of `mmkg embeddings write`: vectors travel as one little-endian float32 blob per
 * batch (a tenth of the bytes Bolt spends on a list of floats) and land as float[] properties,
 * the compact form Neo4j's vector indexes read.
 */
public class Write {
    private static final Pattern PROPERTY = Pattern.compile("mmkg_[A-Za-z0-9_]{1,100}");

    @Context
    public Transaction tx;

    public static final class Written {
        public long written;

        Written(long written) {
            this.written = written;
        }
    }

    @Procedure(name = "mmkg.embeddings.write", mode = Mode.WRITE)
    @Description("mmkg.embeddings.write(property, nodeIds, data, dim) - set property (mmkg_*) on each "
            + ":Entity or :RelationType node to its row of data, float32 little-endian, row-major.")
    @SuppressWarnings("deprecation") // internal ids come from the same graph, read just before
    public Stream<Written> write(
            @Name("property") String property,
            @Name("nodeIds") List<Long> nodeIds,
            @Name("data") byte[] data,
            @Name("dim") long dim) {
        if (property == null || !PROPERTY.matcher(property).matches()) {
            throw new IllegalArgumentException("property: '" + property + "' is not an mmkg_ property name");
        }
        if (dim < 1 || dim > 65_536) throw new IllegalArgumentException("dim: must lie in 1..65536, got " + dim);
        long expected = (long) nodeIds.size() * dim * 4L;
        if (data == null || data.length != expected) {
            throw new IllegalArgumentException(String.format(
                    "data: %d bytes for %d rows of dimension %d, expected %d",
                    data == null ? 0 : data.length, nodeIds.size(), dim, expected));
        }
        FloatBuffer floats = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        int d = (int) dim;
        for (int i = 0; i < nodeIds.size(); i++) {
            Long id = nodeIds.get(i);
            if (id == null) throw new IllegalArgumentException("nodeIds[" + i + "] is null");
            Node node;
            try {
                node = tx.getNodeById(id);
            } catch (NotFoundException e) {
                throw new IllegalArgumentException(
                        "nodeIds[" + i + "]: node " + id + " does not exist (deleted during the write?)");
            }
            if (!node.hasLabel(Run.ENTITY) && !node.hasLabel(Run.RELATION_TYPE)) {
                throw new IllegalArgumentException(
                        "nodeIds[" + i + "]: node " + id + " is neither an :Entity nor a :RelationType");
            }
            float[] row = new float[d];
            floats.get(row);
            node.setProperty(property, row);
        }
        return Stream.of(new Written(nodeIds.size()));
    }

    @Procedure(name = "mmkg.embeddings.evict", mode = Mode.READ)
    @Description("mmkg.embeddings.evict() - forget the cached exact-scoring matrices (after a run is dropped).")
    public Stream<Written> evict() {
        Matrix.clear();
        return Stream.of(new Written(0));
    }
}
