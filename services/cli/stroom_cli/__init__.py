"""The `stroom` command line."""

from stroom_cli.language import speak_dutch

# Every command module builds its Typer app on import, and tests invoke those apps directly.
speak_dutch()
