"""Prometheus metrics of the caseload service, on a registry of its own per app."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Fine below 100 ms, where a live batch's stages lie: coarser, they hid which stage grew.
_DELAY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1)
_DELAY_BUCKETS += (0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30)


@dataclass
class CaseloadMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.applied = Counter(
            "stroom_caseload_events_applied",
            "Events applied for the first time, by type.",
            ["type"],
            registry=r,
        )
        self.duplicates = Counter(
            "stroom_caseload_events_duplicate", "Redelivered events (no effect).", registry=r
        )
        self.conflicts = Counter(
            "stroom_caseload_events_conflicting",
            "Records reusing a stored event's (source, id) with another type or other data"
            " (dead-lettered; the stored event stands).",
            registry=r,
        )
        self.dead_letters = Counter(
            "stroom_caseload_dead_letters", "Records sent to the dead-letter topic.", registry=r
        )
        self.facts = Counter("stroom_caseload_facts_published", "Facts records published.", registry=r)
        self.apply_seconds = Histogram(
            "stroom_caseload_batch_apply_seconds",
            "Time to apply one batch (database transaction and facts publication).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.delay = Histogram(
            "stroom_caseload_batch_delay_seconds",
            "Seconds from the acceptance of a batch's oldest event to each stage of its way: fetched"
            " (handed over by the consumer), decoded, started (its transaction begins), applied"
            " (committed), queued (its facts handed to the producer), published (the broker has"
            " its facts). A stage's growth over the one before is where the time goes.",
            ["stage"],
            buckets=_DELAY_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "stroom_caseload_consumer_lag_events",
            "Records not yet committed, per partition.",
            ["partition"],
            registry=r,
        )
        self.freshness = Gauge(
            "stroom_caseload_freshness_seconds",
            "Seconds from intake's acceptance of the newest event of the last batch to its effect "
            "being stored and its facts published",
            registry=r,
        )
