"""Assembling the Neo4j server's jars from Maven Central with ``mvn``."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from mmkg.errors import Neo4jServerError

log = logging.getLogger(__name__)

_MARKER = ".complete"


def pom_path() -> Path:
    """The project's ``deploy/neo4j/pom.xml`` (from the source tree, or the installed copy)."""
    here = Path(__file__).resolve()
    candidates = [
        here.parents[4] / "deploy" / "neo4j" / "pom.xml",  # source checkout / editable install
        here.parent / "pom.xml",  # wheel: copied in at build time
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise Neo4jServerError(
        "cannot find deploy/neo4j/pom.xml; run mmkg from a checkout of the project "
        "or reinstall the package"
    )


def lib_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"neo4j-{version}" / "lib"


def _fetch(target: Path, what: str, goal: list[str], expect: str, version: str) -> Path:
    """Run a Maven ``goal`` that copies jars into a staging folder, then move the folder to
    ``target`` whole: an interrupted download never leaves a half-filled folder behind."""
    if (target / _MARKER).exists():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise Neo4jServerError(
            f"Maven is needed once to fetch {what} from Maven Central; "
            "install it (apt-get install maven) and run again"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="fetch-", dir=target.parent))
    cmd = [mvn, "-B", "-q", "-f", str(pom_path()), *goal, f"-DoutputDirectory={staging}"]
    log.info("fetching %s with Maven into %s (once)", what, target)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise Neo4jServerError(f"Maven could not fetch {what}:\n{tail}")
    if not any(staging.glob(expect)):
        shutil.rmtree(staging, ignore_errors=True)
        raise Neo4jServerError(f"Maven fetched no {expect} for {what}")
    (staging / _MARKER).write_text(version + "\n")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


def ensure_neo4j_lib(cache_dir: Path, version: str) -> Path:
    """Return the folder of Neo4j's jars, downloading them with Maven on first use."""
    goal = [f"-Dneo4j.version={version}", "dependency:copy-dependencies", "-DincludeScope=runtime"]
    return _fetch(
        lib_dir(cache_dir, version), f"Neo4j {version}", goal, "neo4j-server-*.jar", version
    )


BROWSER_ARTIFACT = "org.neo4j.client:neo4j-browser"
# The newest Neo4j Browser on Maven Central; it speaks Bolt to any 5.x server.
BROWSER_VERSION = "5.24.0"


def browser_dir(cache_dir: Path) -> Path:
    return cache_dir / f"neo4j-browser-{BROWSER_VERSION}"


def ensure_browser(cache_dir: Path) -> Path:
    """The folder holding Neo4j Browser's jar (its ``browser/`` resources), fetched once."""
    goal = ["dependency:copy", f"-Dartifact={BROWSER_ARTIFACT}:{BROWSER_VERSION}"]
    return _fetch(
        browser_dir(cache_dir), f"Neo4j Browser {BROWSER_VERSION}", goal,
        "neo4j-browser-*.jar", BROWSER_VERSION,
    )  # fmt: skip
