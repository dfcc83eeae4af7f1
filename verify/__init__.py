"""ptlimits verify: oracles, comparisons, certificates, and the runners built on them.

Layering: the leaf modules ``tolerances``, ``compare``, ``oracles`` (and ``certify``) import
only ``core`` and the Claim record, so claims in ``properties`` may use them; the runners
(``audit``, ``cli``, ``bench``, ``regress``) import ``properties``. This facade re-exports the
leaves lazily (PEP 562), so ``python -m verify --help`` starts without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Comparison": "compare", "compare_arrays": "compare",
    "PRECISIONS": "oracles", "OracleValue": "oracles", "attention_oracle": "oracles",
    "converged": "oracles", "model_oracle": "oracles",
    "DTYPE_TOLERANCES": "tolerances", "Tol": "tolerances", "tolerance_for": "tolerances",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'verify' has no attribute {name!r}")
