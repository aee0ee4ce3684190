package io.mmkg.neo4j;

import static org.neo4j.configuration.SettingConstraints.range;
import static org.neo4j.configuration.SettingImpl.newBuilder;
import static org.neo4j.configuration.SettingValueParsers.DOUBLE;
import static org.neo4j.configuration.SettingValueParsers.INT;

import org.neo4j.configuration.Config;
import org.neo4j.configuration.SettingsDeclaration;
import org.neo4j.graphdb.config.Setting;

/**
 * mmkg's server settings, declared so that neo4j.conf accepts (and validates) them. Neo4j 5
 * allows plugin settings only in its own namespaces, hence the {@code dbms.mmkg.} prefix:
 *
 * <ul>
 *   <li>{@code dbms.mmkg.cache.max_heap_fraction} (0.05-0.9, default 0.5): the share of the heap
 *       the plugin's cache of run matrices and ANN graphs may use;
 *   <li>{@code dbms.mmkg.concurrency} (1-256, default the server's processors): the size of
 *       mmkg's thread pool, and the default {@code concurrency} of its procedures.
 * </ul>
 *
 * <p>{@link MmkgExtension} hands the server's configuration over when the database starts.
 */
public final class PluginSettings implements SettingsDeclaration {
    public static final Setting<Double> CACHE_MAX_HEAP_FRACTION = newBuilder(
                    "dbms.mmkg.cache.max_heap_fraction", DOUBLE, 0.5)
            .addConstraint(range(0.05, 0.9))
            .build();

    public static final Setting<Integer> CONCURRENCY = newBuilder(
                    "dbms.mmkg.concurrency", INT, Math.max(1, Runtime.getRuntime().availableProcessors()))
            .addConstraint(range(1, 256))
            .build();

    private static volatile Config config;

    static void use(Config c) {
        config = c;
    }

    static double maxHeapFraction() {
        Config c = config;
        return c == null ? CACHE_MAX_HEAP_FRACTION.defaultValue() : c.get(CACHE_MAX_HEAP_FRACTION);
    }

    static int concurrency() {
        Config c = config;
        return c == null ? CONCURRENCY.defaultValue() : c.get(CONCURRENCY);
    }
}
