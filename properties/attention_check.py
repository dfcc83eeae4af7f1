"""Bring-your-own attention kernel: K3-style checks of any ``fn(Q, K, V, beta) -> output``.

The user's convention is row-major, as in torch: ``Q`` ``(n, s)`` queries, ``K`` ``(m, s)``
keys, ``V`` ``(m, d_v)`` values, and ``fn`` returns ``(n, d_v)`` ≈ ``softmax(β Q Kᵀ) V``
row-wise. (Inside ptlimits tokens are columns; this module transposes at the boundary.)

What a check does, for one input (:func:`measure_attention`):

1. the exact output from the mpmath oracle at two precisions
   (:func:`core.oracles.attention_oracle`, 30 and 45 digits); if the two disagree the
   oracle, not ``fn``, is the problem and :class:`~core.errors.HarnessError` says so;
2. the error ``‖fn(Q, K, V, β) − Att‖_max / ‖V‖_max``;
3. the bound the polynomial-method kernel certifies for this input: the plan
   :func:`core.kernels.plan_for` builds for ``(s, β, B, δ_F)`` with ``B`` the input's own
   ``max(‖Q‖_max, ‖K‖_max)`` (or a larger ``B`` the caller gives), i.e. the plan the
   kernel would run these inputs with (arb-certified ``ε``, docs/theory.md §3, K1), through
   the error lemma ``2ε/(1+√(1−ε²))`` (docs/theory.md §3, K3) plus the kernel's float64
   rounding bound for ``m`` keys (:func:`core.kernels.fast_attention.rounding_allowance`),
   plus ``2^-24`` when the inputs are float32 (the kernel computes them in float64 and
   rounds its output once). Where float64 cannot resolve ``δ_F`` at ``R = β·s·B²``
   (``e^{2R}·u > ε/8``) there is no float64 plan, and the measurement says so;
4. the implementation's own claimed error, if given (same units: ``‖V‖_max``).

An input passes when its error is within the claimed error where one is given, else within
the certified bound (both plus the oracle's own slack). :func:`check_attention` runs every
input kind of :data:`ATTENTION_KINDS` and reports one row per kind; the Hypothesis strategy
:func:`attention_cases` draws the same cases for a user's own property tests, and
:func:`assert_attention_close` / :func:`assert_case_close` raise :class:`AssertionError`
(:class:`~core.errors.ClaimViolation`) with a failure table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from core.errors import ClaimViolation, HarnessError, InvalidArgument
from core.kernels import KernelRegime, plan_for
from core.kernels.fast_attention import measured_norm, rounding_allowance
from core.oracles import PRECISIONS, attention_oracle
from core.validation import check_int, check_matrix, check_real

from .strategies import seeds

__all__ = [
    "ATTENTION_KINDS",
    "DEFAULT_DELTA_F",
    "MAX_ORACLE_TERMS",
    "AttentionCase",
    "AttentionFn",
    "AttentionMeasurement",
    "AttentionReport",
    "CertifiedBound",
    "KindRow",
    "assert_attention_close",
    "assert_case_close",
    "attention_cases",
    "certified_bound",
    "check_attention",
    "draw_cases",
    "failure_table",
    "measure_attention",
    "measure_case",
]

PAPER_REF = "thm:inference_linear"

#: ``fn(Q (n, s), K (m, s), V (m, d_v), beta) -> (n, d_v)``.
AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], Any]

#: Input kinds, each a family of in-regime inputs (``‖Q‖_max, ‖K‖_max <= B``):
#:
#: - ``uniform``: entries uniform in ``[−B, B]``, ``V`` uniform in ``[−1, 1]``;
#: - ``signs``: every entry of ``Q`` and ``K`` exactly ``±B`` (scores on a grid up to ``±R``);
#: - ``equal_keys``: all keys one key, exactly or up to ``1e-12·B`` or ``1e-6·B``
#:   (near-degenerate: the softmax is uniform or almost);
#: - ``dominant_key``: queries ``≈ Bσ``, one key ``Bσ`` and the rest ``−Bσ``, ``V`` aligned
#:   with it (one key carries almost all weight, weight ratio ``e^{2R}``);
#: - ``extremal``: queries and keys ``±Bσ``, so every score is exactly ``±R = ±β·s·B²``,
#:   the radius the polynomial kernel is certified on, ``V = ±1`` with the score's sign
#:   (where the lemma's bound is approached);
#: - ``prime_lengths``: uniform entries with ``n`` and ``m`` prime (no multiple of a block).
ATTENTION_KINDS: tuple[str, ...] = ("uniform", "signs", "equal_keys", "dominant_key",
                                    "extremal", "prime_lengths")

#: Target max-norm error, in units of ``‖V‖_max``, of the polynomial kernel whose certified
#: bound a check compares against (the kernel benchmark's headline target).
DEFAULT_DELTA_F = 1e-6

#: Most ``n·m·(s + d_v)`` products one oracle call may take (about 2 s at two precisions).
MAX_ORACLE_TERMS = 200_000

#: Relative jitter of the near-equal keys of ``equal_keys`` (0: exactly equal).
_KEY_JITTERS: tuple[float, ...] = (0.0, 1e-12, 1e-6)

_DTYPES: dict[str, torch.dtype] = {"float64": torch.float64, "float32": torch.float32}


# --- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionCase:
    """One attention input, drawn small and built from its seed (one printable line).

    ``Q`` ``(n, s)``, ``K`` ``(m, s)``, ``V`` ``(m, d_v)`` with ``‖Q‖_max, ‖K‖_max <= B`` in
    float64 (float32 rounding may lift an entry by one ulp), ``‖V‖_max <= 1``; see
    :data:`ATTENTION_KINDS` for ``kind``.
    """

    kind: str
    seed: int
    n: int
    m: int
    s: int
    d_v: int
    B: float
    beta: float
    dtype: str = "float64"

    def __post_init__(self) -> None:
        if self.kind not in ATTENTION_KINDS:
            raise InvalidArgument(f"kind={self.kind!r}: expected one of {ATTENTION_KINDS}")
        for name in ("n", "m", "s", "d_v"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_real("B", self.B, low=0.0, low_open=True)
        check_real("beta", self.beta, low=0.0, low_open=True)
        if self.dtype not in _DTYPES:
            raise InvalidArgument(f"dtype={self.dtype!r}: expected one of {tuple(_DTYPES)}")

    @property
    def radius(self) -> float:
        """``R = β·s·B²``: every score of this case lies in ``[−R, R]``."""
        return KernelRegime(s=self.s, beta=self.beta, B=self.B).radius

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Q, K, V)`` as float64 arrays ``(n, s), (m, s), (m, d_v)``."""
        rng = np.random.default_rng(self.seed)
        n, m, s, d_v, B = self.n, self.m, self.s, self.d_v, self.B
        if self.kind in ("uniform", "prime_lengths"):
            return (rng.uniform(-B, B, (n, s)), rng.uniform(-B, B, (m, s)),
                    rng.uniform(-1.0, 1.0, (m, d_v)))
        if self.kind == "signs":
            return (B * rng.choice([-1.0, 1.0], (n, s)), B * rng.choice([-1.0, 1.0], (m, s)),
                    rng.uniform(-1.0, 1.0, (m, d_v)))
        if self.kind == "equal_keys":
            key = rng.uniform(-B, B, (1, s))
            jitter = _KEY_JITTERS[int(rng.integers(len(_KEY_JITTERS)))] * B
            K = np.clip(key + jitter * rng.uniform(-1.0, 1.0, (m, s)), -B, B)
            return rng.uniform(-B, B, (n, s)), K, rng.uniform(-1.0, 1.0, (m, d_v))
        sigma = rng.choice([-1.0, 1.0], (1, s))
        if self.kind == "dominant_key":
            Q = np.clip(B * sigma + 0.01 * B * rng.uniform(-1.0, 1.0, (n, s)), -B, B)
            top = int(rng.integers(m))
            K = np.repeat(-B * sigma, m, axis=0)
            K[top] = B * sigma
            V = -np.ones((m, d_v))
            V[top] = 1.0
            return Q, K, V
        # extremal: every score is ±β·s·B², V carries the score's sign for the + queries
        Q = B * sigma * rng.choice([-1.0, 1.0], (n, 1))
        signs = rng.choice([-1.0, 1.0], (m, 1))
        return Q, B * sigma * signs, np.repeat(signs, d_v, axis=1)

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(Q, K, V)`` as torch tensors of :attr:`dtype`."""
        dt = _DTYPES[self.dtype]
        Q, K, V = self.arrays()
        return (torch.as_tensor(Q, dtype=dt), torch.as_tensor(K, dtype=dt),
                torch.as_tensor(V, dtype=dt))


@dataclass(frozen=True)
class _Family:
    """What a strategy or :func:`draw_cases` draws from: the regime and the length range."""

    B: float
    s: int
    beta: float
    min_n: int
    max_n: int
    max_d_v: int
    kinds: tuple[str, ...]
    dtype: str

    def lengths(self, kind: str) -> list[int]:
        """The lengths ``n`` and ``m`` are drawn from: the range, or its primes."""
        span = list(range(self.min_n, self.max_n + 1))
        return [k for k in span if _is_prime(k)] if kind == "prime_lengths" else span


def _is_prime(k: int) -> bool:
    return k >= 2 and all(k % p for p in range(2, math.isqrt(k) + 1))


def _family(B: object, s: object, beta: object, min_n: object, max_n: object,
            max_d_v: object, kinds: object, dtype: object) -> _Family:
    """Validate a strategy's or runner's parameters (before any work), naming each."""
    B = check_real("B", B, low=0.0, low_open=True)
    s = check_int("s", s, minimum=1)
    beta = 1.0 / math.sqrt(s) if beta is None else check_real("beta", beta, low=0.0,
                                                               low_open=True)
    min_n = check_int("min_n", min_n, minimum=1)
    max_n = check_int("max_n", max_n, minimum=min_n)
    max_d_v = check_int("max_d_v", max_d_v, minimum=1)
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not kinds:
        raise InvalidArgument(f"kinds={kinds!r}: expected a non-empty sequence of "
                              f"{ATTENTION_KINDS}")
    unknown = [k for k in kinds if k not in ATTENTION_KINDS]
    if unknown:
        raise InvalidArgument(f"kinds={tuple(kinds)!r}: unknown {unknown}; expected some of "
                              f"{ATTENTION_KINDS}")
    if dtype not in _DTYPES:
        raise InvalidArgument(f"dtype={dtype!r}: expected one of {tuple(_DTYPES)}")
    family = _Family(B=B, s=s, beta=beta, min_n=min_n, max_n=max_n, max_d_v=max_d_v,
                     kinds=tuple(kinds), dtype=str(dtype))
    if "prime_lengths" in family.kinds and not family.lengths("prime_lengths"):
        raise InvalidArgument(f"kinds includes 'prime_lengths' but [min_n, max_n] = "
                              f"[{min_n}, {max_n}] holds no prime; widen the range")
    terms = max_n * max_n * (s + max_d_v)
    if terms > MAX_ORACLE_TERMS:
        raise InvalidArgument(
            f"max_n={max_n}: the mpmath oracle would take n·m·(s + d_v) = {terms} products "
            f"at two precisions, over {MAX_ORACLE_TERMS}; expected a smaller max_n")
    return family


def attention_cases(*, B: float, s: int, beta: float | None = None, min_n: int = 1,
                    max_n: int = 12, max_d_v: int = 3,
                    kinds: Sequence[str] = ATTENTION_KINDS,
                    dtype: str = "float64") -> st.SearchStrategy[AttentionCase]:
    """Hypothesis strategy of in-regime :class:`AttentionCase` draws.

    Args:
        B: the max-norm bound of ``Q`` and ``K``; s: head dimension.
        beta: score scale (default ``1/√s``, as ``scaled_dot_product_attention``).
        min_n, max_n: range of the query and key counts ``n``, ``m`` (primes of it for
            ``prime_lengths``); max_d_v: largest value width.
        kinds: which of :data:`ATTENTION_KINDS` to draw.
        dtype: ``"float64"`` or ``"float32"`` tensors.

    Raises:
        InvalidArgument: a parameter out of range (checked when the strategy is built).
    """
    family = _family(B, s, beta, min_n, max_n, max_d_v, kinds, dtype)

    @st.composite
    def cases(draw: st.DrawFn) -> AttentionCase:
        kind = draw(st.sampled_from(family.kinds))
        lengths = st.sampled_from(family.lengths(kind))
        return AttentionCase(kind=kind, seed=draw(seeds()), n=draw(lengths), m=draw(lengths),
                             s=family.s, d_v=draw(st.integers(1, family.max_d_v)),
                             B=family.B, beta=family.beta, dtype=family.dtype)

    return cases()


def draw_cases(kind: str, count: int, seed: int, *, B: float, s: int,
               beta: float | None = None, min_n: int = 1, max_n: int = 12, max_d_v: int = 3,
               dtype: str = "float64") -> list[AttentionCase]:
    """``count`` cases of ``kind`` from a NumPy generator seeded by ``(seed, kind)``: the
    runner's draws, the same on every machine (the same family :func:`attention_cases`
    draws from)."""
    family = _family(B, s, beta, min_n, max_n, max_d_v, (kind,), dtype)
    count = check_int("count", count, minimum=0)
    seed = check_int("seed", seed, minimum=0)
    rng = np.random.default_rng([seed, ATTENTION_KINDS.index(kind)])
    lengths = family.lengths(kind)
    return [AttentionCase(kind=kind, seed=int(rng.integers(2**32)),
                          n=int(rng.choice(lengths)), m=int(rng.choice(lengths)), s=family.s,
                          d_v=int(rng.integers(1, family.max_d_v + 1)), B=family.B,
                          beta=family.beta, dtype=family.dtype) for _ in range(count)]


# --- the bounds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertifiedBound:
    """What the polynomial kernel certifies in a regime, in units of ``‖V‖_max``.

    ``bound`` is ``None`` where no float64 plan exists; ``plan`` then says why.
    """

    bound: float | None
    plan: str
    degree: int | None = None
    rank: int | None = None
    certified_eps: float | None = None


def certified_bound(*, s: int, B: float, beta: float, n_keys: int,
                    delta_F: float = DEFAULT_DELTA_F, dtype: str = "float64"
                    ) -> CertifiedBound:
    """The polynomial kernel's certified max-norm error for ``n_keys`` keys in the regime
    ``(s, β, B)`` at target ``δ_F``, relative to ``‖V‖_max``: the lemma bound with the plan's
    arb-certified ``ε`` plus its float64 rounding bound, plus ``2^-24`` for float32 inputs
    (computed in float64, output rounded once; docs/kernel.md "Float32").
    """
    s = check_int("s", s, minimum=1)
    B = check_real("B", B, low=0.0)
    beta = check_real("beta", beta, low=0.0, low_open=True)
    n_keys = check_int("n_keys", n_keys, minimum=1)
    delta_F = check_real("delta_F", delta_F, low=0.0, high=1.0, low_open=True, high_open=True)
    if dtype not in _DTYPES:
        raise InvalidArgument(f"dtype={dtype!r}: expected one of {tuple(_DTYPES)}")
    regime = KernelRegime(s=s, beta=beta, B=B, delta_F=delta_F)
    try:
        plan = _plan(regime)
    except HarnessError as exc:                  # float64 cannot resolve δ_F at this R
        return CertifiedBound(bound=None, plan=f"no float64 plan at R={regime.radius:.3g}: "
                                               f"{' '.join(str(exc).split())}")
    bound = plan.error_bound(1.0) + rounding_allowance(plan, n_keys, 1.0, torch.float64)
    if dtype == "float32":
        bound += 2.0**-24
    return CertifiedBound(bound=bound, degree=plan.degree, rank=plan.rank,
                          certified_eps=plan.certified_eps,
                          plan=f"{plan.method} degree {plan.degree}, rank {plan.rank}, "
                               f"certified eps {plan.certified_eps:.3g}")


@lru_cache(maxsize=64)
def _plan(regime: KernelRegime) -> Any:
    return plan_for(regime)


# --- one measurement -------------------------------------------------------------------------


@dataclass(frozen=True)
class AttentionMeasurement:
    """One input checked: the error of ``fn`` and the bounds it is judged against.

    ``error`` is ``‖out − Att‖_max / ‖V‖_max`` (``inf`` when ``fn`` raised, returned the
    wrong shape or a non-finite entry; ``note`` says which). ``worst_index`` is the
    ``(query, column)`` of the worst entry, ``worst_actual`` and ``worst_expected`` its value
    from ``fn`` and from the oracle. ``oracle_slack`` is the oracle's own uncertainty in the
    same units, added to either bound. ``passed`` judges against ``claimed_error`` where it is
    given, else against ``certified_bound``.
    """

    kind: str
    n: int
    m: int
    s: int
    d_v: int
    B: float
    beta: float
    dtype: str
    error: float
    worst_index: tuple[int, int]
    worst_actual: float
    worst_expected: float
    certified_bound: float | None
    plan: str
    claimed_error: float | None
    oracle_slack: float
    note: str | None = None
    case: AttentionCase | None = None

    @property
    def within_certified(self) -> bool | None:
        """Error within the polynomial kernel's certified bound (``None``: no float64 plan)."""
        if self.certified_bound is None:
            return None
        return bool(self.error <= self.certified_bound + self.oracle_slack)

    @property
    def within_claimed(self) -> bool | None:
        """Error within the claimed error (``None``: nothing claimed)."""
        if self.claimed_error is None:
            return None
        return bool(self.error <= self.claimed_error + self.oracle_slack)

    @property
    def judged_against(self) -> str:
        """``"claimed"`` or ``"certified"``: which bound :attr:`passed` uses."""
        return "claimed" if self.claimed_error is not None else "certified"

    @property
    def passed(self) -> bool:
        verdict = self.within_claimed if self.claimed_error is not None else \
            self.within_certified
        return bool(verdict)

    def to_json(self) -> dict[str, Any]:
        """JSON-able record (non-finite numbers as ``None``), with the case to replay it."""
        out = {k: v for k, v in asdict(self).items() if k != "case"}
        out["worst_index"] = list(self.worst_index)
        for key in ("error", "worst_actual", "worst_expected"):
            out[key] = _finite_or_none(out[key])
        out.update(within_certified=self.within_certified, within_claimed=self.within_claimed,
                   judged_against=self.judged_against, passed=self.passed,
                   case=asdict(self.case) if self.case is not None else None)
        return out


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _checked_inputs(Q: object, K: object, V: object, beta: object
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    Qm = check_matrix("Q", Q)
    if Qm.shape[0] < 1:
        raise InvalidArgument(f"Q has shape {tuple(Qm.shape)}: expected at least one query row")
    Km = check_matrix("K", K, cols=Qm.shape[1], dtype=Qm.dtype)
    if Km.shape[0] < 1:
        raise InvalidArgument(f"K has shape {tuple(Km.shape)}: expected at least one key row")
    Vm = check_matrix("V", V, dtype=Qm.dtype)
    if Vm.shape[0] != Km.shape[0]:
        raise InvalidArgument(f"V has {Vm.shape[0]} rows, K has {Km.shape[0]}: expected one "
                              "value row per key")
    beta = check_real("beta", beta, low=0.0, low_open=True)
    if float(Vm.abs().max()) == 0.0:
        raise InvalidArgument("V is all zeros: the error relative to ‖V‖_max is undefined; "
                              "expected a non-zero V")
    n, s = Qm.shape
    m, d_v = Vm.shape
    terms = n * m * (s + d_v)
    if terms > MAX_ORACLE_TERMS:
        raise InvalidArgument(
            f"Q, K, V of n={n}, m={m}, s={s}, d_v={d_v}: the mpmath oracle would take "
            f"n·m·(s + d_v) = {terms} products at two precisions, over {MAX_ORACLE_TERMS}; "
            "check smaller inputs")
    return Qm, Km, Vm, beta


def _exact(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float
           ) -> tuple[np.ndarray, float]:
    """The oracle's ``(n, d_v)`` output for row-major inputs and its slack."""
    try:
        truth = attention_oracle(Q.T, K.T, V.T, beta)
    except ClaimViolation as exc:
        raise HarnessError(f"the mpmath oracle did not converge at {PRECISIONS} digits "
                           f"({exc}): the oracle, not the implementation, is the problem"
                           ) from None
    return truth.value.T, truth.slack


@lru_cache(maxsize=512)
def _case_exact(case: AttentionCase) -> tuple[np.ndarray, float]:
    return _exact(*case.tensors(), case.beta)


def measure_attention(fn: AttentionFn, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                      beta: float, *, B: float | None = None,
                      claimed_error: float | None = None, delta_F: float = DEFAULT_DELTA_F,
                      kind: str = "given", case: AttentionCase | None = None,
                      catch: bool = False) -> AttentionMeasurement:
    """Run ``fn(Q, K, V, beta)`` once and measure it against the oracle (no verdict raised).

    Args:
        fn: the implementation; ``Q`` ``(n, s)``, ``K`` ``(m, s)``, ``V`` ``(m, d_v)``, one
            float dtype, finite, ``V`` not all zero.
        beta: score scale ``β``.
        B: the regime's max-norm bound (default, and at least, ``max(‖Q‖_max, ‖K‖_max)``).
        claimed_error: the implementation's own claim, in units of ``‖V‖_max``.
        delta_F: target of the polynomial kernel whose certified bound is reported.
        kind: a label for the tables.
        catch: record an exception raised by ``fn`` as a failure instead of raising it.

    Raises:
        InvalidArgument: bad inputs or options, before ``fn`` runs.
        HarnessError: the oracle did not converge.
    """
    if not callable(fn):
        raise InvalidArgument(f"fn={fn!r}: expected a callable fn(Q, K, V, beta)")
    Q, K, V, beta = _checked_inputs(Q, K, V, beta)
    measured = measured_norm(Q, K)
    B = measured if B is None else max(check_real("B", B, low=0.0), measured)
    if claimed_error is not None:
        claimed_error = check_real("claimed_error", claimed_error, low=0.0)
    dtype = str(Q.dtype).removeprefix("torch.")
    bound = certified_bound(s=Q.shape[1], B=B, beta=beta, n_keys=K.shape[0], delta_F=delta_F,
                            dtype=dtype)
    truth, slack = _case_exact(case) if case is not None else _exact(Q, K, V, beta)
    v_max = float(V.abs().max())
    out, note = _call(fn, Q, K, V, beta, catch)
    base: dict[str, Any] = dict(
        kind=kind, n=Q.shape[0], m=K.shape[0], s=Q.shape[1], d_v=V.shape[1], B=B, beta=beta,
        dtype=dtype, certified_bound=bound.bound, plan=bound.plan, claimed_error=claimed_error,
        oracle_slack=slack / v_max, case=case)
    if out is not None and tuple(out.shape) != truth.shape:
        note = f"returned shape {tuple(out.shape)}, expected {truth.shape} (n, d_v)"
        out = None
    if out is None:
        return AttentionMeasurement(error=math.inf, worst_index=(0, 0), worst_actual=math.nan,
                                    worst_expected=float(truth[0, 0]), note=note, **base)
    diff = np.abs(out - truth)
    diff = np.where(np.isfinite(diff), diff, np.inf)
    i, j = np.unravel_index(int(np.argmax(diff)), diff.shape)
    if not np.isfinite(diff[i, j]):
        note = "returned a non-finite entry"
    return AttentionMeasurement(error=float(diff[i, j]) / v_max, worst_index=(int(i), int(j)),
                                worst_actual=float(out[i, j]),
                                worst_expected=float(truth[i, j]), note=note, **base)


def _call(fn: AttentionFn, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, beta: float,
          catch: bool) -> tuple[np.ndarray | None, str | None]:
    """``fn``'s output as a float64 array, or ``None`` and why."""
    try:
        raw = fn(Q.clone(), K.clone(), V.clone(), beta)
    except Exception as exc:
        if not catch:
            raise
        return None, f"raised {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
    try:
        out = torch.as_tensor(raw.detach() if isinstance(raw, torch.Tensor) else raw)
        return out.to(torch.float64).cpu().numpy(), None
    except (TypeError, ValueError, RuntimeError) as exc:
        return None, f"returned {type(raw).__name__}, not an array ({type(exc).__name__})"


def measure_case(fn: AttentionFn, case: AttentionCase, *, claimed_error: float | None = None,
                 delta_F: float = DEFAULT_DELTA_F, catch: bool = False
                 ) -> AttentionMeasurement:
    """:func:`measure_attention` on ``case``'s tensors (oracle cached per case), its bound
    at the inputs' own ``B`` (``<= case.B``, the draw's bound)."""
    if not isinstance(case, AttentionCase):
        raise InvalidArgument(f"case={case!r}: expected an AttentionCase")
    Q, K, V = case.tensors()
    return measure_attention(fn, Q, K, V, case.beta, claimed_error=claimed_error,
                             delta_F=delta_F, kind=case.kind, case=case, catch=catch)


def assert_attention_close(fn: AttentionFn, Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                           beta: float, *, B: float | None = None,
                           claimed_error: float | None = None,
                           delta_F: float = DEFAULT_DELTA_F, kind: str = "given"
                           ) -> AttentionMeasurement:
    """Check ``fn`` on one input; return the measurement, or raise with a failure table.

    ``fn`` passes when ``‖fn(Q, K, V, β) − Att‖_max / ‖V‖_max`` is within ``claimed_error``
    where given, else within the polynomial kernel's certified bound for the regime
    ``(s, β, B, δ_F)`` and ``m`` keys, ``B`` the inputs' ``max(‖Q‖_max, ‖K‖_max)`` unless a
    larger one is given (see :func:`measure_attention` for the arguments).

    Raises:
        ClaimViolation: (an ``AssertionError``) the error exceeds the bound judged against,
            or there is nothing to judge against (no float64 plan and no claim); the
            message is the failure table.
        InvalidArgument: bad inputs or options, before ``fn`` runs.
    """
    result = measure_attention(fn, Q, K, V, beta, B=B, claimed_error=claimed_error,
                               delta_F=delta_F, kind=kind)
    if not result.passed:
        raise ClaimViolation(failure_table([result]))
    return result


def assert_case_close(fn: AttentionFn, case: AttentionCase, *,
                      claimed_error: float | None = None,
                      delta_F: float = DEFAULT_DELTA_F) -> AttentionMeasurement:
    """:func:`assert_attention_close` on a drawn :class:`AttentionCase`."""
    result = measure_case(fn, case, claimed_error=claimed_error, delta_F=delta_F)
    if not result.passed:
        raise ClaimViolation(failure_table([result]))
    return result


# --- tables ----------------------------------------------------------------------------------


def _num(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits - 1}e}" if math.isfinite(x) else str(x)


def _verdict(flag: bool | None) -> str:
    return "—" if flag is None else ("ok" if flag else "EXCEEDS")


def failure_table(results: Sequence[AttentionMeasurement], *, limit: int = 12) -> str:
    """A readable table of the failing measurements among ``results`` (all if none fail).

    One line per input (the first ``limit``): its kind, ``n``, ``m``, ``B``, the measured
    error, the certified and claimed bounds with a verdict for each, and the worst entry;
    then, per input shown, the plan, what ``fn`` did wrong if it raised or returned junk,
    and the case to replay it with.
    """
    bad = [r for r in results if not r.passed] or list(results)
    shown = bad[:limit]
    head = ("kind", "n", "m", "d_v", "B", "error/‖V‖", "certified", "", "claimed", "",
            "judged", "worst entry [i, j]: got vs exact")
    rows = [head] + [(
        r.kind, str(r.n), str(r.m), str(r.d_v), f"{r.B:.4g}", _num(r.error, 3),
        _num(r.certified_bound, 3), _verdict(r.within_certified), _num(r.claimed_error, 3),
        _verdict(r.within_claimed), "FAIL" if not r.passed else "pass",
        f"[{r.worst_index[0]}, {r.worst_index[1]}]: {r.worst_actual!r} vs "
        f"{r.worst_expected!r}") for r in shown]
    widths = [max(len(row[c]) for row in rows) for c in range(len(head))]
    lines = [f"attention check: {sum(not r.passed for r in results)} of {len(results)} "
             "inputs failed (error = ‖fn − exact‖_max/‖V‖_max against mpmath at "
             f"{PRECISIONS[0]} and {PRECISIONS[1]} digits; judged against the claimed error "
             "where given, else the polynomial kernel's certified bound)"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    if len(bad) > limit:
        lines.append(f"... and {len(bad) - limit} more")
    for r in shown:
        lines.append(f"  {r.kind} n={r.n} m={r.m} beta={r.beta!r} {r.dtype}: plan {r.plan}")
        if r.note:
            lines.append(f"    fn {r.note}")
        if r.certified_bound is None and r.claimed_error is None:
            lines.append("    nothing to judge against: no float64 plan and no claimed error")
        if r.case is not None:
            lines.append(f"    replay: {r.case!r}")
    return "\n".join(lines)


# --- the runner ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindRow:
    """One kind of input in a report: how many were checked and failed, and the worst.

    ``worst`` is the measurement with the largest error (its bounds are the ones shown).
    """

    kind: str
    checked: int
    failed: int
    worst: AttentionMeasurement

    @property
    def passed(self) -> bool:
        return self.failed == 0

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "checked": self.checked, "failed": self.failed,
                "passed": self.passed, "worst": self.worst.to_json()}


@dataclass(frozen=True)
class AttentionReport:
    """What :func:`check_attention` found: the regime, one row per kind, every input."""

    implementation: str
    B: float
    s: int
    beta: float
    delta_F: float
    claimed_error: float | None
    draws: int
    seed: int
    min_n: int
    max_n: int
    dtype: str
    plan: str
    rows: tuple[KindRow, ...]
    measurements: tuple[AttentionMeasurement, ...] = field(repr=False)

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    @property
    def worst_error(self) -> float:
        return max(m.error for m in self.measurements)

    @property
    def certified_bounds(self) -> list[float]:
        return [m.certified_bound for m in self.measurements if m.certified_bound is not None]

    @property
    def within_certified(self) -> bool | None:
        """Every input within the certified bound (``None``: no input has a plan)."""
        flags = [m.within_certified for m in self.measurements]
        return None if all(f is None for f in flags) else all(f is not False for f in flags)

    @property
    def within_claimed(self) -> bool | None:
        if self.claimed_error is None:
            return None
        return all(bool(m.within_claimed) for m in self.measurements)

    def table(self) -> str:
        """Plain-text summary: the regime, then one line per kind."""
        regime = (f"{self.implementation}: B={self.B:g}, s={self.s}, beta={self.beta:.4g}, "
                  f"R=beta*s*B^2={self.beta * self.s * self.B**2:.4g}, n, m in "
                  f"[{self.min_n}, {self.max_n}], {self.dtype}, delta_F={self.delta_F:g}, "
                  f"claimed error {_num(self.claimed_error, 3)}")
        head = ("kind", "inputs", "failed", "worst error/‖V‖", "certified", "", "claimed",
                "", "verdict")
        rows = [head] + [(
            r.kind, str(r.checked), str(r.failed), _num(r.worst.error, 3),
            _num(r.worst.certified_bound, 3), _verdict(r.worst.within_certified),
            _num(r.worst.claimed_error, 3), _verdict(r.worst.within_claimed),
            "pass" if r.passed else "FAIL") for r in self.rows]
        widths = [max(len(row[c]) for row in rows) for c in range(len(head))]
        lines = [regime, f"polynomial kernel at B={self.B:g}: {self.plan} (each input's "
                         "certified bound is at its own B, shown at its worst input)"]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in rows]
        judged = "the claimed error" if self.claimed_error is not None else \
            "the certified bound"
        lines.append(f"{'PASS' if self.passed else 'FAIL'} (judged against {judged})")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"implementation": self.implementation, "B": self.B, "s": self.s,
                "beta": self.beta, "delta_F": self.delta_F,
                "claimed_error": self.claimed_error, "draws": self.draws, "seed": self.seed,
                "min_n": self.min_n, "max_n": self.max_n, "dtype": self.dtype,
                "plan": self.plan, "passed": self.passed, "within_certified": self.within_certified,
                "within_claimed": self.within_claimed, "paper_ref": PAPER_REF,
                "rows": [r.to_json() for r in self.rows],
                "measurements": [m.to_json() for m in self.measurements]}


def check_attention(fn: AttentionFn, *, B: float, s: int, beta: float | None = None,
                    claimed_error: float | None = None, delta_F: float = DEFAULT_DELTA_F,
                    draws: int = 4, seed: int = 0, kinds: Sequence[str] = ATTENTION_KINDS,
                    min_n: int = 1, max_n: int = 12, max_d_v: int = 3,
                    dtype: str = "float64", name: str | None = None,
                    progress: Callable[[str], None] | None = None) -> AttentionReport:
    """Check ``fn`` on ``draws`` inputs of every kind in the regime ``(B, s, β)``.

    Each input is drawn by :func:`draw_cases` (deterministic in ``seed``) and measured by
    :func:`measure_case` (its certified bound at its own ``B``, at most the regime's); an
    exception ``fn`` raises is recorded as a failure of that input. ``progress`` receives
    one line per kind.

    Raises:
        InvalidArgument: a bad option (before ``fn`` runs), or nothing to judge against:
            no float64 plan exists for the regime and no ``claimed_error`` was given.
    """
    if not callable(fn):
        raise InvalidArgument(f"fn={fn!r}: expected a callable fn(Q, K, V, beta)")
    family = _family(B, s, beta, min_n, max_n, max_d_v, kinds, dtype)
    draws = check_int("draws", draws, minimum=1, maximum=10_000)
    seed = check_int("seed", seed, minimum=0)
    if claimed_error is not None:
        claimed_error = check_real("claimed_error", claimed_error, low=0.0)
    delta_F = check_real("delta_F", delta_F, low=0.0, high=1.0, low_open=True, high_open=True)
    regime_bound = certified_bound(s=family.s, B=family.B, beta=family.beta,
                                   n_keys=family.max_n, delta_F=delta_F, dtype=family.dtype)
    if regime_bound.bound is None and claimed_error is None:
        raise InvalidArgument(f"B={family.B!r}, s={family.s}, beta={family.beta!r}: "
                              f"{regime_bound.plan}; give claimed_error to judge against, or "
                              "lower B or beta")
    label = name or getattr(fn, "__qualname__", None) or repr(fn)
    rows, measured = [], []
    for index, kind in enumerate(family.kinds, start=1):
        cases = draw_cases(kind, draws, seed, B=family.B, s=family.s, beta=family.beta,
                           min_n=family.min_n, max_n=family.max_n, max_d_v=family.max_d_v,
                           dtype=family.dtype)
        results = [measure_case(fn, c, claimed_error=claimed_error, delta_F=delta_F,
                                catch=True) for c in cases]
        worst = max(results, key=lambda r: r.error)
        rows.append(KindRow(kind=kind, checked=len(results),
                            failed=sum(not r.passed for r in results), worst=worst))
        measured += results
        if progress is not None:
            progress(f"[{index}/{len(family.kinds)}] {kind}: {len(results)} inputs, worst "
                     f"error {_num(worst.error, 3)}, {rows[-1].failed} failed")
    return AttentionReport(implementation=label, B=family.B, s=family.s, beta=family.beta,
                           delta_F=delta_F, claimed_error=claimed_error, draws=draws,
                           seed=seed, min_n=family.min_n, max_n=family.max_n,
                           dtype=family.dtype, plan=regime_bound.plan, rows=tuple(rows),
                           measurements=tuple(measured))

