"""The Hypothesis profile in force is ptlimits's own, chosen from the environment."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import ReadOnlyDatabase

from core.errors import InvalidArgument
from properties.profiles import EXAMPLE_DB, PROFILE_NAMES, active_profile_name, load_profile


def test_selection_rules() -> None:
    assert active_profile_name({}) == "dev"
    assert active_profile_name({"CI": "true"}) == "ci"
    assert active_profile_name({"CI": "true", "HYPOTHESIS_PROFILE": "nightly"}) == "nightly"
    with pytest.raises(InvalidArgument, match="HYPOTHESIS_PROFILE='fast'"):
        active_profile_name({"HYPOTHESIS_PROFILE": "fast"})
    with pytest.raises(InvalidArgument, match="profile='fast'"):
        load_profile("fast")


def test_profile_in_force_is_ours() -> None:
    """Hypothesis's built-in ``ci`` profile lacks our health-check suppressions and runs
    100 examples; ours runs 20 and suppresses ``data_too_large``."""
    active = active_profile_name()
    assert active in PROFILE_NAMES
    current = settings.default
    ours = settings.get_profile(active)
    assert current.max_examples == ours.max_examples
    assert HealthCheck.data_too_large in current.suppress_health_check
    assert current.deadline is None
    if os.environ.get("CI") and not os.environ.get("HYPOTHESIS_PROFILE"):
        assert active == "ci"
        assert current.max_examples == 20
        if EXAMPLE_DB.is_dir():
            assert isinstance(current.database, ReadOnlyDatabase)
        else:
            assert current.derandomize and current.database is None
