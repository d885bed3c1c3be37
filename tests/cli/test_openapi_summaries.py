"""Every operation in the services' OpenAPI documents is titled in Dutch: the first sentence of
its description, never FastAPI's title made from the function's English name; nor is any of its
responses described by FastAPI's English default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stroom_cli.main import app
from stroom_platform.api_standards import summary_of

METHODS = {"get", "put", "post", "patch", "delete"}


def test_summary_is_the_first_sentence() -> None:
    text = "De caseload van één gemeente; haar klantmanagers in pagina's van hoogstens 1.000.\n\nMeer."
    assert (
        summary_of(text) == "De caseload van één gemeente; haar klantmanagers in pagina's van hoogstens 1.000"
    )
    assert summary_of("Rapport 2: redenen van instroom\nen uitstroom. Verder") == (
        "Rapport 2: redenen van instroom en uitstroom"
    )


def test_every_operation_is_titled_by_its_dutch_description(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["contract", "openapi", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    operations = [
        (service, method, path, operation)
        for service in ("intake", "caseload", "reporting")
        for path, item in json.loads((tmp_path / f"{service}.json").read_text(encoding="utf-8"))[
            "paths"
        ].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(operations) > 20
    for service, method, path, operation in operations:
        where = f"{service} {method.upper()} {path}"
        assert operation.get("description"), where
        assert operation["summary"] == summary_of(operation["description"]), where
        for code, response in operation["responses"].items():
            assert response["description"] != "Successful Response", f"{where} {code}"
