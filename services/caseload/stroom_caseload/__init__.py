"""Caseload: the live state of benefits, persons, placements and trajectories per municipality."""
