"""Finding a Java runtime that Neo4j 5.26 accepts (17 or 21)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from mmkg.errors import Neo4jServerError

log = logging.getLogger(__name__)

SUPPORTED_JAVA = (17, 21)


def java_major_version(java: Path) -> int | None:
    """The major version of a ``java`` binary, or None when it cannot be run."""
    try:
        out = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8".
    return int(match.group(2) or 0) if major == 1 else major


def _candidates(java_home: Path | None) -> list[Path]:
    found: list[Path] = []
    if java_home is not None:
        return [java_home / "bin" / "java"]
    if os.environ.get("JAVA_HOME"):
        found.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        found.append(Path(on_path))
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        found.extend(sorted(p / "bin" / "java" for p in jvm_root.iterdir()))
    return found


def find_java(java_home: Path | None = None) -> Path:
    """Return a ``java`` binary of version 17 or 21.

    Args:
        java_home: an explicit JDK folder (MMKG_JAVA_HOME); when given, only it is tried.

    Raises:
        Neo4jServerError: when no supported Java is installed.
    """
    seen: list[str] = []
    for java in _candidates(java_home):
        if not java.exists():
            continue
        version = java_major_version(java)
        seen.append(f"{java} ({version})")
        if version in SUPPORTED_JAVA:
            log.debug("using Java %s at %s", version, java)
            return java
    raise Neo4jServerError(
        "Neo4j 5.26 needs Java 17 or 21; found "
        + (", ".join(seen) if seen else "no Java")
        + ". Install OpenJDK 17 (apt-get install openjdk-17-jre-headless) or set MMKG_JAVA_HOME."
    )
