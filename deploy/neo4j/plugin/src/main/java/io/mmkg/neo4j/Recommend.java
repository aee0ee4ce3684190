package io.mmkg.neo4j;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.neo4j.graphdb.Direction;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.Relationship;
import org.neo4j.graphdb.RelationshipType;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;
import org.neo4j.procedure.Context;
import org.neo4j.procedure.Description;
import org.neo4j.procedure.Mode;
import org.neo4j.procedure.Name;
import org.neo4j.procedure.Procedure;
import org.neo4j.procedure.TerminationGuard;

/**
 * Recommendation as link prediction on (:User)-[:INTERACTED]->(:Entity): the recommender run
 * (written by `mmkg recommend --fit`) holds the catalogue's item vectors as an inner-product
 * run and each user's vector on the User node; the items are ranked like predicted tails, by
 * the same cached matrix and index.
 */
public class Recommend {
    static final Label USER = Label.label("User");
    static final RelationshipType INTERACTED = RelationshipType.withName("INTERACTED");

    @Context
    public Transaction tx;

    @Context
    public TerminationGuard guard;

    @Procedure(name = "mmkg.recommend", mode = Mode.READ)
    @Description("mmkg.recommend(user, k = 10, options = {}) - the k items the user is most likely to "
            + "interact with next, excluding those they already have. user: a :User node or id. options: "
            + "exclude (default true), label (candidate label), mode ('exact'|'ann'|'auto'), run "
            + "(recommender run id, default the one `mmkg recommend --fit` made active).")
    public Stream<Predict.EntityHit> recommend(
            @Name("user") Object user,
            @Name(value = "k", defaultValue = "10") long k,
            @Name(value = "options", defaultValue = "{}") Map<String, Object> given) {
        Options.checkK(k);
        Options options = new Options(given);
        String runId = options.run != null ? options.run : Run.activeId(tx, "recommend");
        if (runId == null) {
            throw MmkgException.of(MmkgException.Code.NO_ACTIVE_RUN,
                    "no recommender has been fitted: run `mmkg recommend --fit` (after `mmkg ingest interactions`)");
        }
        Run run = Run.resolve(tx, runId);
        if (run.userProperty == null) {
            throw MmkgException.of(MmkgException.Code.INVALID_ARGUMENT,
                    "run '%s' is not a recommender run (it has no user vectors)", run.id);
        }
        Node node = user(user);
        float[] u = Vectors.floats(node.getProperty(run.userProperty, null));
        if (u == null) {
            throw MmkgException.of(MmkgException.Code.NO_EMBEDDING,
                    "user '%s' has no vector in recommender '%s' (their interactions came after it was "
                            + "fitted: run `mmkg recommend --fit` again)", node.getProperty("id", "?"), run.id);
        }
        float[] ones = new float[run.dim];
        Arrays.fill(ones, 1f);
        float[] query = run.scorer.tailQuery(u, ones);
        Set<String> excluded = new HashSet<>();
        if (options.exclude) {
            try (ResourceIterator<Relationship> rels =
                    node.getRelationships(Direction.OUTGOING, INTERACTED).iterator()) {
                while (rels.hasNext()) excluded.add(rels.next().getEndNode().getElementId());
            }
        }
        float[] annQuery = run.scorer.innerProduct() ? Predict.pad(query) : query;
        List<Ranker.Hit> hits = new Ranker(tx, run, options, excluded, guard)
                .top((int) k, query, annQuery, Predict.modelScoring(run.scorer, query));
        return Predict.ranked(hits, run);
    }

    private Node user(Object given) {
        if (given instanceof Node node) {
            if (!node.hasLabel(USER)) {
                throw MmkgException.of(MmkgException.Code.INVALID_ARGUMENT, "user: the node given is not a :User");
            }
            return node;
        }
        if (given instanceof String s) {
            Node node = tx.findNode(USER, "id", s);
            if (node == null) {
                throw MmkgException.of(MmkgException.Code.UNKNOWN_USER,
                        "user: unknown user '%s' (no :User has that id; users come from `mmkg ingest interactions`)", s);
            }
            return node;
        }
        throw MmkgException.of(MmkgException.Code.INVALID_ARGUMENT,
                "user: give a :User node or a user id string, not %s", Run.describe(given));
    }
}
