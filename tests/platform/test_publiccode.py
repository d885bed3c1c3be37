"""publiccode.yml conforms to the standard, and the check refuses what the standard refuses."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[2]


def validator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("validate", ROOT / "tools/publiccode/validate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_repositorys_publiccode_yml_is_valid() -> None:
    assert validator().errors(ROOT / "publiccode.yml") == []


def _without(document: dict[str, Any], *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(document: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


ORIGINAL = yaml.safe_load((ROOT / "publiccode.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (_without(ORIGINAL, "name"), "'name' is verplicht"),
        (_with(ORIGINAL, ["caseload-tracking"], "categories"), "categories/0: 'caseload-tracking' is geen"),
        (
            _with(ORIGINAL, "finished", "developmentStatus"),
            "developmentStatus: 'finished' is geen toegestane",
        ),
        (_with(ORIGINAL, "Kort.", "description", "nl", "longDescription"), "longDescription: moet minstens"),
        (
            _with(ORIGINAL, "x" * 151, "description", "en", "shortDescription"),
            "shortDescription: moet hoogstens",
        ),
        (_without(ORIGINAL, "maintenance", "contacts"), "'contacts' is verplicht"),
        (_with(ORIGINAL, "1 april 2026", "releaseDate"), "releaseDate: '1 april 2026' is geen geldige datum"),
        (_with(ORIGINAL, "img/logo.svg", "logo"), "img/logo.svg: dit bestand staat niet in de repository"),
        (_with(ORIGINAL, "yes", "unknownKey"), "(document): 'unknownKey' is hier niet toegestaan"),
        (
            _without(_without(ORIGINAL, "description", "en", "features"), "description", "nl", "features"),
            "features",
        ),
    ],
)
def test_the_check_refuses_what_the_standard_refuses(
    tmp_path: Path, document: dict[str, Any], fragment: str
) -> None:
    path = tmp_path / "publiccode.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    found = validator().errors(path)
    assert any(fragment in line for line in found), found
