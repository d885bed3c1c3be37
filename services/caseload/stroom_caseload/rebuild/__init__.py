"""`stroom caseload rebuild`: the events topic replayed into shadow tables, then swapped in (see run.py)."""
