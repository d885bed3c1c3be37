"""When the consumer restates the KPI cells behind the facts (consumer.KpiRestates)."""

from __future__ import annotations

from stroom_reporting.consumer import KpiRestates


def test_a_new_process_restates_what_the_one_before_left() -> None:
    restates = KpiRestates(seconds=5.0, batch_size=100)
    assert restates.overdue(0.0)
    assert restates.applied(100, 0.0)


def test_a_full_batch_waits_until_the_first_pending_is_old_enough() -> None:
    restates = KpiRestates(seconds=5.0, batch_size=100)
    restates.restated()
    assert not restates.overdue(1000.0)
    assert not restates.applied(100, 1000.0)
    assert not restates.applied(100, 1004.9)
    assert not restates.overdue(1004.9)
    # Timed from the first batch pending, not the last.
    assert restates.applied(100, 1005.0)
    assert restates.overdue(1005.0)
    restates.restated()
    assert not restates.overdue(2000.0)


def test_a_batch_less_than_full_has_caught_up_and_restates() -> None:
    restates = KpiRestates(seconds=5.0, batch_size=100)
    restates.restated()
    assert restates.applied(99, 10.0)


def test_the_queue_is_reclaimed_once_enough_was_restated_since_the_last_time() -> None:
    restates = KpiRestates(seconds=5.0, batch_size=100, reclaim_after=1000)
    assert not restates.restated(400)
    assert not restates.restated(599)
    assert restates.restated(1)
    # Counted anew from the reclaim.
    assert not restates.restated(999)
    assert restates.restated(5000)
    assert not restates.restated(0)


def test_a_backlog_restates_once_enough_facts_wait_however_fast_they_came() -> None:
    restates = KpiRestates(seconds=30.0, batch_size=100, facts=300)
    restates.restated()
    assert not restates.applied(100, 0.0)
    assert not restates.applied(100, 0.1)
    assert restates.applied(100, 0.2)
    # Counted anew from the restate.
    restates.restated()
    assert not restates.applied(100, 0.3)
    assert not restates.applied(100, 0.4)
    assert restates.applied(100, 0.5)
