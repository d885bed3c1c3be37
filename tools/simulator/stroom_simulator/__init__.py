"""Simulated case-system events for an organisation: realistic caseloads, with delivery noise on request."""

from stroom_simulator.delivery import Event, NoiseRates
from stroom_simulator.history import SimulationConfig, caseload_sizes, simulate, simulate_history
from stroom_simulator.ndjson import write_ndjson

__all__ = [
    "Event",
    "NoiseRates",
    "SimulationConfig",
    "caseload_sizes",
    "simulate",
    "simulate_history",
    "write_ndjson",
]
