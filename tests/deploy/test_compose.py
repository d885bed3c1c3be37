"""docker-compose.yml, the Dockerfile and the topic step agree with the code they deploy."""

from __future__ import annotations

import base64
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

from stroom_cli.main import app
from stroom_contract.schema import TOPIC_CONFIGURATION
from stroom_platform.broker import EPOCH_TOPIC_SPEC
from stroom_platform.settings import CommonSettings

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
STROOM_SERVICES = {"intake": 8001, "caseload": 8002, "reporting": 8003}
ONE_OFF = {"migrate", "topics"}
_INTERPOLATION = re.compile(r"\$\{(\w+)(:?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


def cli_commands() -> set[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return set(group.commands)


def test_the_whole_system_is_there(services: dict[str, Any]) -> None:
    assert set(services) == {"kafka", "postgres", *ONE_OFF, *STROOM_SERVICES}


def test_kafka_is_a_single_kraft_node(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    env = kafka["environment"]
    assert kafka["image"].startswith("apache/kafka:")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    node, _, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert node == str(env["KAFKA_NODE_ID"])
    assert voter == "kafka:" + env["KAFKA_LISTENERS"].split("CONTROLLER://:")[1].split(",")[0]
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    assert any(v.endswith(":" + env["KAFKA_LOG_DIRS"]) for v in kafka["volumes"])
    assert "kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


def test_postgres_keeps_its_data_and_reports_ready(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:16"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])


@pytest.mark.parametrize("name", sorted(STROOM_SERVICES))
def test_stroom_services_connect_to_kafka_and_postgres(services: dict[str, Any], name: str) -> None:
    env = services[name]["environment"]
    postgres = services["postgres"]["environment"]
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert env["DATABASE_URL"].startswith(f"postgresql+asyncpg://{postgres['POSTGRES_USER']}:")
    assert env["DATABASE_URL"].endswith(f"@postgres:5432/{postgres['POSTGRES_DB']}")
    assert f"//{env['KAFKA_BOOTSTRAP_SERVERS']}" in advertised
    # Apache Kafka, not the embedded broker: producers are idempotent.
    assert env["STROOM_BROKER_PROFILE"] == "apache"
    # The static read tokens are gone: every service verifies OAuth tokens of one shared issuer.
    assert "STROOM_API_TOKENS" not in env
    assert "stroom-issuer:/home/stroom/var" in services[name]["volumes"]
    assert ("STROOM_PSEUDONYM_KEY" in env) == (name == "intake")


def test_secrets_come_from_the_environment_never_from_the_file(services: dict[str, Any]) -> None:
    for service in services.values():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("KEY", "PASSWORD", "TOKENS")):
                assert _INTERPOLATION.fullmatch(str(value)), key
    assert "${POSTGRES_PASSWORD" in services["intake"]["environment"]["DATABASE_URL"]


def test_env_example_names_every_variable_the_compose_file_requires() -> None:
    required = {m.group(1) for m in _INTERPOLATION.finditer((ROOT / "docker-compose.yml").read_text())}
    required -= {"STROOM_VERSION"}
    example = (DEPLOY / ".env.example").read_text()
    assignments = dict(line.split("=", 1) for line in example.splitlines() if re.match(r"^\w+=", line))
    assert required <= set(assignments)
    assert assignments["STROOM_PSEUDONYM_KEY"] == ""
    assert assignments["POSTGRES_PASSWORD"] == ""


@pytest.mark.parametrize(("name", "port"), sorted(STROOM_SERVICES.items()))
def test_services_listen_and_report_health_on_their_port(
    services: dict[str, Any], name: str, port: int
) -> None:
    service = services[name]
    command = service["command"]
    assert command[:2] == ["serve", name]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    health = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/healthz" in health
    assert "urllib.request" in health
    settings_module = pytest.importorskip(f"stroom_{name}.settings")
    settings_class = getattr(settings_module, f"{name.capitalize()}Settings")
    assert settings_class.model_fields["http_port"].default == port
    assert service["restart"] == "unless-stopped"
    assert "container_name" not in service


def test_caseload_scales_without_port_conflicts(services: dict[str, Any]) -> None:
    assert services["caseload"]["ports"] == ["8002"]
    assert services["intake"]["ports"] == ["8001:8001"]
    assert services["reporting"]["ports"] == ["8003:8003"]


def test_start_order_waits_for_health_and_one_off_steps(services: dict[str, Any]) -> None:
    for name in STROOM_SERVICES:
        assert services[name]["depends_on"] == {
            "kafka": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
            "topics": {"condition": "service_completed_successfully"},
        }
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    for name in ONE_OFF:
        assert services[name]["restart"] == "no"
    assert services["migrate"]["command"] == ["migrate"]


@pytest.mark.parametrize("name", ["migrate", *sorted(STROOM_SERVICES)])
def test_every_stroom_command_used_exists_in_the_cli(services: dict[str, Any], name: str) -> None:
    command = services[name]["command"]
    assert command[0] in cli_commands(), f"`stroom {command[0]}` does not exist"
    result = CliRunner().invoke(app, [command[0], "--help"])
    assert result.exit_code == 0, result.output
    for option in (part for part in command if part.startswith("--")):
        assert option in result.output


def test_the_cli_help_lists_the_contract_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "contract" in result.output


def topic_commands() -> dict[str, tuple[str, int, dict[str, str]]]:
    """`create "${VAR:-name}" partitions --config k=v ...` lines of the topic script, by variable."""
    script = (DEPLOY / "create-topics.sh").read_text().replace("\\\n", " ")
    found: dict[str, tuple[str, int, dict[str, str]]] = {}
    for line in script.splitlines():
        words = shlex.split(line, posix=False)
        if not words or words[0] != "create":
            continue
        configs = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--config")
        if not words[1].startswith('"'):
            # A topic whose name no setting changes.
            found[words[1]] = (words[1], int(words[2]), configs)
            continue
        match = _INTERPOLATION.fullmatch(words[1].strip('"'))
        assert match is not None
        assert match.group(2) is not None
        found[match.group(1)] = (match.group(2).removeprefix(":-"), int(words[2]), configs)
    return found


def test_topic_step_creates_the_settings_topics_as_the_contract_says() -> None:
    topics = topic_commands()
    fields = CommonSettings.model_fields
    prefix = CommonSettings.model_config["env_prefix"]
    expected = {
        "events_topic": ("events", 12),
        "facts_topic": ("facts", 12),
        "dead_letter_topic": ("dead_letter", 3),
        "facts_dead_letter_topic": ("dead_letter", 3),
    }
    assert set(topics) == {prefix + field.upper() for field in expected} | {EPOCH_TOPIC_SPEC.name}
    assert topics.pop(EPOCH_TOPIC_SPEC.name) == (
        EPOCH_TOPIC_SPEC.name,
        EPOCH_TOPIC_SPEC.partitions,
        {"cleanup.policy": "delete", **EPOCH_TOPIC_SPEC.config},
    )
    for field, (kind, partitions) in expected.items():
        name, count, configs = topics[prefix + field.upper()]
        assert name == fields[field].default
        assert count == partitions
        contract = TOPIC_CONFIGURATION[kind]
        assert configs["cleanup.policy"] == ",".join(contract["cleanup.policy"])
        assert configs.get("retention.ms") == (
            str(contract["retention.ms"]) if "retention.ms" in contract else None
        )


def test_topic_step_is_idempotent_and_runs_in_the_kafka_image(services: dict[str, Any]) -> None:
    script = (DEPLOY / "create-topics.sh").read_text()
    assert "--create --if-not-exists" in script
    assert script.startswith("#!/usr/bin/env bash\n")
    topics = services["topics"]
    assert topics["image"] == services["kafka"]["image"]
    mounted = {v.split(":")[1] for v in topics["volumes"]}
    assert topics["entrypoint"][-1] in mounted


def test_dockerfile_builds_a_non_root_image_with_the_stroom_entrypoint() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip()[:1] not in ("", "#")
    ]
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms
    assert all(line.split()[1] == "python:3.11-slim" for line in froms)
    assert any(re.match(r"RUN pip install .*-c constraints\.txt\s\.$", line) for line in lines)
    copied = {word for line in lines if line.startswith("COPY ") for word in line.split()[1:-1]}
    assert {"pyproject.toml", "constraints.txt", "shared", "services", "tools/simulator"} <= copied
    final_stage = lines[lines.index(froms[-1]) :]
    users = [line.split()[1] for line in final_stage if line.startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["stroom"]' in lines
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignored
    assert "!constraints.txt" in ignored


def test_stroom_image_is_built_from_the_deploy_dockerfile(compose: dict[str, Any]) -> None:
    for name in ["migrate", *STROOM_SERVICES]:
        service = compose["services"][name]
        assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
        assert service["image"].startswith("stroom:")
