"""The commands a new user types: one data directory, the embedded key, errors in one line."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from intake.samples import one_of_each
from rich.console import Console
from typer.testing import CliRunner

from stroom_cli import serve
from stroom_cli.main import app
from stroom_cli.pipeline import Backlog
from stroom_cli.progress import grouped, step
from stroom_cli.runtime import ConfigurationError, Service, load_service
from stroom_cli.serve import start_services

ENVIRONMENT = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "STROOM_PSEUDONYM_KEY", "STROOM_HTTP_PORT")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STROOM_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_import_uses_the_embedded_key_and_database(data_dir: Path, tmp_path: Path) -> None:
    export = tmp_path / "export.ndjson"
    export.write_bytes(b"\n".join(orjson.dumps(e) for e in one_of_each("k")))

    result = CliRunner().invoke(app, ["import", str(export)])

    assert result.exit_code == 0, result.output
    assert (data_dir / "pseudonym.key").exists()
    assert (data_dir / "intake.db").exists()
    key = (data_dir / "pseudonym.key").read_text()
    again = CliRunner().invoke(app, ["import", str(export)])
    assert again.exit_code == 0, again.output
    assert (data_dir / "pseudonym.key").read_text() == key


def test_missing_key_is_named_in_one_line(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}")
    export = tmp_path / "export.ndjson"
    export.write_bytes(orjson.dumps(one_of_each("m")[0]))

    result = CliRunner().invoke(app, ["import", str(export)])

    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "STROOM_PSEUDONYM_KEY ontbreekt" in lines[0]
    assert "Traceback" not in result.output
    assert not (data_dir / "pseudonym.key").exists()


def test_invalid_setting_is_named_by_its_variable(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STROOM_PSEUDONYM_KEY", "short")
    result = CliRunner().invoke(app, ["migrate", "intake"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "stroom: STROOM_PSEUDONYM_KEY is ongeldig (STROOM_PSEUDONYM_KEY moet een echt geheim van minstens"
        " 32 bytes zijn):"
        " pas deze omgevingsvariabele aan."
    ]


def test_report_without_a_database_says_where_it_looked(data_dir: Path) -> None:
    args = [
        "report",
        "monthly",
        "--organisation",
        "werksaam-westfriesland",
        "--from",
        "2025-01",
        "--to",
        "2025-02",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"geen rapportagedatabase in {data_dir / 'reporting.db'}" in result.output
    assert not (data_dir / "reporting.db").exists()


def test_each_service_has_its_own_port_setting(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STROOM_PSEUDONYM_KEY", "k" * 32)
    monkeypatch.setenv("STROOM_INTAKE_PORT", "18001")
    monkeypatch.setenv("STROOM_REPORTING_PORT", "18003")
    monkeypatch.setenv("STROOM_CASELOAD_HOST", "0.0.0.0")
    services = {name: load_service(name) for name in ("intake", "caseload", "reporting")}
    assert {name: s.port for name, s in services.items()} == {
        "intake": 18001,
        "caseload": 8002,
        "reporting": 18003,
    }
    assert services["caseload"].host == "0.0.0.0"
    assert services["intake"].host == "127.0.0.1"


async def test_one_port_for_all_services_is_refused_before_binding(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STROOM_PSEUDONYM_KEY", "k" * 32)
    monkeypatch.setenv("STROOM_HTTP_PORT", "18000")
    services = [load_service(name) for name in ("intake", "reporting")]
    with pytest.raises(ConfigurationError, match="STROOM_INTAKE_PORT, STROOM_REPORTING_PORT"):
        await start_services(services)


class _Started(Exception):
    """Ends `stroom serve` where it would bind its ports."""


async def test_serve_reads_each_services_settings_once_and_gives_them_the_broker(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read before the embedded broker starts (whether a service uses Kafka decides whether it
    starts), then given its address: not read from the environment a second time."""
    monkeypatch.setenv("STROOM_PSEUDONYM_KEY", "k" * 32)
    monkeypatch.setenv("STROOM_CONSUME", "false")
    read: list[str] = []
    started: list[Service] = []

    def counted(name: str) -> Service:
        read.append(name)
        return load_service(name)

    @asynccontextmanager
    async def broker(_data_dir: Path, wanted: bool) -> AsyncIterator[SimpleNamespace | None]:
        yield SimpleNamespace(bootstrap_servers="127.0.0.1:19092") if wanted else None

    async def migrated(_services: list[Service]) -> None:
        return None

    async def start(services: list[Service], host: str | None = None) -> None:
        started.extend(services)
        raise _Started

    monkeypatch.setattr(serve, "load_service", counted)
    monkeypatch.setattr(serve, "embedded_broker_if_needed", broker)
    monkeypatch.setattr(serve, "migrate_services", migrated)
    monkeypatch.setattr(serve, "start_services", start)
    with pytest.raises(_Started):
        await serve._serve(["intake", "reporting"], None, True, data_dir)
    assert read == ["intake", "reporting"]
    assert [s.settings.kafka_bootstrap_servers for s in started] == ["127.0.0.1:19092"] * 2
    # Reporting serving from its database alone starts no broker.
    started.clear()
    read.clear()
    with pytest.raises(_Started):
        await serve._serve(["reporting"], None, True, data_dir)
    assert read == ["reporting"]
    assert started[0].settings.kafka_bootstrap_servers is None


def test_progress_prints_lines_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    clock = iter(range(0, 1000, 3))
    monkeypatch.setattr("stroom_cli.progress.time.monotonic", lambda: float(next(clock)))
    with step(console, "Events naar intake", 100) as progress:
        for _ in range(4):
            progress.advance(25)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Events naar intake: 50 van 100 (50%) events, ")
    assert lines[-1].startswith("Events naar intake: 100 van 100 (100%) events, ")
    assert lines[-1].endswith("— klaar")


def test_progress_sets_thousands_apart_with_a_point_as_dutch_readers_read_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr("stroom_cli.progress.time.monotonic", lambda: float(next(clock)))
    with step(console, "Events naar intake", 145_938) as progress:
        progress.advance(26_000)
        progress.advance(119_938)
    lines = out.getvalue().splitlines()
    # The clock reads 10 s when the first line is written: 26,000 events in it.
    assert lines[0] == "Events naar intake: 26.000 van 145.938 (18%) events, 2.600 events/s (10 s)"
    assert lines[-1].startswith("Events naar intake: 145.938 van 145.938 (100%) events, ")
    assert grouped(999) == "999"
    assert grouped(1_234_567.5) == "1.234.568"


def test_the_wait_for_the_pipeline_shows_counts_in_dutch_notation_and_a_missing_figure_as_onbekend() -> None:
    line = Backlog(None, 21_119, 40_680).line()
    assert line == (
        "Verwerken: nog te publiceren onbekend, caseload achterstand 21.119, rapportage achterstand 40.680"
    )
    assert Backlog(0, 0, 0).line().endswith("caseload achterstand 0, rapportage achterstand 0")
