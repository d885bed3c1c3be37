"""What arrives on the topic while the rebuild folds is applied in its swap: what the rebuild then
stores and publishes is what a rebuild from scratch stores and publishes."""

from __future__ import annotations

from typing import Any

import pytest

from caseload.integration.expectations import assert_facts_match_database, latest_facts
from caseload.integration.publishing import publish, read_all
from caseload.integration.test_rebuild import every_row, without_revisions
from caseload.integration.test_retraction_chains import example, history
from stroom_caseload.rebuild import run
from stroom_caseload.settings import CaseloadSettings
from stroom_contract.validation import EventValidator
from stroom_platform.broker import EmbeddedBroker
from stroom_platform.db import make_engine

SOURCE = "urn:stroom:test:catch-up"


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_retraction_of_a_retraction_caught_up_in_the_swap_republishes_the_record_it_restores(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
    monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    """A person's assessment and its retraction are on the topic when the rebuild starts; the
    retraction's retraction arrives after the load read up to the ends it took, so only the
    swap's catch-up applies it, and only through the ledger is the assessment its chain's end."""
    settings = settings.model_copy(update={"rebuild_workers": workers})
    assessed, retraction, restoring, _ = history("stroom.client.assessed.v1", SOURCE)
    loaded = [example("stroom.benefit.started.v1", SOURCE), assessed, retraction]
    raw = [*loaded, restoring]
    bootstrap, topic = broker.bootstrap_servers, settings.events_topic
    await publish(bootstrap, topic, raw, loaded, validator)
    fold_strays = run.fold_strays

    async def arriving_while_folding(*args: Any) -> None:
        # The load has read up to the ends it took; the swap takes its own after the fold.
        await publish(bootstrap, topic, raw, [restoring], validator)
        await fold_strays(*args)

    monkeypatch.setattr(run, "fold_strays", arriving_while_folding)
    engine = make_engine(settings.caseload_database_url)
    try:
        await run.rebuild(settings)
        monkeypatch.undo()
        records = await read_all(bootstrap, settings.facts_topic)
        record = f"{SOURCE}|{assessed['id']}"
        assert latest_facts(records)[record]["retracted_at"] is None
        await assert_facts_match_database(engine, records)
        caught_up = await every_row(engine)

        await run.rebuild(settings)
        from_scratch = await read_all(bootstrap, settings.facts_topic)
        assert await every_row(engine) == caught_up
        await assert_facts_match_database(engine, from_scratch)
        assert without_revisions(latest_facts(from_scratch)) == without_revisions(latest_facts(records))
    finally:
        await engine.dispose()


async def test_a_rebuild_that_fails_before_its_swap_says_so_and_leaves_the_tables_in_use(
    broker: EmbeddedBroker,
    settings: CaseloadSettings,
    validator: EventValidator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings.model_copy(update={"rebuild_workers": 2})
    assessed, retraction, restoring, _ = history("stroom.client.assessed.v1", SOURCE)
    raw = [example("stroom.benefit.started.v1", SOURCE), assessed, retraction]
    await publish(broker.bootstrap_servers, settings.events_topic, raw, raw, validator)
    engine = make_engine(settings.caseload_database_url)
    try:
        await run.rebuild(settings)
        in_use = await every_row(engine)
        await publish(
            broker.bootstrap_servers, settings.events_topic, [*raw, restoring], [restoring], validator
        )

        async def failing(*args: Any) -> None:
            raise RuntimeError("stroomstoring")

        # Beside the workers' fold, which it calls off.
        monkeypatch.setattr(run, "fold_strays", failing)
        with pytest.raises(
            run.RebuildFailed, match=r"stroomstoring.*niet gewijzigd: start de herbouw opnieuw"
        ):
            await run.rebuild(settings)
        assert await every_row(engine) == in_use
        monkeypatch.undo()
        await run.rebuild(settings)
        assert await every_row(engine) != in_use
    finally:
        await engine.dispose()
