"""Command-line options generated from a pydantic model, so each setting is declared once.

Each field becomes ``--field-name`` (or the ``flag``/``short`` its ``json_schema_extra["cli"]``
names), with the field's description as help and its choices listed. The option's default is
None — "not given" — so the model's own defaults (or a config file, or a model's documented
defaults) apply; the model validates what was given.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Literal, get_args, get_origin

import typer
from pydantic import BaseModel


def _base_type(annotation: Any) -> tuple[type, list[str] | None]:
    """The scalar type an option parses to, and the choices of a Literal."""
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else (str, None)
    if origin is Literal:
        choices = [str(a) for a in get_args(annotation)]
        return str, choices
    if annotation in (int, float, bool, str):
        return annotation, None
    return str, None


def option_parameters(
    model: type[BaseModel], exclude: frozenset[str] | set[str] = frozenset()
) -> list[inspect.Parameter]:
    """One keyword-only parameter per field of ``model`` (but ``exclude``), as typer reads."""
    params = []
    for name, field in model.model_fields.items():
        if name in exclude:
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        cli: dict[str, Any] = extra.get("cli") or {}  # type: ignore[assignment]
        flag = cli.get("flag") or "--" + name.replace("_", "-")
        kind, choices = _base_type(field.annotation)
        decls = [f"{flag}/--no-{flag[2:]}"] if kind is bool else [flag]
        if cli.get("short"):
            decls.append(cli["short"])
        help_text = field.description or ""
        if choices and not all(c in help_text for c in choices):
            help_text = f"{help_text} One of: {', '.join(choices)}.".strip()
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, *decls, help=help_text, show_default=False),
                annotation=kind | None,
            )
        )
    return params


def given(values: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """The options of ``model`` that were given on the command line."""
    return {k: v for k, v in values.items() if k in model.model_fields and v is not None}


def with_parameters(func: Any, params: list[inspect.Parameter]) -> Any:
    """``func`` (taking ``**options``) presented to typer with the signature ``params``."""
    func.__signature__ = inspect.Signature(params)
    func.__annotations__ = {p.name: p.annotation for p in params}
    return func
