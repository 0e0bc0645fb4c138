"""tmspio.clock: the board-clock -> host-clock fit and its stated uncertainty, exactly."""

import pytest
from tmspio.clock import MAX_RTT_NS, ClockSync, Exchange


def test_no_exchange_no_mapping():
    c = ClockSync()
    assert (c.host_ns(5), c.board_us(5), c.estimate()) == (None, None, None)


def test_one_exchange_maps_at_the_nominal_rate_with_half_its_round_trip():
    c = ClockSync()
    assert c.add((1_000_000, 500, 1_400_000))  # board read 500 us somewhere in 1.0..1.4 ms
    assert c.host_ns(500) == (1_200_000, 200_000)
    assert c.host_ns(1500) == (2_200_000, 200_000)  # 1000 ns per board us
    assert c.board_us(2_200_000) == 1500


def test_a_drifting_board_is_fitted_and_the_residual_counts():
    c = ClockSync()
    # host = 10 ms + 1.0001 * board (100 ppm fast host), round trips 100 us, exact midpoints
    for k in range(10):
        board = k * 1_000_000
        mid = 10_000_000 + 1.0001 * board * 1000
        c.add((int(mid - 50_000), board, int(mid + 50_000)))
    est = c.estimate()
    assert est.drift_ppm == pytest.approx(100, abs=1e-6)
    host, unc = c.host_ns(20_000_000)
    assert host == pytest.approx(10_000_000 + 1.0001 * 20_000_000_000, abs=1)
    assert unc == pytest.approx(50_000, abs=1)
    # one exchange whose reply was late by 1 ms (midpoint off by 0.5 ms) widens the bound
    c.add(
        (
            10_000_000 + int(1.0001 * 10_000_000_000) - 50_000,
            10_000_000,
            10_000_000 + int(1.0001 * 10_000_000_000) + 1_050_000,
        )
    )
    assert c.estimate().uncertainty_ns > 550_000


def test_slow_round_trips_are_rejected_and_counted():
    c = ClockSync()
    assert not c.add((0, 1, MAX_RTT_NS + 1))
    assert not c.add((10, 1, 5))  # negative: not a round trip
    assert c.add((0, 1, MAX_RTT_NS))
    assert c.summary() == {
        "exchanges_kept": 1,
        "exchanges_rejected": 2,
        "max_rtt_ns": MAX_RTT_NS,
        "min_rtt_ns": MAX_RTT_NS,
        "median_rtt_ns": MAX_RTT_NS,
        "fitted": 1,
        "drift_ppm": 0.0,
        "uncertainty_ns": MAX_RTT_NS // 2,
    }


def test_the_fastest_recent_exchanges_are_fitted():
    c = ClockSync()
    for k in range(40):
        rtt = 1_000_000 if k % 2 else 100_000
        c.add(Exchange(k * 1_000_000_000, k * 1_000_000, k * 1_000_000_000 + rtt))
    est = c.estimate()
    assert est.exchanges == 16
    # the 16 fastest of the last 32 are the 100 us ones: half of that, and no residual beyond
    # their own 50 us midpoint shift (all shifted alike)
    assert est.uncertainty_ns == pytest.approx(50_000, abs=1)
