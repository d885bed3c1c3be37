"""JSON Schema and AsyncAPI documents generated from the contract's pydantic models."""

from __future__ import annotations

import copy
import json
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter

from stroom_contract import facts
from stroom_contract.codes import CodeList
from stroom_contract.events import EVENT_TYPES, Client, Envelope, Member
from stroom_contract.keys import entity_key

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
FACTS_SCHEMA_FILE = "schemas/stroom.caseload.facts.v2.json"
ASYNCAPI_FILE = "asyncapi.yaml"
CODE_LISTS_FILE = "code-lists.md"
INTAKE_PATH = "/v1/events"
_KAFKA_BINDING = "0.5.0"
_HTTP_BINDING = "0.3.0"
_THIRTY_DAYS_MS = 30 * 24 * 3600 * 1000

# How each topic is kept, part of the contract: the events are the replayable log, the facts
# the log of changes to the entities' rows (a change applies on top of the one before), dead
# letters wait 30 days.
TOPIC_CONFIGURATION: dict[str, dict[str, Any]] = {
    "events": {"cleanup.policy": ["delete"], "retention.ms": -1},
    "facts": {"cleanup.policy": ["delete"], "retention.ms": -1},
    "dead_letter": {"cleanup.policy": ["delete"], "retention.ms": _THIRTY_DAYS_MS},
}


@dataclass(frozen=True)
class Topics:
    events: str
    facts: str
    dead_letter: str
    facts_dead_letter: str


def schema_file(type_name: str) -> str:
    return f"schemas/{type_name}.json"


def event_schema(type_name: str) -> dict[str, Any]:
    """The whole CloudEvent of one type (structured mode, as posted to the intake)."""
    return {"$schema": JSON_SCHEMA_DIALECT, **EVENT_TYPES[type_name].model_json_schema()}


def facts_schema() -> dict[str, Any]:
    schema = TypeAdapter(facts.Fact).json_schema()
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "Fact",
        "description": (facts.__doc__ or "").strip(),
        **schema,
    }


@cache
def data_model(type_name: str) -> type[BaseModel]:
    """The model of an event type's `data`; once per type, as validation asks for every event."""
    model = EVENT_TYPES[type_name].model_fields["data"].annotation
    assert isinstance(model, type)
    assert issubclass(model, BaseModel)
    return model


def key_template(type_name: str) -> str | None:
    """The Kafka key of one event type, computed by `entity_key` on placeholder values."""
    model = data_model(type_name)
    placeholders: dict[str, Any] = {
        name: "{" + name + "}" for name in model.model_fields if name.endswith("_ref")
    }
    if "client" in model.model_fields:
        placeholders["client"] = Client.model_construct(client_ref="{client_ref}")
    attributes: dict[str, Any] = {
        "type": type_name,
        "source": "{source}",
        "data": model.model_construct(**placeholders),
    }
    return entity_key(EVENT_TYPES[type_name].model_construct(**attributes))


def _asyncapi_schema(schema: Any) -> Any:
    # AsyncAPI's schema dialect has `discriminator` as a bare property name.
    if isinstance(schema, dict):
        return {
            key: value["propertyName"]
            if key == "discriminator" and isinstance(value, dict)
            else _asyncapi_schema(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_asyncapi_schema(item) for item in schema]
    return schema


def _components_schemas() -> dict[str, Any]:
    inputs: list[tuple[str, Any, TypeAdapter[Any]]] = [
        (name, "validation", TypeAdapter(data_model(name))) for name in EVENT_TYPES
    ]
    inputs.append(("fact", "validation", TypeAdapter(facts.Fact)))
    by_input, definitions = TypeAdapter.json_schemas(inputs, ref_template="#/components/schemas/{model}")
    schemas = dict(definitions["$defs"])
    schemas["Fact"] = by_input[("fact", "validation")]
    return _asyncapi_schema(schemas)  # type: ignore[no-any-return]


def openapi_events() -> tuple[dict[str, Any], dict[str, Any]]:
    """One structured CloudEvent as an OpenAPI schema (one of the event types), and the
    component schemas it refers to: intake documents its request body with them."""
    inputs: list[tuple[str, Any, TypeAdapter[Any]]] = [
        (name, "validation", TypeAdapter(EVENT_TYPES[name])) for name in EVENT_TYPES
    ]
    by_input, definitions = TypeAdapter.json_schemas(inputs, ref_template="#/components/schemas/{model}")
    one_of = {"oneOf": [by_input[(name, "validation")] for name in EVENT_TYPES]}
    return one_of, dict(definitions["$defs"])


def _header_schema(type_name: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "The event's `id`, unique within its source."},
        "ce_source": {"type": "string", "description": "The case system that recorded the event."},
        "ce_type": {"type": "string", "const": type_name},
        "ce_time": {"type": "string", "format": "date-time", "description": "When the source recorded it."},
        "ce_subject": {"type": "string", "description": "Optional; as given by the source."},
        "content-type": {"type": "string", "const": "application/json"},
    }
    required = ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"]
    return {"type": "object", "properties": properties, "required": required}


def _event_message(type_name: str, envelope: type[Envelope]) -> dict[str, Any]:
    template = key_template(type_name)
    if template is None:
        key_description = (
            "The entity key of the retracted event when the intake knows it, "
            "else `retraction:{source}:{retracted_id}`."
        )
    else:
        key_description = (
            f"`{template}`: one entity's events share a partition, so they stay in order. "
            "`%` and `:` in a ref are written `%25` and `%3A`; a key over 300 characters is "
            "`kind:#` and a SHA-256 of source and ref."
        )
    return {
        "name": type_name,
        "title": envelope.__name__,
        "summary": envelope.__doc__,
        "contentType": "application/json",
        "headers": _header_schema(type_name),
        "payload": {"$ref": f"#/components/schemas/{data_model(type_name).__name__}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": key_description},
                "bindingVersion": _KAFKA_BINDING,
            }
        },
    }


def _intake_messages() -> dict[str, Any]:
    one_of = {"oneOf": [{"$ref": schema_file(name)} for name in EVENT_TYPES]}
    return {
        "StructuredCloudEvent": {
            "name": "cloudevent",
            "title": "One CloudEvent",
            "summary": "One event in CloudEvents structured mode.",
            "contentType": "application/cloudevents+json",
            "payload": one_of,
        },
        "CloudEventBatch": {
            "name": "cloudevent-batch",
            "title": "A batch of CloudEvents",
            "summary": "A JSON array of events; valid ones are accepted, each bad one is reported.",
            "contentType": "application/cloudevents-batch+json",
            "payload": {"type": "array", "items": one_of},
        },
        "NdjsonEvents": {
            "name": "ndjson",
            "title": "Events as NDJSON",
            "summary": "One structured CloudEvent per line, for bulk exports; errors name the line.",
            "contentType": "application/x-ndjson",
            "payload": {"type": "string"},
        },
    }


def _kafka_channel(address: str, title: str, description: str, messages: dict[str, Any], kind: str) -> Any:
    return {
        "address": address,
        "title": title,
        "description": description,
        "servers": [{"$ref": "#/servers/kafka"}],
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        "bindings": {
            "kafka": {
                "topic": address,
                # A copy each: YAML would otherwise tie the channels together with an anchor.
                "topicConfiguration": copy.deepcopy(TOPIC_CONFIGURATION[kind]),
                "bindingVersion": _KAFKA_BINDING,
            }
        },
    }


def _operation(action: str, channel: str, summary: str, messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in messages],
    }


_DESCRIPTION = """\
How events travel through Stroom. Case systems send CloudEvents 1.0 to the intake over
HTTP (the only way in). The intake validates them, replaces every BSN by a keyed pseudonym
(`client_ref`) and publishes them to the events topic in CloudEvents Kafka binary mode:
the attributes as `ce_` headers, `data` as the JSON value, the entity key as record key.
The caseload service folds them and publishes facts for reporting. The JSON Schema of each
event type is in `schemas/`; the intake's HTTP responses are in its OpenAPI document
(`GET /openapi.json` on the intake service).
"""


def asyncapi(topics: Topics) -> dict[str, Any]:
    event_messages = {
        envelope.__name__: _event_message(name, envelope) for name, envelope in EVENT_TYPES.items()
    }
    intake_messages = _intake_messages()
    fact_messages = {
        "Fact": {
            "name": "fact",
            "title": "Caseload fact",
            "summary": (
                "A change of an entity's rows, applied on top of revision `base` (none: all its rows),"
                " or a client record, whose highest `revision` wins."
            ),
            "contentType": "application/json",
            "payload": {"$ref": "#/components/schemas/Fact"},
            "bindings": {
                "kafka": {
                    "key": {
                        "type": "string",
                        "description": (
                            "The fact's `entity`; for a client record `entity|record_id`. Partitioned"
                            " by Kafka's default hash (murmur2) of the part before `|`, so all facts of"
                            " one entity, its client records included, share a partition and keep"
                            " their order."
                        ),
                    },
                    "bindingVersion": _KAFKA_BINDING,
                }
            },
        }
    }
    dead_letter_messages = {
        "DeadLetter": {
            "name": "dead-letter",
            "title": "Refused record",
            "summary": "A record a service could not decode, that broke the contract or could not apply.",
            "description": (
                "The original key, value and headers, plus the headers `dlq_reason` and `dlq_position`."
                " Replayed after a fix, it goes back to its topic without those two."
            ),
            "headers": {
                "type": "object",
                "properties": {
                    "dlq_reason": {
                        "type": "string",
                        "description": (
                            "Why it was refused: a code (`contract`, `undecodable`, `unappliable`,"
                            " `conflict`), a colon and the reason in Dutch."
                        ),
                    },
                    "dlq_position": {
                        "type": "string",
                        "description": "Where it was read: `topic/partition/offset`.",
                    },
                },
                "required": ["dlq_reason", "dlq_position"],
            },
            "payload": {"description": "The original record value, unchanged."},
        }
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Stroom events", "version": "1.0.0", "description": _DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "intake": {
                "host": "intake:8001",
                "protocol": "http",
                "description": "The Stroom intake service: the way in for case systems.",
            },
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "The Kafka cluster of a Stroom deployment; internal to Stroom.",
            },
        },
        "channels": {
            "intake": {
                "address": INTAKE_PATH,
                "title": "HTTP intake",
                "description": (
                    "POST one event, a batch or NDJSON. `(source, id)` identifies an event: "
                    "sending it again is acknowledged and counted once."
                ),
                "servers": [{"$ref": "#/servers/intake"}],
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in intake_messages},
            },
            "events": _kafka_channel(
                topics.events,
                "Events",
                "Validated, pseudonymised events: the replayable log everything is folded from.",
                event_messages,
                "events",
            ),
            "facts": _kafka_channel(
                topics.facts,
                "Caseload facts",
                "Normalised entity histories and client records, keyed by entity, for reporting.",
                fact_messages,
                "facts",
            ),
            "deadLetter": _kafka_channel(
                topics.dead_letter,
                "Dead letters",
                "Records of the events topic the caseload service could not use, kept for inspection.",
                dead_letter_messages,
                "dead_letter",
            ),
            "factsDeadLetter": _kafka_channel(
                topics.facts_dead_letter,
                "Refused facts",
                "Records of the facts topic the reporting service could not use, kept for inspection.",
                dead_letter_messages,
                "dead_letter",
            ),
        },
        "operations": {
            "acceptEvents": {
                **_operation(
                    "receive",
                    "intake",
                    "The intake accepts events from case systems.",
                    intake_messages,
                ),
                "bindings": {"http": {"method": "POST", "bindingVersion": _HTTP_BINDING}},
            },
            "publishEvents": _operation(
                "send", "events", "The intake's outbox relay publishes accepted events.", event_messages
            ),
            "foldEvents": _operation(
                "receive", "events", "The caseload service folds events into live state.", event_messages
            ),
            "publishFacts": _operation(
                "send", "facts", "The caseload service publishes each changed entity.", fact_messages
            ),
            "materialiseFacts": _operation(
                "receive", "facts", "The reporting service materialises counts from facts.", fact_messages
            ),
            "deadLetter": _operation(
                "send",
                "deadLetter",
                "The caseload service sets aside records it cannot use.",
                dead_letter_messages,
            ),
            "deadLetterFacts": _operation(
                "send",
                "factsDeadLetter",
                "The reporting service sets aside facts it cannot use.",
                dead_letter_messages,
            ),
        },
        "components": {
            "schemas": _components_schemas(),
            "messages": event_messages | intake_messages | fact_messages | dead_letter_messages,
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line text as YAML literal blocks, so the document reads like the prose it holds."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _code_list_fields() -> dict[type[CodeList], list[str]]:
    """Which fields of which event types take each code list, in catalogue order."""
    used: dict[type[CodeList], list[str]] = {}
    for type_name in EVENT_TYPES:
        model = data_model(type_name)
        nested = {name: Member for name in ("members", "joined") if name in model.model_fields}
        fields = [(f"`{name}`", info.annotation) for name, info in model.model_fields.items()]
        fields += [
            (f"`{outer}[].{name}`", info.annotation)
            for outer, inner in nested.items()
            for name, info in inner.model_fields.items()
        ]
        for label, annotation in fields:
            for candidate in (annotation, *typing.get_args(annotation)):
                if isinstance(candidate, type) and issubclass(candidate, CodeList):
                    used.setdefault(candidate, []).append(f"{label} van `{type_name}`")
    return used


def code_lists_markdown() -> str:
    """The code lists with their Dutch labels and CBS codes, for people who map a case system."""
    lines = [
        "# Codelijsten",
        "",
        "<!-- Gegenereerd door `stroom contract export` uit stroom_contract.codes: niet bewerken. -->",
        "",
        "Stuur de code; de omschrijving is wat mensen lezen. De kolom CBS, bij een lijst die haar",
        "heeft, is de code van de CBS Bijstandsuitkeringenstatistiek waarop elke code afbeeldt.",
    ]
    for code_list, fields in _code_list_fields().items():
        with_cbs = any(member.cbs_code for member in code_list)
        lines += ["", f"## {code_list.__name__}", "", "Gebruikt in " + ", ".join(fields) + ".", ""]
        lines.append("| code | omschrijving | CBS |" if with_cbs else "| code | omschrijving |")
        lines.append("|---|---|---|" if with_cbs else "|---|---|")
        for member in code_list:
            row = f"| `{member.value}` | {member.label} |"
            lines.append(row + f" {member.cbs_code} |" if with_cbs else row)
    return "\n".join(lines) + "\n"


def render(topics: Topics) -> dict[str, str]:
    """Every generated document by its path relative to docs/, as file text."""
    files = {schema_file(name): _json(event_schema(name)) for name in EVENT_TYPES}
    files[FACTS_SCHEMA_FILE] = _json(facts_schema())
    files[CODE_LISTS_FILE] = code_lists_markdown()
    header = "# Generated by `stroom contract export` from stroom_contract: do not edit.\n"
    files[ASYNCAPI_FILE] = header + yaml.dump(
        asyncapi(topics), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    return files
