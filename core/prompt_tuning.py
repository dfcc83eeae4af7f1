"""Prompt tuning of the one-layer model, with exact or polynomial-method attention.

Paper labels ``thm:inference_linear`` (the kernel) and ``thm:PT_memo`` (what training
tries to reach); docs/theory.md §1 (the model) and §3 (the kernel). Only the soft prompt ``P``
``(d, L_p)`` is trained; every weight of τ stays frozen.

Loss: mean squared error ``ℓ(P) = mean_{i,a,j} (τ_P(X_i)_{aj} − Y_i,{aj})²`` over ``N``
samples ``X`` ``(N, d, L)`` with targets ``Y`` ``(N, d, m)``; ``m = L`` (the readout) or
``m = n = L_p + L`` with ``full=True`` (every position, as in the first layer of a deeper
stack). Optimiser: ``"adam"`` (``torch.optim.Adam``, default betas) or ``"gd"`` (plain
full-batch gradient descent, ``torch.optim.SGD`` without momentum).

Attention in the forward **and** backward pass is either exact (:mod:`core.attention`,
query-chunked; with autograd each chunk is recomputed in the backward pass by
``torch.utils.checkpoint`` so memory stays ``O(n·chunk)``) or the polynomial-method kernel
(:mod:`core.kernels`, with a certified :class:`~core.kernels.plan.KernelPlan`; autograd runs
through its feature maps).

Regime policy. Training moves ``P`` and with it ``B = max(‖Q‖_max, ‖K‖_max)``. Before every
kernel step ``B`` is measured over all samples; if it exceeds ``plan.B`` the step is never
silently approximate: ``out_of_regime="raise"`` (default) raises :class:`InvalidArgument`
naming the step, ``"replan"`` certifies a new plan for ``B·replan_margin`` (with
:func:`core.kernels.certify.certify_polynomial` unless another certifier is given) and
``"exact"`` runs that step with exact attention; both record a :class:`RegimeEvent` in the
result. The kernel itself also refuses an out-of-regime input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

from .attention import DEFAULT_QUERY_CHUNK, exact_attention
from .errors import InvalidArgument
from .kernels.certify import certify_polynomial
from .kernels.fast_attention import (
    DEFAULT_CHUNK,
    measured_norm,
    polynomial_attention_with_info,
)
from .kernels.peers import sdpa_attention
from .kernels.plan import Certifier, KernelPlan, plan_kernel
from .kernels.regime import KernelRegime
from .model import AttentionInputs, PromptTunedTransformer
from .validation import check_finite_tensor, check_int, check_real, short_repr

__all__ = [
    "EXACT_METHODS",
    "OPTIMIZERS",
    "OUT_OF_REGIME_POLICIES",
    "RegimeEvent",
    "StepRecord",
    "TrainingResult",
    "check_training_data",
    "checkpointed_exact_attention",
    "prompt_gradient",
    "prompt_loss",
    "prompt_outputs",
    "train_prompt",
]

PAPER_REF = "thm:inference_linear"

OPTIMIZERS: tuple[str, ...] = ("adam", "gd")
EXACT_METHODS: tuple[str, ...] = ("reference", "sdpa")
OUT_OF_REGIME_POLICIES: tuple[str, ...] = ("raise", "replan", "exact")


@dataclass(frozen=True)
class StepRecord:
    """One evaluation of the loss at the current prompt (before that step's update).

    Attributes:
        step: 0-based; the last record is at the returned prompt (no update after it).
        loss: mean squared error; max_abs_error: ``max |τ_P(X) − Y|``.
        measured_B: ``max(‖Q‖_max, ‖K‖_max)`` over all samples.
        method: ``"exact"`` or ``"polynomial"``; plan_B: the plan's ``B`` (``None`` exact).
        seconds: wall time of forward + backward + optimiser step (forward only for the
            last record).
    """

    step: int
    loss: float
    max_abs_error: float
    measured_B: float
    method: str
    plan_B: float | None
    seconds: float


@dataclass(frozen=True)
class RegimeEvent:
    """``B`` left the plan's regime at ``step``; ``action`` is ``"replanned"`` or ``"exact"``."""

    step: int
    measured_B: float
    plan_B: float
    action: str
    new_B: float | None = None
    degree: int | None = None
    rank: int | None = None


@dataclass(frozen=True)
class TrainingResult:
    """The trained prompt ``P`` ``(d, L_p)`` (detached), history, regime events, last plan."""

    P: torch.Tensor
    history: tuple[StepRecord, ...]
    events: tuple[RegimeEvent, ...]
    plan: KernelPlan | None
    optimizer: str
    lr: float

    @property
    def final_loss(self) -> float:
        return self.history[-1].loss

    @property
    def final_max_error(self) -> float:
        return self.history[-1].max_abs_error


# --- validation -----------------------------------------------------------------------------


def check_training_data(model: object, X: object, Y: object, P: object, *, full: bool = False
                        ) -> tuple[PromptTunedTransformer, torch.Tensor, torch.Tensor,
                                   torch.Tensor]:
    """Validate ``model``, ``X`` ``(N, d, L)``, ``Y`` ``(N, d, m)`` and ``P`` ``(d, L_p)``.

    Raises:
        InvalidArgument: wrong types, dtypes, shapes (named, with the expected shape).
        NonFiniteError: NaN/inf in ``X``, ``Y`` or ``P``.
    """
    if not isinstance(model, PromptTunedTransformer):
        raise InvalidArgument(f"model={short_repr(model)}: expected a PromptTunedTransformer")
    d = model.d
    for name, t in (("X", X), ("Y", Y), ("P", P)):
        if not isinstance(t, torch.Tensor):
            raise InvalidArgument(f"{name}={short_repr(t)}: expected a torch.Tensor")
        if t.dtype != model.dtype:
            raise InvalidArgument(f"{name}={short_repr(t)}: dtype must be the model's "
                                  f"{model.dtype}")
    assert isinstance(X, torch.Tensor) and isinstance(Y, torch.Tensor)
    assert isinstance(P, torch.Tensor)
    if P.ndim != 2 or P.shape[0] != d:
        raise InvalidArgument(f"P={short_repr(P)}: expected shape (d={d}, L_p)")
    if X.ndim != 3 or X.shape[1] != d or X.shape[0] < 1 or X.shape[2] < 1:
        raise InvalidArgument(f"X={short_repr(X)}: expected shape (N >= 1, d={d}, L >= 1)")
    m = P.shape[1] + X.shape[2] if full else X.shape[2]
    if tuple(Y.shape) != (X.shape[0], d, m):
        raise InvalidArgument(f"Y has shape {tuple(Y.shape)}: expected (N={X.shape[0]}, "
                              f"d={d}, m={m}) ({'all n columns' if full else 'the readout'})")
    for name, t in (("X", X), ("Y", Y), ("P", P)):
        check_finite_tensor(name, t.detach())
    return model, X, Y, P


def _check_plan(model: PromptTunedTransformer, plan: object) -> KernelPlan | None:
    if plan is None:
        return None
    if not isinstance(plan, KernelPlan):
        raise InvalidArgument(f"plan={short_repr(plan)}: expected a KernelPlan or None (exact)")
    if plan.s != model.weights.s or plan.beta != model.beta:
        raise InvalidArgument(f"plan (s={plan.s}, beta={plan.beta!r}) does not match the "
                              f"model (s={model.weights.s}, beta={model.beta!r})")
    return plan


# --- forward ----------------------------------------------------------------------------------


def checkpointed_exact_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                                 beta: float, *, query_chunk: int = DEFAULT_QUERY_CHUNK,
                                 method: str = "reference") -> torch.Tensor:
    """Exact attention ``(d_v, m)`` in query chunks; with autograd recording, each chunk is
    recomputed in the backward pass (``torch.utils.checkpoint``), so neither pass holds more
    than one ``n × query_chunk`` score block. Shapes as :func:`core.attention.exact_attention`.

    ``method``: ``"reference"`` (:func:`core.attention.exact_attention`) or ``"sdpa"``
    (:func:`core.kernels.peers.sdpa_attention`, torch's fused exact attention; faster).
    """
    query_chunk = check_int("query_chunk", query_chunk, minimum=1)
    if method not in EXACT_METHODS:
        raise InvalidArgument(f"method={method!r}: expected one of {EXACT_METHODS}")
    fn = exact_attention if method == "reference" else sdpa_attention
    recording = torch.is_grad_enabled() and any(t.requires_grad for t in (Q, K, V))
    if not recording or Q.shape[1] <= query_chunk:
        return fn(Q, K, V, beta, query_chunk=query_chunk)
    blocks = [checkpoint(fn, Q[:, j:j + query_chunk], K, V, beta, use_reentrant=False)
              for j in range(0, Q.shape[1], query_chunk)]
    return torch.cat(blocks, dim=1)


def _inputs(model: PromptTunedTransformer, X: torch.Tensor, P: torch.Tensor,
            full: bool) -> list[AttentionInputs]:
    return [model.attention_inputs(X[i], P, full=full) for i in range(X.shape[0])]


def prompt_outputs(model: PromptTunedTransformer, X: torch.Tensor, P: torch.Tensor, *,
                   plan: KernelPlan | None = None, full: bool = False,
                   query_chunk: int = DEFAULT_QUERY_CHUNK, kernel_chunk: int = DEFAULT_CHUNK,
                   exact_method: str = "reference") -> tuple[torch.Tensor, float, str]:
    """``τ_P(X_i)`` for every sample, ``(N, d, m)``, differentiable in ``P``.

    With a ``plan`` the kernel computes attention (it raises if ``B`` exceeds ``plan.B``);
    without, exact attention does (batched through the model when ``n <= query_chunk``,
    else chunked and checkpointed per sample by :func:`checkpointed_exact_attention` with
    ``exact_method``).

    Returns:
        ``(outputs, measured_B, method)``.
    """
    if exact_method not in EXACT_METHODS:         # checked even where n fits one block
        raise InvalidArgument(
            f"exact_method={exact_method!r}: expected one of {EXACT_METHODS}")
    n = P.shape[1] + X.shape[2]
    if plan is None and n <= query_chunk:
        with torch.no_grad():                      # B of the batch, as the kernel measures it
            B = max(measured_norm(i.Q, i.K) for i in _inputs(model, X, P, full))
        return model(X, P, full=full), B, "exact"
    inputs = _inputs(model, X, P, full)
    return _outputs_from_inputs(model, inputs, plan, query_chunk=query_chunk,
                                kernel_chunk=kernel_chunk, exact_method=exact_method)


def _outputs_from_inputs(model: PromptTunedTransformer, inputs: list[AttentionInputs],
                         plan: KernelPlan | None, *, query_chunk: int, kernel_chunk: int,
                         exact_method: str) -> tuple[torch.Tensor, float, str]:
    """Attention and FF_post on already computed per-sample inputs (see prompt_outputs)."""
    B = max(measured_norm(i.Q, i.K) for i in inputs)
    outs = []
    for inp in inputs:
        if plan is None:
            att = checkpointed_exact_attention(inp.Q, inp.K, inp.V, model.beta,
                                               query_chunk=query_chunk, method=exact_method)
        else:
            att = polynomial_attention_with_info(inp.Q, inp.K, inp.V, plan,
                                                 chunk=kernel_chunk)[0]
        outs.append(model.ff_post(inp.queries + att))
    return torch.stack(outs), B, "exact" if plan is None else "polynomial"


def prompt_loss(model: PromptTunedTransformer, X: torch.Tensor, Y: torch.Tensor,
                P: torch.Tensor, *, plan: KernelPlan | None = None, full: bool = False,
                **options: Any) -> torch.Tensor:
    """Mean squared error of ``τ_P(X)`` against ``Y`` (a 0-d tensor, differentiable in ``P``)."""
    model, X, Y, P = check_training_data(model, X, Y, P, full=full)
    plan = _check_plan(model, plan)
    out = prompt_outputs(model, X, P, plan=plan, full=full, **options)[0]
    return ((out - Y) ** 2).mean()


# --- training -------------------------------------------------------------------------------


def _regime_step(model: PromptTunedTransformer, B: float, plan: KernelPlan, step: int,
                 policy: str, certifier: Certifier | None, margin: float
                 ) -> tuple[KernelPlan | None, RegimeEvent | None]:
    """The plan to use at ``step`` (``None``: exact) for the measured ``B``, applying the
    out-of-regime policy."""
    if B <= plan.B:
        return plan, None
    what = (f"step {step}: the prompt drove B={B!r} above the plan's B={plan.B!r} "
            f"(R = β·s·B² = {KernelRegime(s=plan.s, beta=model.beta, B=B).radius!r} > "
            f"{plan.radius!r})")
    if policy == "raise":
        raise InvalidArgument(what + "; pass out_of_regime='replan' (with a certifier) or "
                              "'exact', or start from a plan with a larger B")
    if policy == "exact":
        return None, RegimeEvent(step=step, measured_B=B, plan_B=plan.B, action="exact")
    assert certifier is not None
    try:
        new = plan_kernel(s=plan.s, B=B * margin, beta=plan.beta, eps=plan.eps,
                          certifier=certifier, method=plan.method)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{what}; re-planning failed: {exc}") from None
    return new, RegimeEvent(step=step, measured_B=B, plan_B=plan.B, action="replanned",
                            new_B=new.B, degree=new.degree, rank=new.rank)


def _check_options(steps: object, lr: object, optimizer: object, out_of_regime: object,
                   certifier: object, replan_margin: object, target_error: object
                   ) -> tuple[int, float, float, float | None]:
    n_steps = check_int("steps", steps, minimum=0)
    rate = check_real("lr", lr, low=0.0, low_open=True)
    if optimizer not in OPTIMIZERS:
        raise InvalidArgument(f"optimizer={optimizer!r}: expected one of {OPTIMIZERS}")
    if out_of_regime not in OUT_OF_REGIME_POLICIES:
        raise InvalidArgument(f"out_of_regime={out_of_regime!r}: expected one of "
                              f"{OUT_OF_REGIME_POLICIES}")
    if out_of_regime == "replan" and not callable(certifier):
        raise InvalidArgument(f"certifier={short_repr(certifier)}: out_of_regime='replan' "
                              "needs a certifier (core.kernels.certify_polynomial)")
    margin = check_real("replan_margin", replan_margin, low=1.0)
    target = None if target_error is None else check_real("target_error", target_error,
                                                          low=0.0)
    return n_steps, rate, margin, target


def train_prompt(model: PromptTunedTransformer, X: torch.Tensor, Y: torch.Tensor,
                 P0: torch.Tensor, *, steps: int, lr: float, optimizer: str = "adam",
                 plan: KernelPlan | None = None, full: bool = False,
                 out_of_regime: str = "raise",
                 certifier: Certifier | None = certify_polynomial,
                 replan_margin: float = 1.25, target_error: float | None = None,
                 query_chunk: int = DEFAULT_QUERY_CHUNK,
                 kernel_chunk: int = DEFAULT_CHUNK) -> TrainingResult:
    """Tune the soft prompt by ``steps`` optimiser steps on the mean-squared-error loss.

    Args:
        model: the frozen τ; X ``(N, d, L)``; Y ``(N, d, m)``; P0 ``(d, L_p)`` (copied).
        steps: optimiser steps (``>= 0``); lr: learning rate ``> 0``.
        optimizer: ``"adam"`` or ``"gd"`` (see the module docstring).
        plan: certified kernel plan, or ``None`` for exact attention.
        full: loss over all ``n`` columns (needs ``Y`` of width ``n``).
        out_of_regime: ``"raise"``, ``"replan"`` or ``"exact"`` (module docstring).
        certifier: certifies the new plans of ``"replan"``.
        replan_margin: the new plan covers ``B·replan_margin`` (``>= 1``).
        target_error: stop once ``max |τ_P(X) − Y| <= target_error``.
        query_chunk, kernel_chunk: chunk sizes of the exact and the fast attention.

    Returns:
        a :class:`TrainingResult`; its last history record is at the returned prompt.
    """
    model, X, Y, P0 = check_training_data(model, X, Y, P0, full=full)
    plan = _check_plan(model, plan)
    n_steps, rate, margin, target = _check_options(steps, lr, optimizer, out_of_regime,
                                                   certifier, replan_margin, target_error)
    P = P0.detach().clone().requires_grad_(True)
    opt: torch.optim.Optimizer = (torch.optim.Adam([P], lr=rate) if optimizer == "adam"
                                  else torch.optim.SGD([P], lr=rate))
    history: list[StepRecord] = []
    events: list[RegimeEvent] = []
    for step in range(n_steps + 1):
        start = time.perf_counter()
        use = plan
        if plan is None:
            out, B, method = prompt_outputs(model, X, P, full=full, query_chunk=query_chunk,
                                            kernel_chunk=kernel_chunk)
        else:                # one pass to the attention inputs: B decides the plan, then reuse
            inputs = _inputs(model, X, P, full)
            use, event = _regime_step(model, max(measured_norm(i.Q, i.K) for i in inputs),
                                      plan, step, out_of_regime, certifier, margin)
            if event is not None:
                events.append(event)
                plan = use if event.action == "replanned" else plan
            out, B, method = _outputs_from_inputs(model, inputs, use, query_chunk=query_chunk,
                                                  kernel_chunk=kernel_chunk,
                                                  exact_method="reference")
        loss = ((out - Y) ** 2).mean()
        err = float((out.detach() - Y).abs().max())
        last = step == n_steps or (target is not None and err <= target)
        if not last:
            opt.zero_grad()
            loss.backward()
            opt.step()
        history.append(StepRecord(step=step, loss=float(loss.detach()), max_abs_error=err,
                                  measured_B=B, method=method,
                                  plan_B=None if use is None else use.B,
                                  seconds=time.perf_counter() - start))
        if last:
            break
    return TrainingResult(P=P.detach().clone(), history=tuple(history), events=tuple(events),
                          plan=plan, optimizer=optimizer, lr=rate)


def prompt_gradient(model: PromptTunedTransformer, X: torch.Tensor, Y: torch.Tensor,
                    P: torch.Tensor, *, plan: KernelPlan | None = None, full: bool = False,
                    **options: Any) -> torch.Tensor:
    """``∇_P ℓ`` ``(d, L_p)`` of :func:`prompt_loss` at ``P`` (exact or through the kernel)."""
    leaf = P.detach().clone().requires_grad_(True)
    loss = prompt_loss(model, X, Y, leaf, plan=plan, full=full, **options)
    (grad,) = torch.autograd.grad(loss, leaf)
    return grad
