"""Benchmarks: plain scripts, run with `.venv/bin/python -m bench.<name>` (list them with `-m bench`)."""

from stroom_cli.language import speak_dutch

# argparse words its own frame (usage, headings, errors) through gettext's default domain, which
# the CLI binds to Stroom's Dutch catalog.
speak_dutch()
