"""The checker registry: one entry per instruction id, registered once, checked at import.

A checker is a stateless function `(text: Text, params) -> Finding` plus the
pydantic model of its kwargs (IFEval's stateful classes with random defaults are what we
avoid). Ids are IFEval's namespaced ids (`punctuation:no_comma`) so data moves between tools
unchanged; Tulu 3's RLVR functions live under `tulu:<func_name>`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, get_args, get_origin

from constraints.params import NoParams, Params, relation_holds, relation_phrase

if TYPE_CHECKING:
    from constraints.text import Text

ID_PATTERN = re.compile(r"^[a-z_]+:[a-z_]+$")  # IFEval's 'namespace:name' (lower case, underscores)


class Finding(NamedTuple):
    """A checker's answer on one text: followed or not, and the sentence saying why."""

    ok: bool
    reason: str
    code: str = ""  # set only for the rare outcomes that need their own code


def compare(count: int, relation: str, threshold: int, counted: str) -> Finding:
    """IFEval's relation test on `count`, with the reason '<counted>; at least N required' (or
    '; less than N allowed'). `count` may be a bound that already decides the relation."""
    return Finding(relation_holds(count, relation, threshold), f"{counted}; {relation_phrase(relation, threshold)}")


CheckFunction = Callable[["Text", Any], Finding]


@dataclass(frozen=True)
class Checker:
    id: str
    params: type[Params]
    check: CheckFunction
    description: str
    language_independent: bool
    same_as: str | None = None  # the IFEval id whose semantics a `tulu:` alias shares

    @property
    def family(self) -> str:
        return "tulu" if self.id.startswith("tulu:") else "ifeval"


REGISTRY: dict[str, Checker] = {}


def register_checker(
    instruction_id: str,
    description: str,
    params: type[Params] = NoParams,
    language_independent: bool = False,
    same_as: str | None = None,
) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator registering `check` under `instruction_id`; a malformed or taken id raises."""

    def decorate(check: CheckFunction) -> CheckFunction:
        if not ID_PATTERN.match(instruction_id):
            raise ValueError(f"instruction id {instruction_id!r} must look like 'namespace:name'")
        if instruction_id in REGISTRY:
            raise ValueError(f"instruction id {instruction_id!r} is already registered")
        if not (isinstance(params, type) and issubclass(params, Params)):
            raise TypeError(f"{instruction_id}: params must subclass constraints.params.Params")
        if not description or "\n" in description:
            raise ValueError(f"{instruction_id}: needs a one-line description")
        REGISTRY[instruction_id] = Checker(instruction_id, params, check, description, language_independent, same_as)
        return check

    return decorate


def kwargs_schema(params: type[Params]) -> list[dict[str, Any]]:
    """Each kwarg's name, type and whether it is required, from the params model."""
    schema = []
    for name, field in params.model_fields.items():
        schema.append(
            {
                "name": name,
                "type": _type_name(field.annotation),
                "required": field.is_required(),
                "description": field.description or "",
            }
        )
    return schema


def _type_name(annotation: Any) -> str:
    """'int', 'str', 'list[str]' or the allowed literals: what a user writes in JSON."""
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(repr(arg) for arg in get_args(annotation))
    if origin is list:
        (item,) = get_args(annotation) or (Any,)
        return f"list[{_type_name(item)}]"
    if origin is Annotated:
        return _type_name(get_args(annotation)[0])
    return getattr(annotation, "__name__", str(annotation))
