"""A user's own test file for their attention kernel, as docs/bring-your-own.md shows it.

It imports only the public strategy and assertion helpers of the installed package
(``properties.attention_check``), draws in-regime inputs with Hypothesis, and asserts that
a correct implementation passes: within the error the polynomial kernel certifies for the
same inputs, or within the implementation's own claimed error.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings

from properties.attention_check import (
    assert_attention_close,
    assert_case_close,
    attention_cases,
)


def my_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float
                 ) -> torch.Tensor:
    """The user's implementation: plain softmax attention in float64."""
    return torch.softmax(beta * Q @ K.T, dim=-1) @ V


def my_float32_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float
                         ) -> torch.Tensor:
    """The same in float32 arithmetic."""
    return my_attention(Q.float(), K.float(), V.float(), beta).double()


@settings(max_examples=12, deadline=None)
@given(attention_cases(B=0.5, s=4, max_n=9))
def test_my_attention_is_within_the_certified_bound(case) -> None:
    assert_case_close(my_attention, case)


@settings(max_examples=6, deadline=None)
@given(attention_cases(B=1.0, s=2, beta=0.25, max_n=6, kinds=("extremal", "dominant_key")))
def test_my_float32_attention_meets_my_claim(case) -> None:
    # the user claims float32-level accuracy: 64 unit roundoffs of float32, relative to ‖V‖
    assert_case_close(my_float32_attention, case, claimed_error=64 * 2.0**-24)


def test_my_attention_on_my_own_tensors() -> None:
    Q = torch.tensor([[0.5, -0.5], [0.25, 0.0], [-0.5, 0.5]], dtype=torch.float64)
    K = torch.tensor([[0.5, 0.5], [-0.5, 0.25]], dtype=torch.float64)
    V = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    result = assert_attention_close(my_attention, Q, K, V, beta=1.0)
    assert result.error < 1e-15 and result.certified_bound is not None
