"""mmkg's Neo4j plugin (``deploy/neo4j/plugin``): built with Maven, installed into plugins/.

The jar is cached under ``$MMKG_CACHE_DIR/plugin-<digest>/`` where the digest covers the plugin's
sources and the Neo4j version, so a source change builds a new jar and an unchanged tree never
rebuilds. The build runs in a copy of the sources: the source tree stays clean and an interrupted
build leaves nothing in the cache.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from mmkg.errors import Neo4jServerError
from mmkg.platform import atomic

log = logging.getLogger(__name__)

JAR_NAME = "mmkg-neo4j-plugin.jar"


def plugin_source_dir() -> Path:
    """``deploy/neo4j/plugin`` in a checkout, or the copy a wheel carries."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[4] / "deploy" / "neo4j" / "plugin", here.parent / "plugin"):
        if (candidate / "pom.xml").is_file():
            return candidate
    raise Neo4jServerError(
        "cannot find the plugin sources (deploy/neo4j/plugin); run mmkg from a checkout of the "
        "project or reinstall the package"
    )


def _sources(root: Path) -> list[Path]:
    return sorted([root / "pom.xml", *(root / "src").rglob("*.java")])


def source_digest(neo4j_version: str) -> str:
    root = plugin_source_dir()
    h = hashlib.sha256(neo4j_version.encode())
    for path in _sources(root):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def ensure_plugin(cache_dir: Path, neo4j_version: str) -> Path:
    """The plugin jar for these sources, built with ``mvn package`` when not cached yet."""
    digest = source_digest(neo4j_version)
    target = cache_dir / f"plugin-{digest}" / JAR_NAME
    if target.is_file():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise Neo4jServerError(
            "Maven is needed to build mmkg's Neo4j plugin; install it (apt-get install maven)"
        )
    if shutil.which("javac") is None:
        raise Neo4jServerError(
            "a JDK (javac) is needed to build mmkg's Neo4j plugin; install one "
            "(apt-get install openjdk-17-jdk-headless)"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mmkg-plugin-", dir=cache_dir) as tmp:
        work = Path(tmp) / "plugin"
        shutil.copytree(plugin_source_dir(), work, ignore=shutil.ignore_patterns("target"))
        cmd = [mvn, "-B", "-q", f"-Dneo4j.version={neo4j_version}", "-DskipTests", "package"]
        log.info("building mmkg's Neo4j plugin with Maven (once per source change)")
        result = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
        built = sorted((work / "target").glob("mmkg-neo4j-plugin-*.jar"))
        if result.returncode != 0 or not built:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
            raise Neo4jServerError(f"Maven could not build mmkg's Neo4j plugin:\n{tail}")
        atomic.copy_file(built[0], target)
    return target


def install_plugin(jar: Path, plugins_dir: Path) -> Path:
    """Copy the jar into a server's plugins folder (atomically), replacing older mmkg jars."""
    plugins_dir.mkdir(parents=True, exist_ok=True)
    dest = plugins_dir / JAR_NAME
    for old in plugins_dir.glob("mmkg-neo4j-plugin*.jar"):
        if old != dest:
            old.unlink()
    atomic.copy_file(jar, dest)
    return dest


def installed_is_current(jar: Path, plugins_dir: Path) -> bool:
    dest = plugins_dir / JAR_NAME
    return dest.is_file() and dest.read_bytes() == jar.read_bytes()
