"""Counting torch operations for the cost claim K5 (docs/theory.md §3, ``thm:inference_linear``).

:func:`count_operations` runs code under a ``TorchDispatchMode`` that sees every aten op:
matrix products count ``2·M·N·K`` (``addmm`` adds its ``M·N`` additions), floating
elementwise ``mul``/``div``/``add`` count their output size (``addcmul`` twice it; boolean
ones are finiteness checks), and the largest output of *any* op is recorded (to show that
no ``n × m`` tensor exists).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["MATRIX_PRODUCTS", "OperationCounts", "count_operations"]

_MATMUL = {torch.ops.aten.mm.default, torch.ops.aten.mm.out}
#: ``C + A·B``: the product as ``2·M·N·K`` and the addition by the output size.
_ADDMM = {torch.ops.aten.addmm.default, torch.ops.aten.addmm_.default,
          torch.ops.aten.addmm.out}
#: Every matrix-product op the kernel issues (the benchmark replays these alone).
MATRIX_PRODUCTS = frozenset(_MATMUL | _ADDMM)
_ELEMENTWISE = {"mul", "div", "add"}
#: ``C + A ⊙ B``: two operations per output entry.
_FUSED_MULTIPLY_ADD = {"addcmul", "addcmul_"}


@dataclass
class OperationCounts:
    """Running totals: ``operations`` (counted arithmetic) and ``largest`` (elements)."""

    operations: int = 0
    largest: int = 0


class _Counter(TorchDispatchMode):
    def __init__(self, counts: OperationCounts):
        super().__init__()
        self.counts = counts

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if func in _MATMUL:
            a, b = args[0], args[1]
            self.counts.operations += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        elif func in _ADDMM:
            a, b = args[1], args[2]
            self.counts.operations += (2 * a.shape[0] * a.shape[1] * b.shape[1]
                                       + a.shape[0] * b.shape[1])
        elif (func._overloadpacket.__name__ in _ELEMENTWISE and isinstance(out, torch.Tensor)
              and out.is_floating_point()):           # boolean products are finiteness checks
            self.counts.operations += out.numel()
        elif func._overloadpacket.__name__ in _FUSED_MULTIPLY_ADD:
            self.counts.operations += 2 * out.numel()
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.counts.largest = max(self.counts.largest, t.numel())
        return out


@contextmanager
def count_operations() -> Iterator[OperationCounts]:
    """Context manager yielding the :class:`OperationCounts` filled while it is active."""
    counts = OperationCounts()
    with _Counter(counts):
        yield counts
