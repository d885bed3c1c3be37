"""Validates a publiccode.yml against the standard's core schema (publiccode.schema.json here).

No validator of the standard is published on PyPI or npm (its reference validator is a Go
program), so the schema and the rules it cannot express are checked here. Exit status 1 and one
line per error when the file does not conform.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

SCHEMA = Path(__file__).with_name("publiccode.schema.json")


def errors(path: Path) -> list[str]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return [f"{path}: not a readable UTF-8 YAML document: {exc}"]
    # YAML reads an unquoted date as a date; the standard wants the "YYYY-MM-DD" string.
    document = json.loads(json.dumps(document, default=str))
    validator = Draft202012Validator(
        json.loads(SCHEMA.read_text()), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    found = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if isinstance(document, dict):
        found += _rules_beyond_the_schema(document, path.parent)
    return found


def _rules_beyond_the_schema(document: dict[str, Any], root: Path) -> list[str]:
    found = []
    descriptions = document.get("description")
    if isinstance(descriptions, dict):
        for key in ("longDescription", "features"):
            if not any(isinstance(d, dict) and d.get(key) for d in descriptions.values()):
                found.append(f"description: {key} is mandatory in at least one language")
    # Relative logo and screenshot paths must lie in the repository.
    files = [document.get("logo")]
    if isinstance(descriptions, dict):
        files += [s for d in descriptions.values() if isinstance(d, dict) for s in d.get("screenshots", [])]
    for name in files:
        if isinstance(name, str) and "://" not in name and not (root / name).is_file():
            found.append(f"{name}: no such file in the repository")
    return found


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "publiccode.yml")
    found = errors(path)
    for line in found:
        print(f"{path}: {line}", file=sys.stderr)
    if not found:
        print(f"{path}: valid publiccode.yml")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
