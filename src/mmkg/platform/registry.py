"""One resolver for every pluggable family: a name (or alias) → an object, listable.

Models, interactions, losses, optimizers, negative samplers, representations, fusions and
encoders each keep a :class:`Registry`. An entry may be registered eagerly (the object itself)
or lazily, as ``"package.module:attribute"``, so a registry can be listed and validated without
importing the heavy module that implements an entry (torch, transformers).

    >>> SHAPES = Registry("shape")
    >>> @SHAPES.register("circle", summary="round")
    ... class Circle: ...
    >>> SHAPES.get("circle").__name__, SHAPES.names()
    ('Circle', ['circle'])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from mmkg.errors import ConfigError

T = TypeVar("T")


@dataclass
class Entry(Generic[T]):
    """One registered name: the object (or where to import it from) and what it is."""

    name: str
    target: T | str
    summary: str = ""
    aliases: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        return not isinstance(self.target, str)

    def load(self) -> T:
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            obj: T = getattr(importlib.import_module(module), attr)
            self.target = obj
            return obj
        return self.target


class Registry(Generic[T]):
    """Names → objects of one family, with aliases and errors that list the choices."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    def add(
        self,
        name: str,
        target: T | str,
        summary: str = "",
        aliases: Iterable[str] = (),
        **meta: Any,
    ) -> Entry[T]:
        """Register ``target`` (or a lazy ``"module:attr"`` path) under ``name``."""
        key = name.lower()
        if key in self._entries or key in self._aliases:
            raise ValueError(f"{self.family} {name!r} is registered twice")
        entry = Entry(key, target, summary, tuple(a.lower() for a in aliases), dict(meta))
        self._entries[key] = entry
        for alias in entry.aliases:
            self._aliases[alias] = key
        return entry

    def register(
        self, name: str, summary: str = "", aliases: Iterable[str] = (), **meta: Any
    ) -> Callable[[T], T]:
        """Decorator form of :meth:`add` for classes and factories."""

        def wrap(obj: T) -> T:
            self.add(name, obj, summary, aliases, **meta)
            return obj

        return wrap

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases."""
        key = str(name).lower()
        key = self._aliases.get(key, key)
        if key not in self._entries:
            raise ConfigError(
                f"unknown {self.family} {name!r}; choose one of {', '.join(self.names())}"
            )
        return key

    def entry(self, name: str) -> Entry[T]:
        return self._entries[self.canonical(name)]

    def get(self, name: str) -> T:
        """The object registered under ``name`` (imported on first use if lazy)."""
        return self.entry(name).load()

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return key in self._entries or key in self._aliases

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def describe(self) -> dict[str, dict[str, Any]]:
        """Every entry's summary, aliases and metadata, without importing lazy entries."""
        return {
            e.name: {"summary": e.summary, "aliases": list(e.aliases), **e.meta}
            for e in self.entries()
        }
