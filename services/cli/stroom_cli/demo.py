"""`stroom demo`: the whole chain on embedded defaults with a simulated WerkSaam history.

Starts a local broker, the three services on SQLite, posts a simulated five-year history to
intake's HTTP API as a case system would, waits until reporting has caught up, prints the
monthly table, and says where to look. Its data directory is the one every other command uses
(STROOM_DATA_DIR, `var`), so `stroom report` and `stroom import` work on it; a restart goes on
with it instead of simulating again (`--fresh` starts over).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console

from stroom_cli.pipeline import Backlog, wait_until_settled
from stroom_cli.progress import counted, grouped, step
from stroom_cli.report import print_monthly
from stroom_cli.runtime import (
    SERVICE_NAMES,
    ConfigurationError,
    Service,
    embedded_broker_if_needed,
    load_service,
    load_settings,
    prepare_embedded_secrets,
)
from stroom_cli.serve import migrate_services, start_services
from stroom_cli.starting import STOPS
from stroom_platform.auth import EVENTS_WRITE, OPS_READ, REPORTS_READ
from stroom_platform.issuer import embedded_token
from stroom_platform.logs import configure_logging
from stroom_platform.organisations import Organisation, load_organisations
from stroom_platform.serving import Stopped, run
from stroom_platform.settings import CommonSettings
from stroom_reporting.commands import month_of
from stroom_simulator import simulate_history
from stroom_simulator.history import SOURCE_PREFIX

console = Console()
BATCH = 2_000
NDJSON = {"content-type": "application/x-ndjson"}
HISTORY_FILE = "demo.json"
# Said at Ctrl+C or a SIGINT or SIGTERM, whatever the demo was doing.
STOPPING = f"{STOPS} Een volgende `stroom demo` gaat verder met de gegevens die er zijn."
# The command as the README has a new user run it: `make demo` installs it there.
STROOM = ".venv/bin/stroom"


def _batches(events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    lines: list[bytes] = []
    for event in events:
        lines.append(orjson.dumps(event))
        if len(lines) == BATCH:
            yield b"\n".join(lines)
            lines = []
    if lines:
        yield b"\n".join(lines)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _case_system_token(settings: CommonSettings, org: Organisation) -> str:
    """What the simulated case system signs in with: its organisation and one source a municipality."""
    return embedded_token(
        settings,
        subject=f"demo-zaaksysteem-{org.code}",
        scopes=[EVENTS_WRITE],
        organisation=org.code,
        sources=[SOURCE_PREFIX + m.code for m in org.municipalities],
    )


async def _post_history(
    client: httpx.AsyncClient, intake: str, events: list[dict[str, Any]], token: str
) -> int:
    accepted = 0
    with step(console, "Events naar intake", len(events)) as progress:
        for body in _batches(iter(events)):
            response = await client.post(
                f"{intake}/v1/events", content=body, headers={**NDJSON, **_bearer(token)}
            )
            if response.status_code != 202:
                raise RuntimeError(f"intake antwoordde {response.status_code}: {response.text[:500]}")
            outcome = response.json()
            accepted += outcome["accepted"]
            progress.advance(body.count(b"\n") + 1)
    return accepted


async def _wait_until_settled(client: httpx.AsyncClient, urls: dict[str, str]) -> None:
    with step(console, "Caseload en rapportage verwerken de events") as progress:

        def show(backlog: Backlog) -> None:
            progress.note(backlog.line())

        await wait_until_settled(client, urls, show)


@dataclass(frozen=True)
class History:
    """What the demo simulated into its data directory, kept there so a restart goes on with it."""

    organisation: str
    years: int
    scale: float
    seed: int
    start: date
    posted: bool = False

    @classmethod
    def read(cls, data_dir: Path) -> History | None:
        try:
            raw = orjson.loads((data_dir / HISTORY_FILE).read_bytes())
            return cls(**(raw | {"start": date.fromisoformat(raw["start"])}))
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def write(self, data_dir: Path) -> None:
        (data_dir / HISTORY_FILE).write_bytes(orjson.dumps(asdict(self)))


async def _load_history(
    client: httpx.AsyncClient, urls: dict[str, str], history: History, org: Organisation, token: str
) -> None:
    simulated = simulate_history(
        org, years=history.years, seed=history.seed, start=history.start, scale=history.scale
    )
    with step(console, "Simuleren") as progress:
        events = list(counted(simulated, progress))
    console.print(f"Gesimuleerd: {grouped(len(events))} events van {org.name}, van {history.start} tot nu.")
    accepted = await _post_history(client, urls["intake"], events, token)
    console.print(f"Intake accepteerde {grouped(accepted)} events (dubbele aanleveringen geteld als één).")


async def _demo(data_dir: Path, years: int, scale: float, seed: int, stay: bool) -> None:
    prepare_embedded_secrets(load_settings(CommonSettings))
    async with embedded_broker_if_needed(data_dir):
        services = [load_service(name) for name in SERVICE_NAMES]
        await migrate_services(services)
        group = await start_services(services)
        urls = {endpoint.name: endpoint.url for endpoint in group.endpoints}
        try:
            await group.until_stopped(_load_and_show(services, urls, data_dir, years, scale, seed))
            if stay:
                console.print("Stroom draait. Stop met Ctrl+C; een volgende `stroom demo` gaat hier verder.")
                await group.wait()
                console.print(STOPPING, soft_wrap=True)
        except Stopped:
            console.print(STOPPING, soft_wrap=True)
        finally:
            await group.stop()


async def _load_and_show(
    services: list[Service], urls: dict[str, str], data_dir: Path, years: int, scale: float, seed: int
) -> None:
    """Simulate and post the history (unless posted before), wait until it is processed, show the
    last complete year's monthly table and where to look further."""
    organisations = load_organisations(services[0].settings.organisations_file)
    org = organisations.organisation("werksaam-westfriesland")
    assert org is not None, "de meegeleverde configuratie bevat WerkSaam Westfriesland"
    today = date.today()
    history = History.read(data_dir)
    settings = services[0].settings
    operator = embedded_token(settings, subject="demo-beheer", scopes=[OPS_READ])
    async with httpx.AsyncClient(timeout=120, headers=_bearer(operator)) as client:
        if history is not None and history.posted:
            console.print(
                f"Hervat: de gegevens in {data_dir}/ blijven staan (geschiedenis vanaf "
                f"{history.start}); niets opnieuw gesimuleerd. Opnieuw beginnen: --fresh."
            )
        else:
            # The history ends with last month, so the dashboard shows figures up to now.
            # An interrupted load is posted again: intake counts what it has once.
            history = history or History(
                org.code, years, scale, seed, date(today.year - years, today.month, 1)
            )
            history.write(data_dir)
            await _load_history(client, urls, history, org, _case_system_token(settings, org))
            replace(history, posted=True).write(data_dir)
        await _wait_until_settled(client, urls)
    # The last complete year: recent months still grow as pending decisions are recorded.
    year = today.year - 1
    await print_monthly(
        console,
        org.code,
        None,
        "benefits",
        month_of(date(year, 1, 1)),
        month_of(date(year, 12, 1)),
        None,
    )
    # A day: long enough to look around, short enough not to linger in a shell history.
    reader = embedded_token(
        settings,
        subject="demo-beleidsmedewerker",
        scopes=[REPORTS_READ],
        organisation=org.code,
        ttl_seconds=86400,
    )
    _where_to_look(urls, data_dir, reader)


def _where_to_look(urls: dict[str, str], data_dir: Path, reader: str) -> None:
    def say(label: str, *lines: str) -> None:
        # Soft-wrapped: a link or command broken over two lines would not work when copied.
        for number, line in enumerate(lines):
            console.print(f"[bold]{'' if number else label:<20}[/]{line}", soft_wrap=True)

    console.print()
    # The token after `#` stays in the browser: a fragment is never sent to a server.
    say(
        "Dashboard",
        f"{urls['reporting']}/#token={reader}",
        "(aanmeldlink, 24 uur geldig; een nieuwe aanmeldlink geeft",
        f"{STROOM} token --scope reports:read --organisation werksaam-westfriesland)",
    )
    say("Rapportage-API", f"{urls['reporting']}/docs")
    say("Events aanleveren", f"{urls['intake']}/docs (POST /v1/events)")
    say("Caseload", f"{urls['caseload']}/docs")
    say(
        "Status (ops)",
        *(f"{url}/status" for url in urls.values()),
        f"(met een token van {STROOM} token --scope ops:read)",
    )
    say("Dode letters", f"{STROOM} caseload dead-letters", f"{STROOM} reporting dead-letters")
    say("Gegevens", f"{data_dir}/ (SQLite, broker-log, sleutels)")


def demo(
    years: Annotated[int, typer.Option(help="jaren gesimuleerde geschiedenis")] = 5,
    scale: Annotated[
        float, typer.Option(help="omvang van het klantenbestand ten opzichte van het echte WerkSaam")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="startwaarde van de simulatie")] = 1,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="map voor de gegevens; standaard STROOM_DATA_DIR (var)", show_default=False),
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="gooi de gegevens van een vorige demo weg en begin opnieuw")
    ] = False,
    stay: Annotated[bool, typer.Option("--stay/--exit", help="blijf draaien na het laden")] = True,
) -> None:
    """Draai Stroom van begin tot eind, ingebouwd, met een gesimuleerde geschiedenis van WerkSaam.

    De gegevens blijven staan: een volgende `stroom demo` gaat verder waar deze stopte.
    """
    if data_dir is not None:
        os.environ["STROOM_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    # Embedded defaults throughout, also for sign-in: the demo is its own token issuer.
    for variable in ("STROOM_AUTH_ISSUER", "STROOM_AUTH_PUBLIC_KEYS_FILE", "STROOM_AUTH_JWKS_URL"):
        os.environ.pop(variable, None)
    data_dir = load_settings(CommonSettings).data_dir
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
        console.print(f"Opnieuw begonnen: {data_dir}/ leeggemaakt (databases en sleutel).")
    configure_logging(os.environ.get("STROOM_LOG_LEVEL", "WARNING"))
    try:
        run(_demo(data_dir, years, scale, seed, stay))
    except ConfigurationError as exc:
        exc.exit()
    except (asyncio.CancelledError, KeyboardInterrupt):
        # A signal before the services ran (a KeyboardInterrupt: before `run` took the signals).
        console.print(STOPPING, soft_wrap=True)
