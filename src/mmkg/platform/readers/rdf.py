"""Reading RDF (N-Triples, Turtle) into mmkg's three kinds of record.

- A triple whose object is an IRI or a blank node is a **relation** between two entities.
  Entities are identified by their IRI; a relation is named by its predicate in prefixed form
  (``foaf:knows``) where the prefix is known (the file's own, or rdflib's usual ones), else by
  the full IRI.
- A string literal of a naming predicate is **entity text**: ``rdfs:label``, ``skos:prefLabel``,
  ``schema:name``, ``foaf:name`` give the name (the one in the preferred language, else one
  without a language), the other labels and ``skos:altLabel`` the aliases; ``rdfs:comment``,
  ``schema:description``, ``dcterms:description``, ``skos:definition`` the description.
- A numeric literal (``xsd:integer``, ``decimal``, ``double``, ``float`` and their kin) is a
  **numeric attribute**, the predicate its name, as ``mmkg ingest literals`` stores them.

Other literals (dates, booleans, strings of other predicates) are counted by predicate and
left out. N-Triples is read line by line (bounded memory; a bad line is a reject with its
line number); Turtle is parsed whole by rdflib, a syntax error failing with its line (a bad
statement in it, say an over-long IRI, is a reject numbered by statement). Blank
nodes get ids that do not change between loads: ``_:<file stem>:<label>`` from an N-Triples
file's own labels, and canonical labels (rdflib's RGDA1) for Turtle.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mmkg.errors import IngestError
from mmkg.platform.readers.entities import EntityRow
from mmkg.platform.readers.lines import Reject, check_encoding, check_field, iter_records

log = logging.getLogger(__name__)

RdfFormat = Literal["nt", "ttl"]
RDF_FORMATS = ("nt", "ttl")
_SUFFIXES = {".nt": "nt", ".ntriples": "nt", ".ttl": "ttl", ".turtle": "ttl"}

RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SCHEMA = ("http://schema.org/", "https://schema.org/")
NAMES = {RDFS + "label", SKOS + "prefLabel", "http://xmlns.com/foaf/0.1/name"} | {
    s + "name" for s in SCHEMA
}
ALIASES = {SKOS + "altLabel"}
DESCRIPTIONS = {
    RDFS + "comment",
    SKOS + "definition",
    "http://purl.org/dc/terms/description",
    "http://purl.org/dc/elements/1.1/description",
} | {s + "description" for s in SCHEMA}
XSD = "http://www.w3.org/2001/XMLSchema#"
NUMERIC = {
    XSD + t
    for t in (
        "integer", "int", "long", "short", "byte", "decimal", "double", "float",
        "nonNegativeInteger", "positiveInteger", "negativeInteger", "nonPositiveInteger",
        "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte",
    )
}  # fmt: skip


def guess_rdf_format(path: Path) -> RdfFormat:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise IngestError(
            f"{path}: cannot tell the RDF format from {path.suffix!r}; give --format nt or ttl"
        )
    return fmt  # type: ignore[return-value]


@dataclass
class RdfTexts:
    """Names, descriptions and aliases gathered per entity while the triples stream by."""

    lang: str
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> lang -> name
    descriptions: dict[str, dict[str, str]] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    literals: list[tuple[int, str, str, float]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # predicate -> literals left out

    def rows(self) -> list[EntityRow]:
        """One row per entity: the name and description in the preferred language (else
        without one, else any), the other names and the alternative labels as aliases."""
        out = []
        ids = set(self.names) | set(self.descriptions) | set(self.aliases)
        ids.update(e for _, e, _, _ in self.literals)  # a subject of literals only is one too
        for ident in sorted(ids):
            names = self.names.get(ident, {})
            name = self._pick(names)
            aliases = [n for n in names.values() if n != name] + self.aliases.get(ident, [])
            out.append(
                {
                    "id": ident,
                    "name": name,
                    "description": self._pick(self.descriptions.get(ident, {})),
                    "aliases": list(dict.fromkeys(aliases)) or None,
                }
            )
        return out

    def _pick(self, by_lang: dict[str, str]) -> str | None:
        for key in (self.lang, ""):
            if key in by_lang:
                return by_lang[key]
        return next(iter(by_lang.values()), None)


class RdfReader:
    """Streams an RDF file's relation triples (``(head, relation, tail)`` or a Reject) and
    gathers its entity texts and numeric literals into ``texts`` as it goes."""

    def __init__(
        self, path: Path, fmt: RdfFormat | None = None, lang: str = "en", max_field: int = 4096
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt or guess_rdf_format(self.path)
        if self.fmt not in RDF_FORMATS:
            raise IngestError(f"unknown RDF format {self.fmt!r}; use nt or ttl")
        self.max_field = max_field
        self.texts = RdfTexts(lang)
        self._prefixes: list[tuple[str, str]] = []

    # --- names ------------------------------------------------------------------------------
    def _node(self, term: Any) -> str:
        from rdflib import BNode

        if isinstance(term, BNode):
            return f"_:{self.path.stem}:{term}"
        text = str(term)
        if text.startswith("https://rdflib.github.io/.well-known/genid/rdflib/"):
            return f"_:{self.path.stem}:{text.rsplit('/', 1)[1]}"  # a skolemised label
        return text

    def _relation(self, predicate: str) -> str:
        for namespace, prefix in self._prefixes:
            if predicate.startswith(namespace) and len(predicate) > len(namespace):
                local = predicate[len(namespace) :]
                if all(c.isalnum() or c in "_-." for c in local):
                    return f"{prefix}:{local}"
        return predicate

    def _bind(self, pairs: Any) -> None:
        seen = {}
        for prefix, namespace in pairs:
            if prefix and str(namespace) not in seen:
                seen[str(namespace)] = str(prefix)
        # Longest namespace first, so a nested one wins over its parent.
        self._prefixes = sorted(seen.items(), key=lambda kv: -len(kv[0]))

    # --- records ----------------------------------------------------------------------------
    def _record(
        self, position: int, s: Any, p: Any, o: Any, unit: str = "line"
    ) -> tuple[str, str, str] | Reject | None:
        from rdflib import Literal as RdfLiteral

        subject, predicate = self._node(s), str(p)
        bad = check_field(subject, "subject", self.max_field)
        if bad:
            return Reject(str(self.path), position, bad, subject[:200], unit)
        if not isinstance(o, RdfLiteral):
            obj, relation = self._node(o), self._relation(predicate)
            bad = check_field(obj, "object", self.max_field) or check_field(
                relation, "predicate", self.max_field
            )
            if bad:
                return Reject(str(self.path), position, bad, obj[:200], unit)
            return subject, relation, obj
        lang = (o.language or "").lower()
        value = str(o)
        if predicate in NAMES:
            self.texts.names.setdefault(subject, {}).setdefault(lang, value)
        elif predicate in ALIASES:
            self.texts.aliases.setdefault(subject, []).append(value)
        elif predicate in DESCRIPTIONS:
            self.texts.descriptions.setdefault(subject, {}).setdefault(lang, value)
        elif o.datatype is not None and str(o.datatype) in NUMERIC:
            try:
                number = float(value)
            except ValueError:
                return Reject(
                    str(self.path), position, f"not a number: {value!r}", value[:200], unit
                )
            self.texts.literals.append((position, subject, self._relation(predicate), number))
        else:
            self.texts.skipped[self._relation(predicate)] += 1
        return None

    def __iter__(self) -> Iterator[tuple[str, str, str] | Reject]:
        check_encoding(self.path)
        yield from self._ntriples() if self.fmt == "nt" else self._turtle()

    def _ntriples(self) -> Iterator[tuple[str, str, str] | Reject]:
        from rdflib import Graph
        from rdflib.plugins.parsers.ntriples import DummySink, W3CNTriplesParser

        self._bind(Graph().namespace_manager.namespaces())
        got: list[tuple[Any, Any, Any]] = []

        class Sink(DummySink):
            def triple(self, s: Any, p: Any, o: Any) -> None:
                got.append((s, p, o))

        # Skolemised blank nodes keep the file's own labels: stable ids between loads.
        parser = W3CNTriplesParser(Sink())  # type: ignore[no-untyped-call]
        for record in iter_records(self.path):
            if isinstance(record, Reject):
                yield record
                continue
            number, text = record
            if text.lstrip().startswith("#"):
                continue
            got.clear()
            try:
                parser.parsestring(text + "\n", skolemize=True)
            except Exception as e:  # rdflib's ParseError and its kin: the line is bad
                yield Reject(
                    str(self.path), number, f"not an N-Triples statement ({e})", text[:200]
                )
                continue
            for s, p, o in got:
                item = self._record(number, s, p, o)
                if item is not None:
                    yield item

    def _turtle(self) -> Iterator[tuple[str, str, str] | Reject]:
        from rdflib import BNode, Graph
        from rdflib.compare import to_canonical_graph

        graph = Graph()
        try:
            graph.parse(str(self.path), format="turtle")
        except Exception as e:  # rdflib's BadSyntax names the line
            raise IngestError(f"{self.path}: not valid Turtle: {e}") from None
        self._bind(graph.namespace_manager.namespaces())
        if any(isinstance(t, BNode) for triple in graph for t in triple):
            graph = to_canonical_graph(graph)  # blank nodes labelled by content, not at random
        # Sorted, so the same file yields the same order (and the same rejects) every time.
        for n, (s, p, o) in enumerate(sorted(graph), 1):
            item = self._record(n, s, p, o, "statement")
            if item is not None:
                yield item
