"""Click and Typer print texts of their own (usage, help titles, errors such as an unknown option)
through gettext's default domain: bound to Stroom's Dutch catalog, the whole command speaks Dutch."""

from __future__ import annotations

import gettext
import os
from pathlib import Path

LOCALE = Path(__file__).parent / "locale"


def speak_dutch() -> None:
    """Dutch unless the user's LANGUAGE asks for another language (gettext then falls back to
    Click's and Typer's English, since Stroom has only the Dutch catalog)."""
    os.environ.setdefault("LANGUAGE", "nl")
    gettext.bindtextdomain("messages", str(LOCALE))
