"""The caseload bench's verdicts: freshness (a p99 is called sustained only when the group kept up) and
how much of the cores the rebuild kept busy."""

from __future__ import annotations

import os

import pytest

from bench.caseload import CpuSample, Freshness, cores_line, cpu_by_third, freshness_lines


def _steady(seconds: int = 10, per_second: int = 100) -> list[tuple[float, float]]:
    # Delays that wander between 40 and 139 ms in every second alike: a group that keeps up.
    return [
        (second + n / per_second, 0.040 + ((n * 37 + second * 11) % 100) / 1000)
        for second in range(seconds)
        for n in range(per_second)
    ]


def test_a_group_that_keeps_up_gets_its_quantiles_without_a_warning() -> None:
    lines = freshness_lines(Freshness(_steady(), 0, 5000.0), 5000)

    assert lines[0].startswith("  vertraging produceren -> feit: p50 ")
    assert "p50 90 ms, p99 139 ms" in lines[0]
    assert not any("NIET VOLGEHOUDEN" in line or "ondergrens" in line for line in lines)


def test_a_group_that_falls_behind_for_good_is_said_to_and_its_p99_called_a_lower_bound() -> None:
    # The queue grows all run long: every event waits longer than the ones sent before it.
    growing = [(sent / 100, 0.050 + sent / 100 * 0.08) for sent in range(1000)]

    lines = freshness_lines(Freshness(growing, 0, 5000.0), 5000)

    assert any("NIET VOLGEHOUDEN: de groep raakte achter" in line for line in lines)
    assert any("ondergrens" in line for line in lines)


def test_a_group_that_caught_up_a_little_near_the_end_but_not_to_its_best_is_still_behind() -> None:
    # As measured at load average 12: the medians by second rose from 5 s to 20 s and eased.
    medians = [5.4, 10.2, 12.3, 13.8, 14.4, 15.8, 18.0, 19.8, 19.0, 18.7, 17.9]
    delays = [(second + n / 10, median) for second, median in enumerate(medians) for n in range(10)]

    lines = freshness_lines(Freshness(delays, 0, 4521.0), 5000)

    assert any("NIET VOLGEHOUDEN: de groep raakte achter" in line for line in lines)


def test_a_group_behind_from_its_first_second_is_behind_though_its_delay_eases() -> None:
    # As measured at 1,500 events/s and load average 13.6: seconds behind from the start.
    medians = [3.1, 5.4, 5.6, 6.1, 6.5, 5.6, 5.1, 4.7, 4.4]
    delays = [(second + n / 10, median) for second, median in enumerate(medians) for n in range(10)]

    lines = freshness_lines(Freshness(delays, 0, 1476.0), 1500)

    assert any("NIET VOLGEHOUDEN: de groep raakte achter" in line for line in lines)


def test_a_burst_it_catches_up_from_is_no_verdict_of_falling_behind() -> None:
    burst = [(sent, delay + (0.5 if 3 <= sent < 5 else 0.0)) for sent, delay in _steady()]

    lines = freshness_lines(Freshness(burst, 0, 5000.0), 5000)

    assert not any("NIET VOLGEHOUDEN" in line for line in lines)


def test_entities_without_a_fact_make_the_quantiles_lower_bounds() -> None:
    lines = freshness_lines(Freshness(_steady(), 12, 5000.0), 5000)

    assert any(line.startswith("  NIET VOLGEHOUDEN: 12 van 1012 entiteiten zonder feit") for line in lines)
    assert any("ondergrenzen" in line for line in lines)


def test_a_load_generator_short_of_the_rate_says_so() -> None:
    lines = freshness_lines(Freshness(_steady(), 0, 3900.0), 5000)

    assert any("haalde 3,900 events/s, niet 5,000" in line for line in lines)


def test_no_fact_at_all_is_said_rather_than_a_quantile() -> None:
    assert freshness_lines(Freshness([], 40, 5000.0), 5000) == [
        "  geen feit aangekomen: geen vertraging te melden"
    ]


def test_a_slow_steady_rise_that_never_doubles_within_the_run_is_falling_behind() -> None:
    # As measured at 5,000 events/s: the medians by second drifted from 72 to 185 ms over 20 s;
    # here from 80 to 150 ms, with the last second no slower than twice the best.
    medians = [0.080 + 0.070 * second / 19 for second in range(20)]
    delays = [(second + n / 10, median) for second, median in enumerate(medians) for n in range(10)]

    lines = freshness_lines(Freshness(delays, 0, 5000.0), 5000)

    assert any("NIET VOLGEHOUDEN: de vertraging steeg gestaag" in line for line in lines)
    assert any("ondergrens" in line for line in lines)


def test_a_small_rise_within_the_noise_of_a_group_that_keeps_up_is_no_verdict() -> None:
    # 30 ms over the run: well under what a second of the per-batch spread moves.
    medians = [0.080 + 0.030 * second / 19 for second in range(20)]
    delays = [(second + n / 10, median) for second, median in enumerate(medians) for n in range(10)]

    lines = freshness_lines(Freshness(delays, 0, 5000.0), 5000)

    assert not any("NIET VOLGEHOUDEN" in line for line in lines)


def test_the_cpu_of_the_first_and_last_third_says_whose_cost_rose() -> None:
    # Workers steady at half a core; the broker from a tenth of a core to four tenths.
    samples = [CpuSample(t, 0.5 * t, 0.1 * t + 0.015 * t * t) for t in range(13)]

    lines = freshness_lines(Freshness(_steady(12), 0, 5000.0, samples), 5000)

    assert (
        "  CPU in het eerste en het laatste derde van de belasting, in cores:"
        " workers 0.50 en 0.50, broker 0.16 en 0.40"
    ) in lines


def test_too_few_cpu_samples_say_nothing_about_thirds() -> None:
    samples = [CpuSample(t, 0.5 * t, 0.1 * t) for t in range(3)]

    assert cpu_by_third(samples) is None
    assert not any(
        "derde van de belasting" in line
        for line in freshness_lines(Freshness(_steady(), 0, 5000.0, samples), 5000)
    )


def test_the_delay_is_split_into_its_legs_with_their_own_quantiles() -> None:
    delays = _steady()
    legs = {
        "wachten": [0.010] * len(delays),
        "worker": [0.030 + n % 100 / 1000 for n in range(len(delays))],
    }

    lines = freshness_lines(Freshness(delays, 0, 5000.0, legs=legs), 5000)

    assert "  waar de tijd zit (p50 / p99): wachten 10 / 10 ms, worker 80 / 129 ms" in lines


def test_the_cores_line_sets_all_the_rebuild_s_cpu_against_what_the_cores_offered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    built = {
        "steps": {"load": 10.0, "index": 1.0},
        "own_cpu_seconds": {"load": 0.5, "index": 0.1},
        "cpu_seconds": {"load": 15.0},
    }

    line = cores_line(built, {"start": 0.3, "load": 3.0, "index": 1.5}, {"load": 0.5, "index": 0.0})

    # load: (0.5 + 15 + 3 + 0.5) / 20; index: (0.1 + 1.5) / 2; left idle: 1 + 0.4 core-seconds.
    assert line == "  kernen bezet (2, alle CPU / (kernen x klok)): load 95%, index 80%; onbenut 1.4 kern-s"
