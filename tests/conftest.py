"""Test configuration: load the ptlimits Hypothesis profile before any test runs.

``HYPOTHESIS_PROFILE`` selects it; otherwise ``ci`` when ``CI`` is set (our own profile,
registered under the name Hypothesis would otherwise fill with its built-in one), else
``dev``.
"""

from properties.profiles import load_profile

ACTIVE_PROFILE = load_profile()
