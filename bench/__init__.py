"""Benchmarks: plain scripts, run with `.venv/bin/python -m bench.<name>` (list them with `-m bench`)."""
