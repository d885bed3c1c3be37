"""Prometheus metrics of one intake app, on the app's own registry."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from stroom_intake.domain.outcome import IngestReport


class IntakeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "stroom_intake_events",
            "Events offered to intake, by event type and outcome",
            ["type", "outcome"],
            registry=registry,
        )
        self.published = Counter(
            "stroom_intake_events_published", "Events the relay published to Kafka", registry=registry
        )
        self.backlog = Gauge(
            "stroom_intake_outbox_backlog_events",
            "Stored events not yet published to Kafka",
            registry=registry,
        )
        self.freshness = Gauge(
            "stroom_intake_freshness_seconds",
            "Seconds since the acceptance of the oldest event not yet published (0: none waiting)",
            registry=registry,
        )
        self.sequence_missing = Gauge(
            "stroom_intake_sequence_missing",
            "Numbers missing from a source's `sequence` between the lowest and highest received",
            ["source"],
            registry=registry,
        )
        # The same counts for /status, without reading them back out of prometheus.
        self.totals: Tally[str] = Tally()
        # Read from the database, so events `stroom import` stored count as well as HTTP's.
        self.stored: dict[str, int] = {}
        registry.register(_StoredEvents(self))

    def observe(self, report: IngestReport) -> None:
        for outcome, counts in (("accepted", report.accepted), ("duplicate", report.duplicates)):
            for event_type, count in counts.items():
                self.events.labels(event_type, outcome).inc(count)
            self.totals[outcome] += counts.total()
        for refusal in report.refusals:
            # Unknown types stay one label value: the label set must not grow with bad input.
            self.events.labels(refusal.type or "unknown", "refused").inc()
        self.totals["refused"] += len(report.refusals)
        self.totals["conflict"] += len(report.conflicts)


class _StoredEvents(Collector):
    """`stroom_intake_events_stored_total{type}`: every event in intake's database, by type."""

    def __init__(self, metrics: IntakeMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "stroom_intake_events_stored",
            "Events stored by intake, by type, through HTTP and `stroom import` alike",
            labels=["type"],
        )
        for event_type, count in sorted(self._metrics.stored.items()):
            family.add_metric([event_type], count)
        yield family
