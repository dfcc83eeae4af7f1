"""Test configuration: load the ptlimits Hypothesis profile before any test runs.

``HYPOTHESIS_PROFILE`` selects it; otherwise ``ci`` when ``CI`` is set (our own profile,
registered under the name Hypothesis would otherwise fill with its built-in one), else
``dev``.
"""

import functools
import gc
import os
import sys

from properties.profiles import load_profile

ACTIVE_PROFILE = load_profile()


def pytest_sessionstart(session: object) -> None:
    """Under mutation testing, forget what the unmutated code cached.

    mutmut forks one child per mutant from a parent that has already run the tests, so every
    ``lru_cache`` (certified plans, certificates, built constructions) still holds results
    computed by the *original* code, and a mutant behind a cache would look like a survivor.
    The child sets ``MUTANT_UNDER_TEST`` to the mutant's name (``...__mutmut_N``).
    Module-level dict caches named ``_CACHE`` (the exact evaluator's compiled programs) are
    cleared the same way.
    """
    if "__mutmut_" in os.environ.get("MUTANT_UNDER_TEST", ""):
        _clear_caches()


def pytest_runtest_setup(item: object) -> None:
    """While mutmut records which tests reach which function (``MUTANT_UNDER_TEST=stats``),
    every test starts with empty caches: otherwise a cached result hides the functions
    behind it from every test but the first, and mutmut never runs the others against
    their mutants."""
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        _clear_caches()


def _clear_caches() -> None:
    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper):
            obj.cache_clear()
    for name, module in list(sys.modules.items()):
        cache = getattr(module, "_CACHE", None) if name.startswith("core.") else None
        if isinstance(cache, dict):
            cache.clear()
