package io.mmkg.neo4j;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.neo4j.graphdb.Direction;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.Relationship;
import org.neo4j.graphdb.ResourceIterator;
import org.neo4j.graphdb.Transaction;
import org.neo4j.procedure.Context;
import org.neo4j.procedure.Description;
import org.neo4j.procedure.Mode;
import org.neo4j.procedure.Name;
import org.neo4j.procedure.Procedure;
import org.neo4j.procedure.TerminationGuard;
import org.neo4j.procedure.UserFunction;

/** Link prediction, scoring and similarity over the active (or a named) embedding run. */
public class Predict {
    @Context
    public Transaction tx;

    @Context
    public TerminationGuard guard;

    public static final class EntityHit {
        public Node node;
        public String id;
        public double score;
        public long rank;
        public String run;

        EntityHit(Ranker.Hit hit, long rank, String run) {
            this.node = hit.node();
            this.id = (String) hit.node().getProperty("id", null);
            this.score = hit.score();
            this.rank = rank;
            this.run = run;
        }
    }

    public static final class RelationHit {
        public String relation;
        public String type;
        public double score;
        public long rank;
        public String run;

        RelationHit(String relation, String type, double score) {
            this.relation = relation;
            this.type = type;
            this.score = score;
        }
    }

    @Procedure(name = "mmkg.predict.tail", mode = Mode.READ)
    @Description("mmkg.predict.tail(head, relation, k = 10, options = {}) - the k most plausible tails t of "
            + "(head)-[relation]->(t). head: an :Entity node or id; relation: raw name or type. options: "
            + "exclude (existing edges, default true), label (candidate label), mode ('exact'|'ann'|'auto'), "
            + "run (embedding run id, default the active run), candidates (ANN candidates), concurrency.")
    public Stream<EntityHit> tail(
            @Name("head") Object head,
            @Name("relation") String relation,
            @Name(value = "k", defaultValue = "10") long k,
            @Name(value = "options", defaultValue = "{}") Map<String, Object> options) {
        return predict(head, relation, k, options, true);
    }

    @Procedure(name = "mmkg.predict.head", mode = Mode.READ)
    @Description("mmkg.predict.head(relation, tail, k = 10, options = {}) - the k most plausible heads h of "
            + "(h)-[relation]->(tail). Same options as mmkg.predict.tail.")
    public Stream<EntityHit> head(
            @Name("relation") String relation,
            @Name("tail") Object tail,
            @Name(value = "k", defaultValue = "10") long k,
            @Name(value = "options", defaultValue = "{}") Map<String, Object> options) {
        return predict(tail, relation, k, options, false);
    }

    /** Bulk and exact scoring of candidates against a model query vector. */
    static Ranker.Scoring modelScoring(Scorer scorer, float[] query) {
        return new Ranker.Scoring() {
            public Exact.RowScorer rows() {
                return (page, from, to, out) -> scorer.scoreRows(query, page, from, to, out, 0);
            }

            public double exact(float[] data, int off) {
                return scorer.compare(query, data, off);
            }
        };
    }

    private Stream<EntityHit> predict(Object anchorGiven, String relationGiven, long k, Map<String, Object> given,
            boolean tails) {
        Options.checkK(k);
        Options options = new Options(given);
        Run run = Run.resolve(tx, options.run);
        Node anchor = Run.entity(tx, anchorGiven, tails ? "head" : "tail");
        Node relation = Run.relation(tx, relationGiven);
        float[] a = run.entityVector(anchor);
        Scorer scorer = run.scorer;
        float[] query;
        if (tails) {
            query = scorer.tailQuery(a, run.relationVector(relation, false));
        } else if (run.reciprocal) {
            // Trained with inverse relations: (?, r, t) is answered as (t, r⁻¹, ?).
            query = scorer.tailQuery(a, run.relationVector(relation, true));
        } else {
            query = scorer.headQuery(run.relationVector(relation, false), a);
        }
        Set<String> excluded = new HashSet<>();
        if (options.exclude) {
            Direction dir = tails ? Direction.OUTGOING : Direction.INCOMING;
            try (ResourceIterator<Relationship> rels = anchor.getRelationships(dir, Run.type(relation)).iterator()) {
                while (rels.hasNext()) excluded.add(rels.next().getOtherNode(anchor).getElementId());
            }
        }
        float[] annQuery = scorer.innerProduct() ? pad(query) : query;
        List<Ranker.Hit> hits = new Ranker(tx, run, options, excluded, guard)
                .top((int) k, query, annQuery, modelScoring(scorer, query));
        return ranked(hits, run);
    }

    static Stream<EntityHit> ranked(List<Ranker.Hit> hits, Run run) {
        List<EntityHit> out = new ArrayList<>(hits.size());
        for (int i = 0; i < hits.size(); i++) out.add(new EntityHit(hits.get(i), i + 1, run.id));
        return out.stream();
    }

    /** MIPS → nearest neighbour: the index holds [t, sqrt(M² - |t|²)], so the query is [q, 0]. */
    static float[] pad(float[] q) {
        float[] out = new float[q.length + 1];
        System.arraycopy(q, 0, out, 0, q.length);
        return out;
    }

    @Procedure(name = "mmkg.predict.relation", mode = Mode.READ)
    @Description("mmkg.predict.relation(head, tail, k = 10, options = {}) - relation types ranked by the "
            + "model's score of (head)-[r]->(tail). options: run.")
    public Stream<RelationHit> relation(
            @Name("head") Object head,
            @Name("tail") Object tail,
            @Name(value = "k", defaultValue = "10") long k,
            @Name(value = "options", defaultValue = "{}") Map<String, Object> given) {
        Options.checkK(k);
        Options options = new Options(given);
        Run run = Run.resolve(tx, options.run);
        float[] h = run.entityVector(Run.entity(tx, head, "head"));
        float[] t = run.entityVector(Run.entity(tx, tail, "tail"));
        List<RelationHit> hits = new ArrayList<>();
        try (ResourceIterator<Node> it = tx.findNodes(Run.RELATION_TYPE)) {
            while (it.hasNext()) {
                Node rel = it.next();
                float[] r = Vectors.floats(rel.getProperty(run.relationProperty, null));
                if (r == null || r.length != run.dim) continue;
                hits.add(new RelationHit(
                        (String) rel.getProperty("name", null), (String) rel.getProperty("type", null),
                        run.scorer.score(h, r, t)));
            }
        }
        hits.sort((x, y) -> Double.compare(y.score, x.score));
        List<RelationHit> top = hits.subList(0, (int) Math.min(k, hits.size()));
        for (int i = 0; i < top.size(); i++) {
            top.get(i).rank = i + 1;
            top.get(i).run = run.id;
        }
        return top.stream();
    }

    @UserFunction(name = "mmkg.score")
    @Description("mmkg.score(head, relation, tail, run = null) - the model's score of the triple under the "
            + "active (or the named) embedding run; higher is more plausible.")
    public Double score(
            @Name("head") Object head,
            @Name("relation") String relation,
            @Name("tail") Object tail,
            @Name(value = "run", defaultValue = "null") String runId) {
        Run run = Run.resolve(tx, runId);
        float[] h = run.entityVector(Run.entity(tx, head, "head"));
        float[] r = run.relationVector(Run.relation(tx, relation), false);
        float[] t = run.entityVector(Run.entity(tx, tail, "tail"));
        return run.scorer.score(h, r, t);
    }

    @Procedure(name = "mmkg.similar", mode = Mode.READ)
    @Description("mmkg.similar(entity, k = 10, options = {}) - the entities nearest to one in embedding space: "
            + "by euclidean distance for distance models (score = -distance), by cosine for inner-product "
            + "models. options: label, mode, run, candidates, concurrency.")
    public Stream<EntityHit> similar(
            @Name("entity") Object entity,
            @Name(value = "k", defaultValue = "10") long k,
            @Name(value = "options", defaultValue = "{}") Map<String, Object> given) {
        Options.checkK(k);
        Options options = new Options(given);
        Run run = Run.resolve(tx, options.run);
        Node node = Run.entity(tx, entity, "entity");
        float[] e = run.entityVector(node);
        boolean cosine = run.scorer.innerProduct();
        String route = options.route(run);
        if (cosine && !"exact".equals(route)) {
            throw Options.invalid("mmkg.similar: run '%s' (%s) ranks by cosine, which its inner-product index "
                    + "cannot serve; use {mode: 'exact'}", run.id, run.model);
        }
        Set<String> self = new HashSet<>();
        self.add(node.getElementId());
        Ranker.Scoring scoring = cosine ? cosineScoring(unit(e)) : modelScoring(Scorer.euclidean(), e);
        List<Ranker.Hit> hits = new Ranker(tx, run, options, self, guard).top((int) k, e, e, scoring);
        return ranked(hits, run);
    }

    private static Ranker.Scoring cosineScoring(float[] q) {
        return new Ranker.Scoring() {
            public Exact.RowScorer rows() {
                return (page, from, to, out) -> {
                    for (int row = from; row < to; row++) out[row - from] = (float) cosine(q, page, row * q.length);
                };
            }

            public double exact(float[] data, int off) {
                return cosine(q, data, off);
            }
        };
    }

    private static float[] unit(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        float inv = (float) (1.0 / Math.max(Math.sqrt(s), 1e-12));
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] * inv;
        return out;
    }

    /** Cosine of unit q and the vector at {@code off} of {@code data}. */
    private static double cosine(float[] q, float[] data, int off) {
        int d = q.length;
        double dot = 0, norm = 0;
        for (int i = 0; i < d; i++) {
            float c = data[off + i];
            dot += (double) q[i] * c;
            norm += (double) c * c;
        }
        double s = dot / Math.max(Math.sqrt(norm), 1e-12);
        return Double.isNaN(s) ? Double.NEGATIVE_INFINITY : s;
    }

    @UserFunction(name = "mmkg.version")
    @Description("mmkg.version() - the version of the mmkg plugin.")
    public String version() {
        return Predict.class.getPackage().getImplementationVersion() == null
                ? "dev"
                : Predict.class.getPackage().getImplementationVersion();
    }
}
