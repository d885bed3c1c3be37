"""The committed docs/ are what the models generate: a changed model needs `stroom contract export`."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from stroom_cli.contract import generated_documents
from stroom_cli.main import app
from stroom_contract.events import EVENT_TYPES

DOCS = Path(__file__).parents[2] / "docs"
FIX = "docs/ drift from the contract models: run `stroom contract export` and commit docs/."


def test_committed_documents_match_the_models() -> None:
    generated = generated_documents()
    for relative, text in generated.items():
        path = DOCS / relative
        assert path.exists(), f"{relative} is missing. {FIX}"
        committed = path.read_text(encoding="utf-8")
        if committed != text:
            diff = difflib.unified_diff(committed.splitlines(True), text.splitlines(True), relative, "models")
            excerpt = "".join(list(diff)[:40])
            raise AssertionError(f"{relative} differs. {FIX}\n{excerpt}")
    stale = {p.relative_to(DOCS).as_posix() for p in (DOCS / "schemas").glob("*.json")} - set(generated)
    assert not stale, f"{sorted(stale)} no longer generated. {FIX}"


def test_there_is_one_schema_per_event_type_and_each_is_valid_json_schema() -> None:
    generated = generated_documents()
    for type_name in EVENT_TYPES:
        assert f"schemas/{type_name}.json" in generated
    for relative, text in generated.items():
        if relative.endswith(".json"):
            Draft202012Validator.check_schema(yaml.safe_load(text))


def test_the_asyncapi_document_describes_every_event_type_on_the_events_topic() -> None:
    document = yaml.safe_load(generated_documents()["asyncapi.yaml"])
    assert document["asyncapi"].startswith("3.")
    events = document["channels"]["events"]
    messages = document["components"]["messages"]
    names = {messages[ref["$ref"].rsplit("/", 1)[1]]["name"] for ref in events["messages"].values()}
    assert names == set(EVENT_TYPES)
    for ref in events["messages"].values():
        message = messages[ref["$ref"].rsplit("/", 1)[1]]
        payload = message["payload"]["$ref"].rsplit("/", 1)[1]
        assert payload in document["components"]["schemas"]
        assert message["headers"]["properties"]["ce_type"]["const"] == message["name"]
    assert document["channels"]["intake"]["address"] == "/v1/events"


def test_export_writes_the_documents_and_removes_stale_ones(tmp_path: Path) -> None:
    stale = tmp_path / "schemas" / "stroom.benefit.paused.v1.json"
    stale.parent.mkdir()
    stale.write_text("{}")
    result = CliRunner().invoke(app, ["contract", "export", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert not stale.exists()
    for relative, text in generated_documents().items():
        assert (tmp_path / relative).read_text(encoding="utf-8") == text
