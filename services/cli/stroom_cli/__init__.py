"""The `stroom` command line."""

# Before any other import: those of the command line take a second or two.
from stroom_cli.starting import stop_while_starting

stop_while_starting()

from stroom_cli.language import speak_dutch  # noqa: E402

# Every command module builds its Typer app on import, and tests invoke those apps directly.
speak_dutch()
