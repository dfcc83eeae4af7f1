"""Hypothesis profiles (DESIGN.md: run budgets by profile, never by editing tests).

- ``dev``: the default on a workstation; random, with the example database.
- ``ci``: derandomised, no database writes; registered under Hypothesis's own ``ci`` name so
  it replaces the built-in profile Hypothesis loads when ``CI`` is set.
- ``nightly``: many examples, for long regression runs.

Selection: ``HYPOTHESIS_PROFILE`` if set, else ``ci`` when ``CI`` is set, else ``dev``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from core.errors import InvalidArgument

__all__ = ["PROFILE_NAMES", "active_profile_name", "load_profile"]

PROFILE_NAMES: tuple[str, ...] = ("dev", "ci", "nightly")


_COMMON = {
    "deadline": None,
    "suppress_health_check": (HealthCheck.too_slow, HealthCheck.data_too_large),
    "print_blob": True,
}

settings.register_profile("dev", max_examples=20, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("ci", max_examples=20, derandomize=True, database=None,
                          **_COMMON)  # type: ignore[arg-type]
settings.register_profile("nightly", max_examples=400, **_COMMON)  # type: ignore[arg-type]


def active_profile_name(environ: dict[str, str] | None = None) -> str:
    """The profile ptlimits selects for this environment (see module docstring)."""
    env = os.environ if environ is None else environ
    name = env.get("HYPOTHESIS_PROFILE") or ("ci" if env.get("CI") else "dev")
    if name not in PROFILE_NAMES:
        raise InvalidArgument(
            f"HYPOTHESIS_PROFILE={name!r}: expected one of {PROFILE_NAMES}")
    return name


def load_profile(name: str | None = None) -> str:
    """Load and return the named (or environment-selected) profile."""
    chosen = active_profile_name() if name is None else name
    if chosen not in PROFILE_NAMES:
        raise InvalidArgument(f"profile={chosen!r}: expected one of {PROFILE_NAMES}")
    settings.load_profile(chosen)
    return chosen
