"""The test suite's own helpers: NaN-rejecting metric checks, the free port, pinned threads,
derandomized property tests."""

from __future__ import annotations

import math
import os
import socket

import pytest

from conftest import TEST_THREADS, free_port
from metric_checks import assert_finite, assert_finite_metrics


def test_finite_metrics_pass_and_are_returned():
    record = {"metrics": {"fid": 1.5, "n_samples": 32, "identical_to_fp": 0, "resize": "none",
                          "exact": True, "fid_ci95": {"low": 1.0, "high": 2.0}}}
    assert assert_finite_metrics(record, required=("fid",)) == {
        "fid": 1.5, "n_samples": 32, "identical_to_fp": 0, "fid_ci95.low": 1.0, "fid_ci95.high": 2.0}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_metrics_fail_even_where_a_comparison_would_not(bad):
    record = {"metrics": {"fid": 1.0, "qfid": bad}}
    with pytest.raises(AssertionError, match="qfid"):
        assert_finite_metrics(record)
    with pytest.raises(AssertionError, match="not finite"):
        assert_finite(bad, "qfid")


def test_required_metric_must_be_present_and_a_number():
    with pytest.raises(AssertionError, match="missing"):
        assert_finite_metrics({"metrics": {"fid": 1.0}}, required=("kid",))
    with pytest.raises(AssertionError, match="not a number"):
        assert_finite_metrics({"fid": "1.0"}, required=("fid",))


def test_free_port_can_be_bound():
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))


def test_threads_are_pinned():
    import torch

    assert torch.get_num_threads() == TEST_THREADS
    assert os.environ["OMP_NUM_THREADS"] == str(TEST_THREADS)


def test_property_tests_are_derandomized():
    from hypothesis import settings

    if os.environ.get("GENQ_HYPOTHESIS_PROFILE", "ci") == "ci":
        assert settings.default.derandomize and settings.default.database is None
