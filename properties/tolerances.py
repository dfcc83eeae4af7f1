"""Tolerances are data (docs/design.md): one ``Tol`` per dtype, overrides carry a reason.

The defaults are ``torch.testing.assert_close``'s table, itself derived from each dtype's
machine epsilon (float32 ``eps = 1.19e-7``, float64 ``eps = 2.22e-16``). No claim uses
this table: a claim's float comparisons allow the rounding-error bound computed for its
instance (:mod:`core.rounding`, docs/theory.md §6), which is tighter where the arithmetic
is short and never too tight where it is long. The table remains for unit tests that need
a generic tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import InvalidArgument

__all__ = ["DTYPE_TOLERANCES", "Tol", "tolerance_for"]


@dataclass(frozen=True)
class Tol:
    """Norm-wise tolerance: ``‖actual − expected‖_max <= atol + rtol·‖expected‖_max``.

    ``source`` says where the numbers come from, for reports.
    """

    atol: float
    rtol: float
    source: str

    def bound(self, scale: float) -> float:
        """The allowed max-norm error for a reference of max-norm ``scale``."""
        return self.atol + self.rtol * abs(scale)


#: torch.testing.assert_close defaults (float32: rtol 1.3e-6, atol 1e-5; float64: 1e-7).
DTYPE_TOLERANCES: dict[torch.dtype, Tol] = {
    torch.float32: Tol(atol=1e-5, rtol=1.3e-6,
                       source="torch.testing.assert_close default for float32"),
    torch.float64: Tol(atol=1e-7, rtol=1e-7,
                       source="torch.testing.assert_close default for float64"),
}


def tolerance_for(dtype: torch.dtype) -> Tol:
    """The default :class:`Tol` of ``dtype`` (float32 or float64)."""
    try:
        return DTYPE_TOLERANCES[dtype]
    except KeyError:
        raise InvalidArgument(
            f"dtype={dtype!r}: no tolerance table entry; expected float32 or float64") from None
