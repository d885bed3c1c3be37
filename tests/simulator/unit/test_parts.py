"""The simulator's parts: BSNs, weighted tables, timestamps, NDJSON output, the summary and the CLI."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from random import Random
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from stroom_cli.main import app
from stroom_cli.progress import grouped
from stroom_contract.bsn import is_valid_bsn
from stroom_platform.organisations import load_organisations
from stroom_simulator import simulate_history, write_ndjson
from stroom_simulator.bsns import BsnSource
from stroom_simulator.clock import Rfc3339, moment
from stroom_simulator.summary import HistorySummary
from stroom_simulator.tables import OUTFLOW_REASON, Weighted


def test_bsns_are_valid_distinct_and_in_the_test_range() -> None:
    source = BsnSource(Random(1))
    numbers = [source.next() for _ in range(200_000)]
    assert len(set(numbers)) == len(numbers)
    assert all(is_valid_bsn(number) and number.startswith("9") for number in numbers)


@given(st.integers(min_value=0, max_value=2**64))
def test_every_seed_walks_distinct_valid_numbers(seed: int) -> None:
    source = BsnSource(Random(seed))
    numbers = [source.next() for _ in range(500)]
    assert len(set(numbers)) == 500
    assert all(is_valid_bsn(number) for number in numbers)


def test_weighted_tables_draw_in_their_published_proportions() -> None:
    rng = Random(5)
    drawn = Counter(OUTFLOW_REASON.pick(rng) for _ in range(50_000))
    for reason, share in OUTFLOW_REASON.share.items():
        assert abs(drawn[reason] / 50_000 - share) < 0.01
    assert Weighted({"only": 3, "never": 0}).values == ["only"]


def test_timestamps_carry_the_amsterdam_offset_of_their_day() -> None:
    stamp = Rfc3339()
    winter = stamp(moment(date(2024, 1, 15), 9 * 3600 + 5 * 60 + 7))
    summer = stamp(moment(date(2024, 7, 15), 16 * 3600))
    assert winter == "2024-01-15T09:05:07+01:00"
    assert summer == "2024-07-15T16:00:00+02:00"
    assert datetime.fromisoformat(stamp(moment(date(2024, 3, 31), 12 * 3600))).utcoffset() is not None


def werksaam_history(**options: Any) -> list[dict[str, Any]]:
    werksaam = load_organisations().organisation("werksaam-westfriesland")
    assert werksaam is not None
    return list(simulate_history(werksaam, years=1, seed=2, scale=0.05, **options))


def test_ndjson_holds_one_event_a_line_in_delivery_order(tmp_path: Path) -> None:
    events = werksaam_history()
    target = tmp_path / "nested" / "werksaam.ndjson"
    assert write_ndjson(iter(events), target) == len(events)
    lines = target.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == events


def test_summary_counts_redeliveries_once_and_ignores_retracted_starts() -> None:
    started = {
        "specversion": "1.0",
        "id": "e1",
        "source": "urn:stroom:gws:GM0405",
        "type": "stroom.benefit.started.v1",
        "time": "2021-01-04T09:00:00+01:00",
        "data": {
            "benefit_ref": "b1",
            "municipality": "GM0405",
            "start_date": "2021-01-01",
            "members": [{"bsn": "999990019", "role": "applicant", "birth_date": "1980-01-01"}],
        },
    }
    other = started | {"id": "e2", "data": started["data"] | {"benefit_ref": "b2"}}
    retraction = started | {
        "id": "e3",
        "type": "stroom.event.retracted.v1",
        "data": {"retracted_id": "e2", "reason": "fout"},
    }
    ended = started | {
        "id": "e4",
        "type": "stroom.benefit.ended.v1",
        "data": {"benefit_ref": "b1", "end_date": "2021-06-01", "outflow_reason": "employment"},
    }
    summary = HistorySummary()
    for event in (retraction, started, started, other, ended):
        summary.add(event)
    assert summary.events == 5
    assert summary.duplicates == 1
    assert summary.persons == 1
    assert summary.benefits_running(date(2021, 3, 1)) == Counter({"GM0405": 1})
    assert summary.benefits_running(date(2021, 7, 1)) == Counter()


def test_cli_writes_the_history_and_summarises_it(tmp_path: Path) -> None:
    target = tmp_path / "ws.ndjson"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--organisation",
            "bar",
            "--years",
            "1",
            "--seed",
            "3",
            "--start",
            "2022-01-01",
            "--scale",
            "0.05",
            "--no-noise",
            "--out",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    events = [orjson.loads(line) for line in target.read_bytes().splitlines()]
    assert events
    # Written as every count the command line prints: thousands set apart with a point.
    assert f"{grouped(len(events))} events" in result.output
    assert "Ridderkerk (GM0597)" in result.output
    assert "Lopende uitkeringen op 2022-12-31" in result.output
    assert not any(e["type"] == "stroom.event.retracted.v1" for e in events)


def test_cli_names_the_known_organisations_for_an_unknown_one() -> None:
    result = CliRunner().invoke(app, ["simulate", "--organisation", "nergens"])
    assert result.exit_code != 0
    assert "werksaam-westfriesland" in result.output
