"""Labelled linking sets: read, write, and derive one from FB15k-237's Wikidata text.

A set is JSONL, one document per line:
``{"id": "d1", "text": "...", "mentions": [{"start": 9, "end": 14, "entity": "/m/07b_l"}]}``
(``"entity": null`` marks a mention of something the graph does not hold: NIL).

**The FB15k-237 derivation** (``derive_fb15k237``): each entity's Wikidata description is a
document ("county seat of Lubbock County, Texas, United States"). Its gold mentions are the
occurrences (whole words; any case, but abbreviations only in their own case and never a
lowercase stop word) of the names and aliases of the entities it shares a triple with, in
train, valid or test: the triples that join them are the gold. Where such occurrences
overlap, the one that is the entity's own name wins, then the longer. Documents are split by
a hash of their entity: 60% train, 20% validation (the NIL threshold is calibrated there),
20% test. One entity in twenty is held out of the linker's index (see ``held_out``): its
mentions are gold NIL, as mentions of things a graph lacks are in real text. The gold is
partial (a description may name entities it shares no triple with), so evaluation only
judges predictions that overlap a gold mention.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkg.errors import DataError
from mmkg.platform.readers.lines import Reject, iter_records


@dataclass
class Gold:
    start: int
    end: int
    entity: str | None


@dataclass
class LabelledDoc:
    id: str
    text: str
    mentions: list[Gold] = field(default_factory=list)
    split: str = "train"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "split": self.split,
            "mentions": [
                {"start": m.start, "end": m.end, "entity": m.entity} for m in self.mentions
            ],
        }


def _doc(raw: Any, where: str) -> LabelledDoc:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise DataError(f"{where}: a document must be an object with a 'text' string")
    text = raw["text"]
    mentions = []
    for j, m in enumerate(raw.get("mentions") or []):
        try:
            start, end = int(m["start"]), int(m["end"])
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"{where}: mention {j} needs integer 'start' and 'end'") from e
        if not 0 <= start < end <= len(text):
            raise DataError(f"{where}: mention {j} [{start}, {end}) lies outside the text")
        entity = m.get("entity")
        mentions.append(Gold(start, end, str(entity) if entity is not None else None))
    return LabelledDoc(str(raw.get("id", where)), text, mentions, str(raw.get("split", "train")))


def read_labelled(path: Path) -> list[LabelledDoc]:
    """A JSONL labelled set; errors name the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"labelled set {path} does not exist")
    docs = []
    for item in iter_records(path):
        if isinstance(item, Reject):
            reason = item.reason.removeprefix("bad encoding: ")
            raise DataError(f"{path}:{item.line}: {reason}")
        n, line = item
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: not JSON ({e.msg})") from e
        docs.append(_doc(raw, f"{path}:{n}"))
    if not docs:
        raise DataError(f"labelled set {path} holds no documents")
    return docs


def write_labelled(path: Path, docs: Iterable[LabelledDoc]) -> None:
    from mmkg.platform.atomic import write_text

    write_text(Path(path), "".join(json.dumps(d.to_dict()) + "\n" for d in docs))


def _bucket(key: str, n: int) -> int:
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % n


def held_out(entity: str) -> bool:
    """Entities kept out of the linker's index in the FB15k-237 set (their mentions are NIL)."""
    return _bucket("nil:" + entity, 20) == 0


def _split(entity: str) -> str:
    b = _bucket("split:" + entity, 10)
    return "train" if b < 6 else "valid" if b < 8 else "test"


def derive_fb15k237(data: Path) -> list[LabelledDoc]:
    """The FB15k-237 linking set (see the module's docstring for the derivation)."""
    data = Path(data)
    wiki_path = data / "entity2wikidata.json"
    if not wiki_path.is_file():
        raise DataError(f"{wiki_path} does not exist: the derivation needs Wikidata's text")
    wiki: dict[str, dict[str, Any]] = json.loads(wiki_path.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    text_path = data / "entity2text.txt"
    if text_path.is_file():
        for line in text_path.read_text(encoding="utf-8").splitlines():
            mid, _, name = line.partition("\t")
            names[mid] = name
    neighbours: dict[str, set[str]] = defaultdict(set)
    for part in ("train", "valid", "test"):
        for line in (data / f"{part}.txt").read_text(encoding="utf-8").splitlines():
            h, _, t = line.split("\t")
            if h != t:
                neighbours[h].add(t)
                neighbours[t].add(h)

    def forms(e: str) -> tuple[str | None, set[str]]:
        w = wiki.get(e) or {}
        label = w.get("label") or names.get(e)
        out = {f for f in [label, names.get(e), *(w.get("alternatives") or [])] if f}
        return label, {f for f in out if len(f) >= 2}

    from mmkg.platform.linking.detect import stop_words

    stop = stop_words()
    docs = []
    for e in sorted(wiki):
        text = (wiki[e].get("description") or "").strip()
        if not text:
            continue
        found: list[tuple[int, int, int, str]] = []  # (not-name, -length, start, entity)
        for f in sorted(neighbours.get(e, ())):
            label, fs = forms(f)
            for form in fs:
                # An abbreviation ("IN", "USA") names the entity only in its own case.
                flags = 0 if form.isupper() else re.I
                for m in re.finditer(r"(?<!\w)" + re.escape(form) + r"(?!\w)", text, flags):
                    if m.group().casefold() in stop and m.group().islower():
                        continue
                    found.append((int(form != label), m.start() - m.end(), m.start(), f))
        chosen: list[Gold] = []
        for _, neg_len, start, f in sorted(found):
            end = start - neg_len
            if any(start < g.end and g.start < end for g in chosen):
                continue
            chosen.append(Gold(start, end, None if held_out(f) else f))
        if chosen:
            docs.append(LabelledDoc(e, text, sorted(chosen, key=lambda g: g.start), _split(e)))
    return docs
