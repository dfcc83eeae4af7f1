"""Constructions of docs/theory.md §2: one frozen τ, prompts that tune it, contextual maps.

- :mod:`.sizes`: sizes of the universal construction, planned before building (claim U).
- :mod:`.universal`: the frozen τ (route B) and the prompt ``P(f)`` (claim U).
- :mod:`.evaluate`: exact rational evaluation of the same weights; float64 guard.
- :mod:`.contextual`: softmax contextual mapping over a finite vocabulary (claim CM).
"""

from .evaluate import Float64Untrusted, compile_exact, exact_forward, rational_matrix
from .sizes import FORMS, LIMITS, UniversalSizes, plan_universal, sizes_table
from .universal import (
    Prompt,
    UniversalTransformer,
    build_prompt,
    build_universal,
    cell_centre,
    cell_index,
    code_value,
    quantised_levels,
)

__all__ = [
    "FORMS",
    "LIMITS",
    "Float64Untrusted",
    "Prompt",
    "UniversalSizes",
    "UniversalTransformer",
    "build_prompt",
    "build_universal",
    "cell_centre",
    "cell_index",
    "code_value",
    "compile_exact",
    "exact_forward",
    "plan_universal",
    "quantised_levels",
    "rational_matrix",
    "sizes_table",
]
