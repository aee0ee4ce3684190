package io.mmkg.neo4j;

import org.neo4j.configuration.Config;
import org.neo4j.kernel.extension.ExtensionFactory;
import org.neo4j.kernel.extension.ExtensionType;
import org.neo4j.kernel.extension.context.ExtensionContext;
import org.neo4j.kernel.lifecycle.Lifecycle;
import org.neo4j.kernel.lifecycle.LifecycleAdapter;

/**
 * A global kernel extension that hands the plugin the server's configuration (its
 * {@link PluginSettings}) without any procedure needing unrestricted access to internal APIs,
 * as APOC and GDS do; on shutdown it empties the plugin's cache.
 */
public final class MmkgExtension extends ExtensionFactory<MmkgExtension.Dependencies> {
    public interface Dependencies {
        Config config();
    }

    public MmkgExtension() {
        super(ExtensionType.GLOBAL, "mmkg");
    }

    @Override
    public Lifecycle newInstance(ExtensionContext context, Dependencies dependencies) {
        return new LifecycleAdapter() {
            @Override
            public void init() {
                PluginSettings.use(dependencies.config());
            }

            @Override
            public void shutdown() {
                Catalog.clear();
            }
        };
    }
}
