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
        "ce_id": {"type": "string", "description": "Het `id` van het event, uniek binnen zijn source."},
        "ce_source": {"type": "string", "description": "Het zaaksysteem dat het event vastlegde."},
        "ce_type": {"type": "string", "const": type_name},
        "ce_time": {
            "type": "string",
            "format": "date-time",
            "description": "Wanneer de source het vastlegde.",
        },
        "ce_subject": {"type": "string", "description": "Optioneel; zoals de source het gaf."},
        "content-type": {"type": "string", "const": "application/json"},
    }
    required = ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"]
    return {"type": "object", "properties": properties, "required": required}


def _event_message(type_name: str, envelope: type[Envelope]) -> dict[str, Any]:
    template = key_template(type_name)
    if template is None:
        key_description = (
            "De entiteitssleutel van het ingetrokken event als intake dat kent, "
            "anders `retraction:{source}:{retracted_id}`."
        )
    else:
        key_description = (
            f"`{template}`: de events van één entiteit delen een partitie en blijven zo op volgorde. "
            "`%` en `:` in een ref worden `%25` en `%3A`; een sleutel van meer dan 300 tekens is "
            "`kind:#` en een SHA-256 van source en ref."
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
            "title": "Eén CloudEvent",
            "summary": "Eén event in de structured mode van CloudEvents.",
            "contentType": "application/cloudevents+json",
            "payload": one_of,
        },
        "CloudEventBatch": {
            "name": "cloudevent-batch",
            "title": "Een batch CloudEvents",
            "summary": "Een JSON-array van events; geldige worden aangenomen, elk fout event wordt gemeld.",
            "contentType": "application/cloudevents-batch+json",
            "payload": {"type": "array", "items": one_of},
        },
        "NdjsonEvents": {
            "name": "ndjson",
            "title": "Events als NDJSON",
            "summary": "Eén structured CloudEvent per regel, voor bulkexports; fouten noemen de regel.",
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
Hoe events door Stroom reizen. Zaaksystemen sturen CloudEvents 1.0 over HTTP naar intake
(de enige weg naar binnen). Intake valideert ze, vervangt elk BSN door een pseudoniem met
sleutel (`client_ref`) en publiceert ze naar het eventtopic in de binary mode van de
Kafka-binding van CloudEvents: de attributen als `ce_`-headers, `data` als de JSON-waarde, de
entiteitssleutel als sleutel van het record. De caseloaddienst vouwt ze en publiceert feiten voor
reporting. Het JSON Schema van elk eventtype staat in `schemas/`; de HTTP-antwoorden van intake
staan in zijn OpenAPI-document (`GET /v1/openapi.json` op de intakedienst).
"""


def asyncapi(topics: Topics) -> dict[str, Any]:
    event_messages = {
        envelope.__name__: _event_message(name, envelope) for name, envelope in EVENT_TYPES.items()
    }
    intake_messages = _intake_messages()
    fact_messages = {
        "Fact": {
            "name": "fact",
            "title": "Caseloadfeit",
            "summary": (
                "Een wijziging van de rijen van een entiteit, toegepast bovenop revisie `base` (geen:"
                " al haar rijen), of een klantrecord, waarvan de hoogste `revision` wint."
            ),
            "contentType": "application/json",
            "payload": {"$ref": "#/components/schemas/Fact"},
            "bindings": {
                "kafka": {
                    "key": {
                        "type": "string",
                        "description": (
                            "De `entity` van het feit; voor een klantrecord `entity|record_id`. Verdeeld"
                            " over de partities met de standaardhash van Kafka (murmur2) van het deel vóór"
                            " `|`, zodat alle feiten van één entiteit, haar klantrecords inbegrepen, een"
                            " partitie delen en hun volgorde houden."
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
            "title": "Geweigerd record",
            "summary": (
                "Een record dat een dienst niet kon decoderen, dat het contract brak of dat niet te"
                " verwerken was."
            ),
            "description": (
                "De oorspronkelijke sleutel, waarde en headers, plus de headers `dlq_reason` en"
                " `dlq_position`. Na een herstel opnieuw aangeboden gaat het zonder die twee terug naar"
                " zijn topic."
            ),
            "headers": {
                "type": "object",
                "properties": {
                    "dlq_reason": {
                        "type": "string",
                        "description": (
                            "Waarom het werd geweigerd: een code (`contract`, `undecodable`,"
                            " `unappliable`, `conflict`), een dubbele punt en de reden in het Nederlands."
                        ),
                    },
                    "dlq_position": {
                        "type": "string",
                        "description": "Waar het gelezen werd: `topic/partition/offset`.",
                    },
                },
                "required": ["dlq_reason", "dlq_position"],
            },
            "payload": {"description": "De oorspronkelijke waarde van het record, ongewijzigd."},
        }
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Stroom-events", "version": "1.0.0", "description": _DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {
            "intake": {
                "host": "intake:8001",
                "protocol": "http",
                "description": "De intakedienst van Stroom: de weg naar binnen voor zaaksystemen.",
            },
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "Het Kafka-cluster van een Stroom-installatie; intern voor Stroom.",
            },
        },
        "channels": {
            "intake": {
                "address": INTAKE_PATH,
                "title": "HTTP-intake",
                "description": (
                    "POST één event, een batch of NDJSON. `(source, id)` identificeert een event: "
                    "het opnieuw sturen wordt bevestigd en één keer geteld."
                ),
                "servers": [{"$ref": "#/servers/intake"}],
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in intake_messages},
            },
            "events": _kafka_channel(
                topics.events,
                "Events",
                "Gevalideerde, gepseudonimiseerde events: het herspeelbare log waaruit alles wordt gevouwen.",
                event_messages,
                "events",
            ),
            "facts": _kafka_channel(
                topics.facts,
                "Caseloadfeiten",
                "Wijzigingen van de rijen van entiteiten en klantrecords, per entiteit, voor reporting.",
                fact_messages,
                "facts",
            ),
            "deadLetter": _kafka_channel(
                topics.dead_letter,
                "Dode letters",
                "Records van het eventtopic die de caseloaddienst niet kon gebruiken, ter inzage bewaard.",
                dead_letter_messages,
                "dead_letter",
            ),
            "factsDeadLetter": _kafka_channel(
                topics.facts_dead_letter,
                "Geweigerde feiten",
                "Records van het feitentopic die reporting niet kon gebruiken, ter inzage bewaard.",
                dead_letter_messages,
                "dead_letter",
            ),
        },
        "operations": {
            "acceptEvents": {
                **_operation(
                    "receive",
                    "intake",
                    "Intake neemt events aan van zaaksystemen.",
                    intake_messages,
                ),
                "bindings": {"http": {"method": "POST", "bindingVersion": _HTTP_BINDING}},
            },
            "publishEvents": _operation(
                "send", "events", "De outbox-relay van intake publiceert aangenomen events.", event_messages
            ),
            "foldEvents": _operation(
                "receive", "events", "De caseloaddienst vouwt events tot de actuele stand.", event_messages
            ),
            "publishFacts": _operation(
                "send", "facts", "De caseloaddienst publiceert elke veranderde entiteit.", fact_messages
            ),
            "materialiseFacts": _operation(
                "receive", "facts", "De reportingdienst materialiseert tellingen uit feiten.", fact_messages
            ),
            "deadLetter": _operation(
                "send",
                "deadLetter",
                "De caseloaddienst zet records opzij die hij niet kan gebruiken.",
                dead_letter_messages,
            ),
            "deadLetterFacts": _operation(
                "send",
                "factsDeadLetter",
                "De reportingdienst zet feiten opzij die hij niet kan gebruiken.",
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
    header = "# Gegenereerd door `stroom contract export` uit stroom_contract: niet bewerken.\n"
    files[ASYNCAPI_FILE] = header + yaml.dump(
        asyncapi(topics), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    return files
