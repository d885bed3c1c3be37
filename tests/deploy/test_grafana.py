"""The Grafana dashboard shows metrics the services export, under the one naming scheme."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from stroom_caseload.metrics import CaseloadMetrics
from stroom_intake.metrics import IntakeMetrics
from stroom_platform.db import make_engine
from stroom_reporting.consumer import FactsConsumer
from stroom_reporting.settings import ReportingSettings

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "stroom-dashboard.json"
SCHEME = re.compile(r"^stroom_(intake|caseload|reporting)_[a-z_]+$")


def families(tmp_path: Path) -> list[Metric]:
    intake, reporting = CollectorRegistry(), CollectorRegistry()
    IntakeMetrics(intake)
    caseload = CaseloadMetrics().registry
    settings = ReportingSettings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    FactsConsumer(settings, make_engine(settings.reporting_database_url), reporting)
    return [family for registry in (intake, caseload, reporting) for family in registry.collect()]


def exported(tmp_path: Path) -> set[str]:
    """Every sample name the three services expose (with _total, _bucket and so on)."""
    names = set()
    for family in families(tmp_path):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        # Labelled metrics without a child yet export no samples; their names follow the type.
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        names.update(family.name + s for s in suffixes.get(family.type, ()))
    return names


def test_metric_names_follow_one_scheme(tmp_path: Path) -> None:
    names = exported(tmp_path)
    assert names
    assert sorted(n for n in names if not SCHEME.match(n)) == []
    gauges = {f.name for f in families(tmp_path) if f.type == "gauge"}
    # A gauge names its unit; the missing sequence numbers count themselves.
    assert {g for g in gauges if not g.endswith(("_seconds", "_events"))} <= {
        "stroom_intake_sequence_missing"
    }
    assert {f"stroom_{s}_freshness_seconds" for s in ("intake", "caseload", "reporting")} <= names


def test_dashboard_queries_exported_metrics(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for e in expressions for name in re.findall(r"\bstroom_[a-z_]+", e)}
    assert used <= exported(tmp_path), used - exported(tmp_path)
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for shown in ("instroom", "achterstand", "versheid", "dead letters", "per stap"):
        assert shown in titles
