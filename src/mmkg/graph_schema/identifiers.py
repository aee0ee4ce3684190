"""Identifiers that enter Cypher text, and the mapping of raw relation names to types.

Values always travel as query parameters. Labels, relationship types and property names
cannot, so they are checked against a whitelist pattern before they are formatted in.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

from mmkg.errors import SchemaError
from mmkg.graph_schema.model import RESERVED_TYPES

IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
TYPE_MAX_LEN = 64
_HASH_LEN = 8


def validate_identifier(name: str, kind: str = "identifier") -> str:
    """Return ``name`` if it is safe to format into Cypher, else raise :class:`SchemaError`.

    >>> validate_identifier("NATIONALITY")
    'NATIONALITY'
    """
    if not isinstance(name, str) or not IDENTIFIER_RE.fullmatch(name):
        raise SchemaError(
            f"invalid {kind} {name!r}: use 1-64 ASCII letters, digits or '_', "
            "not starting with a digit"
        )
    return name


def quote_identifier(name: str, kind: str = "identifier") -> str:
    """Validate ``name`` and quote it with backticks for Cypher."""
    return f"`{validate_identifier(name, kind)}`"


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:_HASH_LEN].upper()


def _segment_to_snake(segment: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", segment).encode("ascii", "ignore").decode("ascii")
    # camelCase and PascalCase words are split, so "bornIn" becomes BORN_IN.
    ascii_text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", ascii_text)
    return re.sub(r"[^A-Za-z0-9]+", "_", ascii_text).strip("_").upper()


def _segments(raw: str) -> list[str]:
    """Path segments of a raw relation name, e.g. Freebase's ``/people/person/nationality``."""
    parts = [_segment_to_snake(p) for p in re.split(r"[/.]", raw)]
    return [p for p in parts if p]


def _fit(name: str, raw: str) -> str:
    if name[0].isdigit():
        name = "R_" + name
    if len(name) > TYPE_MAX_LEN:
        name = name[: TYPE_MAX_LEN - _HASH_LEN - 1].rstrip("_") + "_" + _short_hash(raw)
    return name


def _candidate(raw: str, level: int) -> str:
    """The ``level``-th choice of type name for ``raw``: longer and longer suffixes of its path,
    then the full path with a hash of the raw name, which is distinct for distinct names."""
    segs = _segments(raw)
    if level < len(segs):
        return _fit("_".join(segs[len(segs) - level - 1 :]), raw)
    base = "_".join(segs) or "REL"
    suffix = _short_hash(raw) + ("" if level == len(segs) else f"_{level - len(segs)}")
    full = f"{base}_{suffix}"
    if len(full) > TYPE_MAX_LEN:
        full = base[: TYPE_MAX_LEN - len(suffix) - 1].rstrip("_") + "_" + suffix
    return _fit(full, raw)


def assign_relation_types(raw_names: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """Give each new raw relation name a valid, collision-free relationship type.

    The shortest readable choice wins: ``/people/person/nationality`` becomes ``NATIONALITY``
    and ``_hypernym`` becomes ``HYPERNYM``. When two new names would share a type, neither gets
    it and both move on to a longer suffix of their path, so the result does not depend on the
    order names arrive in. Types in ``taken`` (already in the graph) and reserved ones are never
    reused. Stability over time comes from storing the mapping in the graph; names already
    mapped must not be passed again.

    >>> names = ["/film/film/country", "/location/location/country", "_hypernym"]
    >>> for raw, rel_type in sorted(assign_relation_types(names).items()):
    ...     print(raw, rel_type)
    /film/film/country FILM_COUNTRY
    /location/location/country LOCATION_COUNTRY
    _hypernym HYPERNYM
    """
    used = set(taken) | set(RESERVED_TYPES)
    pending = sorted(set(raw_names))
    for raw in pending:
        if not raw:
            raise SchemaError("a relation name is empty")
    result: dict[str, str] = {}
    level = 0
    while pending:
        choices = {raw: _candidate(raw, level) for raw in pending}
        counts = Counter(choices.values())
        unresolved = []
        for raw in pending:
            choice = choices[raw]
            if counts[choice] == 1 and choice not in used:
                result[raw] = choice
            else:
                unresolved.append(raw)
        used.update(result[raw] for raw in pending if raw in result)
        pending = unresolved
        level += 1
    return result
