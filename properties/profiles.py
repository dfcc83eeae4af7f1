"""Hypothesis profiles (docs/design.md: run budgets by profile, never by editing tests).

- ``dev``: the default on a workstation; random, 20 examples, with the example database.
- ``ci``: 20 examples, derandomised — or, where the example database exists, replaying it
  read-only (Hypothesis forbids both at once);
  registered under Hypothesis's own ``ci`` name so it replaces the built-in profile
  Hypothesis loads when ``CI`` is set.
- ``nightly``: 400 examples with every phase, including the targeted search that the test
  templates steer towards the largest ``error / bound`` with ``hypothesis.target``.

Counterexamples are pinned as claims' ``reference_points`` (the generic templates run them
on every tier), which is the registry's form of ``@example``.

Selection: ``HYPOTHESIS_PROFILE`` if set, else ``ci`` when ``CI`` is set, else ``dev``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    ExampleDatabase,
    ReadOnlyDatabase,
)

from core.errors import InvalidArgument

__all__ = ["PROFILE_NAMES", "active_profile_name", "load_profile"]

PROFILE_NAMES: tuple[str, ...] = ("dev", "ci", "nightly")


_COMMON = {
    "deadline": None,
    "suppress_health_check": (HealthCheck.too_slow, HealthCheck.data_too_large),
    "print_blob": True,
}

#: Repo-local example database (ignored by git): dev and nightly runs write the failures
#: they find here; CI only reads it, and only if it is present.
EXAMPLE_DB = Path(__file__).resolve().parent.parent / ".hypothesis" / "examples"


def _ci_settings() -> dict[str, Any]:
    """Derandomised with no database on a fresh clone; where a nightly run left failures in
    the example database, replay them read-only (Hypothesis forbids a database together
    with ``derandomize``)."""
    if EXAMPLE_DB.is_dir():
        db: ExampleDatabase = ReadOnlyDatabase(DirectoryBasedExampleDatabase(EXAMPLE_DB))
        return {"derandomize": False, "database": db}
    return {"derandomize": True, "database": None}


settings.register_profile("dev", max_examples=20,
                          database=DirectoryBasedExampleDatabase(EXAMPLE_DB),
                          **_COMMON)  # type: ignore[arg-type]
settings.register_profile("ci", max_examples=20, **_ci_settings(),
                          **_COMMON)  # type: ignore[arg-type]
settings.register_profile("nightly", max_examples=400,
                          database=DirectoryBasedExampleDatabase(EXAMPLE_DB),
                          phases=tuple(Phase), **_COMMON)  # type: ignore[arg-type]


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
