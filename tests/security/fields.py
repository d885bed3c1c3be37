"""Every string field of every event type, found in the pydantic models, and events that carry a BSN in one.

The list is generated, so a field added to the contract is attacked without anyone adding it here.
"""

from __future__ import annotations

import copy
import itertools
import json
import types
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from stroom_contract.events import EVENT_TYPES, Envelope

EXAMPLES = Path(__file__).parent.parent / "contract" / "examples"
# The one field that may carry a BSN, and the ones whose only allowed values are fixed.
_EXEMPT = {"bsn", "specversion", "type"}


@dataclass(frozen=True)
class StringField:
    event_type: str
    path: tuple[str | int, ...]

    @property
    def name(self) -> str:
        """The field as the validator names it: `data.members[0].client_ref`."""
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + part
        return text


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation allows (Optional, Annotated and unions taken apart)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _is_text(kind: Any) -> bool:
    if typing.get_origin(kind) is typing.Literal:
        return all(isinstance(arg, str) for arg in typing.get_args(kind))
    return isinstance(kind, type) and (issubclass(kind, str) or issubclass(kind, Enum))


def _walk(model: type[BaseModel], prefix: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    paths: list[tuple[str | int, ...]] = []
    for name, info in model.model_fields.items():
        if name in _EXEMPT:
            continue
        for kind in _unwrap(info.annotation):
            if typing.get_origin(kind) is list:
                (item,) = typing.get_args(kind)
                for inner in _unwrap(item):
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        paths += _walk(inner, (*prefix, name, 0))
            elif isinstance(kind, type) and issubclass(kind, BaseModel):
                paths += _walk(kind, (*prefix, name))
            elif _is_text(kind):
                paths.append((*prefix, name))
    return sorted(set(paths), key=str)


def string_fields() -> list[StringField]:
    """Each string field (identifiers, free text, codes, municipality) of each event type."""
    found = []
    for event_type, envelope in EVENT_TYPES.items():
        data_model = envelope.model_fields["data"].annotation
        assert isinstance(data_model, type)
        assert issubclass(data_model, BaseModel)
        envelope_paths = [p for p in _walk(Envelope, ()) if p != ("data",)]
        for path in [*envelope_paths, *_walk(data_model, ("data",))]:
            found.append(StringField(event_type, path))
    return found


def example(event_type: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((EXAMPLES / f"{event_type}.json").read_text(encoding="utf-8"))
    return raw


def with_value(raw: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A copy of `raw` with `value` at `path`, creating optional objects and list items on the way."""
    event = copy.deepcopy(raw)
    node: Any = event
    for step, following in itertools.pairwise(path):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(step, int):
            while len(node) <= step:
                node.append(empty)
            node = node[step]
        else:
            node = node.setdefault(step, empty)
    last = path[-1]
    if last == "client_ref" and isinstance(node, dict):
        node.pop("bsn", None)
    if isinstance(last, int):
        node.append(value)
    else:
        node[last] = value
    return event
