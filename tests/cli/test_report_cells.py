"""How `stroom report` words a report's values and picks its columns for a person at a terminal."""

from __future__ import annotations

from stroom_cli.report import cell, read_columns


def test_a_value_reads_as_dutch_readers_write_it() -> None:
    assert [cell(v) for v in (2830, 1110280, 1261.7, 42.0, 0, None, True, False, "2025-01")] == [
        "2.830",
        "1.110.280",
        "1.261,7",
        "42,0",
        "0",
        "",
        "ja",
        "nee",
        "2025-01",
    ]


def test_a_code_gives_way_to_its_label_and_a_constant_is_said_once() -> None:
    columns = ["month", "municipality", "municipality_name", "reason", "reason_label", "cbs_code", "count"]
    rows = [
        {
            "month": "2025-01",
            "municipality": "GM0405",
            "municipality_name": "Hoorn",
            "reason": "other",
            "reason_label": "Overige redenen",
            "cbs_code": None,
            "count": 3,
        },
        {
            "month": "2025-02",
            "municipality": "GM0405",
            "municipality_name": "Hoorn",
            "reason": "moved",
            "reason_label": "Verhuizing",
            "cbs_code": None,
            "count": 1,
        },
    ]
    assert read_columns(columns, rows) == (["month", "reason_label", "count"], {"municipality_name": "Hoorn"})
    # One row says everything in its own columns.
    assert read_columns(columns, rows[:1]) == (
        ["month", "municipality_name", "reason_label", "cbs_code", "count"],
        {},
    )
