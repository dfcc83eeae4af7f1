"""ptlimits verify: oracles, comparisons, certificates, and the runners built on them.

Layering: the leaf modules ``tolerances``, ``compare``, ``oracles`` (and ``certify``) import
only ``core`` and the Claim record, so claims in ``properties`` may use them; the runners
(``audit``, ``cli``, ``bench``) import ``properties``. This facade re-exports the leaves only.
"""

from .compare import Comparison, compare_arrays
from .oracles import PRECISIONS, OracleValue, attention_oracle, converged, model_oracle
from .tolerances import DTYPE_TOLERANCES, Tol, tolerance_for

__all__ = [
    "DTYPE_TOLERANCES",
    "PRECISIONS",
    "Comparison",
    "OracleValue",
    "Tol",
    "attention_oracle",
    "compare_arrays",
    "converged",
    "model_oracle",
    "tolerance_for",
]
