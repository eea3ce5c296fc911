"""bench/bench_ews.py's scenario at a small size, so the benchmark's own checks stay true: a
folder's events reach an empty public folder through exchangelib, a no-change poll writes
nothing, and changes made in Outlook and in the folder both reach the other side."""

from __future__ import annotations

from bench.bench_ews import one_rep


def test_the_ews_benchmark_scenario_converges_on_sqlite():
    result = one_rep("sqlite", 30, seed=1)
    assert result["creates"] >= 1  # the 30 events went out in CreateItem batches
    assert result["poll_requests"] >= 1
