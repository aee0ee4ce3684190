"""Finding media files safely: inside the allowed root, no symlinks, known kinds only."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

IMAGE_TYPES = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".bmp": "image/bmp", ".webp": "image/webp", ".tif": "image/tiff", ".tiff": "image/tiff",
}  # fmt: skip
VIDEO_TYPES = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
    ".mkv": "video/x-matroska", ".avi": "video/x-msvideo",
}  # fmt: skip
TEXT_TYPES = {".txt": "text/plain", ".md": "text/markdown"}
KINDS = {
    **{s: "Image" for s in IMAGE_TYPES},
    **{s: "Video" for s in VIDEO_TYPES},
    **{s: "Text" for s in TEXT_TYPES},
}
MIMES = {**IMAGE_TYPES, **VIDEO_TYPES, **TEXT_TYPES}


@dataclass
class Candidate:
    path: Path  # resolved, inside the root
    kind: str  # Image, Video or Text
    mime: str


@dataclass
class Rejected:
    path: str
    reason: str
    stage: str = "discover"


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def _key(p: Path) -> str:
    """How a path is recorded: absolute and normalised, so one file is never two failures."""
    return os.path.normpath(os.path.abspath(p))


def discover(
    paths: list[Path], root: Path | None, max_bytes: int
) -> tuple[list[Candidate], list[Rejected]]:
    """Files named or found under folders (sorted, deduplicated), and those refused with why.

    With a ``root``, every file must lie under it (the guard for paths that come from
    manifests and the workers' queue). Without one, each path named is trusted as its own
    root: a file or folder the user names is ingested wherever it is, but symbolic links are
    still not followed, so a folder cannot lead outside itself.
    """
    fixed_root = root.resolve() if root is not None else None
    found: list[Candidate] = []
    rejected: list[Rejected] = []
    seen: set[Path] = set()

    def consider(p: Path, own_root: Path) -> None:
        if p.is_symlink():
            rejected.append(Rejected(_key(p), "symbolic link (not followed)"))
            return
        resolved = p.resolve()
        if not _inside(resolved, own_root):
            rejected.append(Rejected(_key(p), f"outside the allowed root {own_root}"))
            return
        if resolved in seen:
            return
        seen.add(resolved)
        key = str(resolved)
        if not resolved.is_file():
            rejected.append(Rejected(key, "not a regular file"))
            return
        kind = KINDS.get(resolved.suffix.lower())
        if kind is None:
            rejected.append(Rejected(key, f"unsupported format {resolved.suffix or '(none)'}"))
            return
        size = resolved.stat().st_size
        if size == 0:
            rejected.append(Rejected(key, "zero-byte file"))
            return
        if size > max_bytes:
            rejected.append(Rejected(key, f"{size} bytes, above the limit of {max_bytes}"))
            return
        found.append(Candidate(resolved, kind, MIMES[resolved.suffix.lower()]))

    for given in paths:
        if given.is_symlink():
            consider(given, fixed_root or Path(_key(given)).parent)
        elif given.is_dir():
            own = fixed_root or given.resolve()
            if not _inside(given.resolve(), own):
                rejected.append(Rejected(_key(given), f"outside the allowed root {own}"))
                continue
            for dirpath, dirnames, filenames in os.walk(given, followlinks=False):
                dirnames.sort()
                for name in sorted(filenames):
                    consider(Path(dirpath) / name, own)
                for name in dirnames:
                    if (Path(dirpath) / name).is_symlink():
                        rejected.append(
                            Rejected(_key(Path(dirpath) / name), "symbolic link (not followed)")
                        )
        elif given.exists():
            consider(given, fixed_root or given.resolve().parent)
        else:
            rejected.append(Rejected(_key(given), "no such file or folder"))
    return found, rejected


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def all_under(folder: Path, paths: Sequence[Path]) -> bool:
    """Whether every one of ``paths`` (at least one) lies inside ``folder``; resolved first, so
    neither ``..`` nor a symlink leads out."""
    root = folder.resolve()
    return bool(paths) and all(Path(p).resolve().is_relative_to(root) for p in paths)
