"""`python -m stroom_caseload`: one caseload worker (consumer and HTTP API) from the environment."""

from __future__ import annotations

from stroom_caseload.commands import run_worker

if __name__ == "__main__":
    run_worker()
