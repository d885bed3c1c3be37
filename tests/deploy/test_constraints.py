"""constraints.txt pins every package pyproject.toml asks for, at a version pyproject allows: an
install that takes it (CI, `make demo`, the image) runs the versions that were tested."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[2]


def pinned() -> dict[str, str]:
    versions: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, separator, version = line.partition("==")
        assert separator, f"geen vaste versie: {line}"
        assert version.strip(), f"geen vaste versie: {line}"
        versions[canonicalize_name(name)] = version.strip()
    return versions


def required() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(text) for text in wanted]


def test_every_requirement_is_pinned_at_a_version_it_allows() -> None:
    versions = pinned()
    for requirement in required():
        name = canonicalize_name(requirement.name)
        assert name in versions, f"{requirement.name} staat niet in constraints.txt: `make lock`"
        assert requirement.specifier.contains(versions[name], prereleases=True), (
            f"{requirement} staat vast op {versions[name]}: `make lock`"
        )


def test_the_project_itself_is_not_pinned() -> None:
    assert "stroom" not in pinned()
