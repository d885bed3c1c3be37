"""`python -m stroom_caseload`: one caseload worker (consumer and HTTP API) from the environment."""

from __future__ import annotations

import uvicorn

from stroom_caseload.app import create_app
from stroom_caseload.settings import CaseloadSettings
from stroom_platform.logs import configure_logging
from stroom_platform.memory import tune_for_batches


def main() -> None:
    settings = CaseloadSettings()
    configure_logging(settings.log_level)
    # The process is the worker's alone (`stroom serve` shares one with other services and
    # keeps the defaults): under load the default collector cost a tenth of its CPU, and
    # its full passes over the batches in flight stalled it for 20 ms each.
    tune_for_batches()
    uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()
