"""The `stroom` command line."""
