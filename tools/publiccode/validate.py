"""Validates a publiccode.yml against the standard's core schema (publiccode.schema.json here).

No validator of the standard is published on PyPI or npm (its reference validator is a Go
program), so the schema and the rules it cannot express are checked here. Exit status 1 and one
line per error, in Dutch, when the file does not conform.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError

SCHEMA = Path(__file__).with_name("publiccode.schema.json")


def errors(path: Path) -> list[str]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return [f"{path}: geen leesbaar YAML-document in UTF-8: {exc}"]
    # YAML reads an unquoted date as a date; the standard wants the "YYYY-MM-DD" string.
    document = json.loads(json.dumps(document, default=str))
    validator = Draft202012Validator(
        json.loads(SCHEMA.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    found = list(
        dict.fromkeys(
            f"{'/'.join(str(p) for p in error.absolute_path) or '(document)'}: {reason}"
            for error in sorted(
                validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path))
            )
            for reason in _reasons(error)
        )
    )
    if isinstance(document, dict):
        found += _rules_beyond_the_schema(document, path.parent)
    return found


_TYPES = {
    "string": "tekst",
    "array": "lijst",
    "object": "mapping",
    "boolean": "ja/nee-waarde",
    "integer": "geheel getal",
    "number": "getal",
    "null": "lege waarde",
}
_FORMATS = {"date": "datum (JJJJ-MM-DD)", "email": "e-mailadres", "uri": "URL"}


def _reasons(error: ValidationError) -> list[str]:
    """What is wrong, in Dutch: jsonschema words its messages in English."""
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "required" and isinstance(instance, dict):
        # One error per missing name, each naming them all: the caller drops the repeats.
        return [f"'{name}' is verplicht" for name in value if name not in instance]
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        patterns = error.schema.get("patternProperties", {}) if isinstance(error.schema, dict) else {}
        return [
            f"'{key}' is hier niet toegestaan"
            for key in instance
            if key not in known and not any(re.search(p, key) for p in patterns)
        ]
    if kind == "enum":
        allowed = f": {', '.join(map(repr, value))}" if len(value) <= 10 else " (zie het schema)"
        return [f"{instance!r} is geen toegestane waarde{allowed}"]
    if kind == "type":
        names = value if isinstance(value, list) else [value]
        return [f"{instance!r} is geen {' of '.join(_TYPES.get(str(n), str(n)) for n in names)}"]
    if kind in {"minLength", "maxLength", "minItems", "maxItems"}:
        unit = "tekens" if kind.endswith("Length") else "elementen"
        bound = "minstens" if kind.startswith("min") else "hoogstens"
        return [f"moet {bound} {value} {unit} hebben"]
    if kind == "pattern":
        return [f"{instance!r} heeft niet de vorm {value}"]
    if kind == "format":
        return [f"{instance!r} is geen geldige {_FORMATS.get(value, value)}"]
    return [f"voldoet niet aan de regel '{kind}' van het schema"]


def _rules_beyond_the_schema(document: dict[str, Any], root: Path) -> list[str]:
    found = []
    descriptions = document.get("description")
    if isinstance(descriptions, dict):
        for key in ("longDescription", "features"):
            if not any(isinstance(d, dict) and d.get(key) for d in descriptions.values()):
                found.append(f"description: {key} is verplicht in minstens één taal")
    # Relative logo and screenshot paths must lie in the repository.
    files = [document.get("logo")]
    if isinstance(descriptions, dict):
        files += [s for d in descriptions.values() if isinstance(d, dict) for s in d.get("screenshots", [])]
    for name in files:
        if isinstance(name, str) and "://" not in name and not (root / name).is_file():
            found.append(f"{name}: dit bestand staat niet in de repository")
    return found


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "publiccode.yml")
    found = errors(path)
    for line in found:
        print(f"{path}: {line}", file=sys.stderr)
    if not found:
        print(f"{path}: geldige publiccode.yml")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
