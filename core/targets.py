"""Targets for the universality construction: ours, and any user's function.

docs/theory.md §2 (claim U) quantifies over C-Lipschitz maps ``f: [0,1]^{d×L} → [0,1]^{d×L}``
(max norm to max norm). The construction and its certificate need of a target only:

- ``d``, ``L``: the shape of inputs and outputs;
- ``C``: its Lipschitz constant (max norm), proved or declared;
- ``values(X)``: float64 values, ``X`` of shape ``(..., d, L)`` → ``(..., d, L)``;
- ``enclose(Xq)``: ``(lo, hi)`` with ``lo ≤ f(Xq) ≤ hi`` entrywise at a ``d×L`` point of
  rationals (nested lists of :class:`fractions.Fraction`);
- ``name``: a label for reports; ``proved``: whether ``C``, the range ``[0, 1]`` and the
  enclosure are proved (our families, :mod:`core.lipschitz`) or only declared.

That is the :class:`Target` protocol. :class:`UserTarget` turns a plain Python function with
a declared ``C`` into one; its assumptions are checked where they can be
(:mod:`core.constructions.assumptions`) and stated where they cannot. :func:`resolve_target`
turns a family name or a ``module:function`` (or ``path/to/file.py:function``) spec into a
target, for the CLI, the claims and ``reproduce``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import AssumptionViolation, HarnessError, InvalidArgument
from .lipschitz import FAMILIES, LipschitzTarget, RatMatrix, make_target
from .validation import check_int, check_real

__all__ = [
    "DEFAULT_VALUE_ERROR",
    "Target",
    "UserTarget",
    "load_object",
    "resolve_target",
]

#: Declared absolute error of a float-only evaluator when the user states none: about a
#: thousand float64 roundings of values ≤ 1. An assumption, stated in every certificate.
DEFAULT_VALUE_ERROR = 2.0**-42


@runtime_checkable
class Target(Protocol):
    """What the universal construction and its certificate use of a target (module doc)."""

    @property
    def d(self) -> int: ...

    @property
    def L(self) -> int: ...

    @property
    def C(self) -> float: ...

    @property
    def name(self) -> str: ...

    @property
    def proved(self) -> bool: ...

    def values(self, X: np.ndarray) -> np.ndarray: ...

    def enclose(self, Xq: Sequence[Sequence[Fraction]]) -> tuple[RatMatrix, RatMatrix]: ...


def _as_fraction(name: str, v: object) -> Fraction:
    if isinstance(v, Fraction):
        return v
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return Fraction(int(v))
    if isinstance(v, (float, np.floating)) and np.isfinite(v):
        return Fraction(float(v))
    raise InvalidArgument(f"{name}: value {v!r} is not a finite number (Fraction, int or "
                          "float expected)")


@dataclass(frozen=True)
class UserTarget:
    """A user's function ``fn`` with a *declared* max-norm Lipschitz constant ``C``.

    Args:
        fn: ``fn(X) -> Y`` for one input ``X`` of shape ``(d, L)`` (float64), returning an
            array-like of shape ``(d, L)`` (or ``(d·L,)``); with ``batched=True`` it takes
            ``(..., d, L)`` at once.
        d, L: the shape (1..8 each).
        C: the declared constant, ``0 < C ≤ 64``; the certificate checks it is never
            contradicted on the points it evaluates, and assumes it elsewhere.
        name: label in reports (default: ``fn``'s module and name).
        exact: optional rigorous evaluator ``exact(Xq)`` at a ``d×L`` point of
            :class:`~fractions.Fraction`: a ``d×L`` nested sequence of exact values, or a
            pair ``(lo, hi)`` of such sequences bounding ``f``. Trusted, and said so.
        value_error: declared bound on ``|fn(x) − f(x)|`` for the float evaluator, used when
            ``exact`` is absent (default :data:`DEFAULT_VALUE_ERROR`).
        batched: whether ``fn`` accepts a batch ``(..., d, L)``.
    """

    fn: Callable[..., Any]
    d: int
    L: int
    C: float
    name: str = ""
    exact: Callable[..., Any] | None = None
    value_error: float = DEFAULT_VALUE_ERROR
    batched: bool = False

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise InvalidArgument(f"fn={self.fn!r}: expected a callable X (d, L) -> (d, L)")
        if self.exact is not None and not callable(self.exact):
            raise InvalidArgument(f"exact={self.exact!r}: expected a callable or None")
        object.__setattr__(self, "d", check_int("d", self.d, minimum=1, maximum=8))
        object.__setattr__(self, "L", check_int("L", self.L, minimum=1, maximum=8))
        object.__setattr__(self, "C", check_real("C", self.C, low=0.0, high=64.0,
                                                 low_open=True))
        object.__setattr__(self, "value_error", check_real(
            "value_error", self.value_error, low=0.0, high=0.5))
        if not self.name:
            label = f"{getattr(self.fn, '__module__', '?')}:" \
                    f"{getattr(self.fn, '__qualname__', type(self.fn).__name__)}"
            object.__setattr__(self, "name", label)

    @property
    def proved(self) -> bool:
        return False

    def _one(self, x: np.ndarray) -> np.ndarray:
        try:
            y = np.asarray(self.fn(x.copy()), dtype=np.float64)
        except HarnessError:
            raise
        except Exception as exc:  # the user's function: report, never a bare traceback
            raise InvalidArgument(f"target {self.name}: raised {type(exc).__name__}: {exc} "
                                  f"at X = {x.tolist()}") from exc
        return self._checked(y, x, (self.d, self.L))

    def _checked(self, y: np.ndarray, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        if y.size != int(np.prod(shape)):
            raise InvalidArgument(f"target {self.name}: returned shape {y.shape} at an input "
                                  f"of shape {x.shape}; expected {shape}")
        y = y.reshape(shape)
        if not np.all(np.isfinite(y)):
            raise AssumptionViolation(f"target {self.name}: non-finite value at X = "
                                      f"{x.tolist()}")
        return y

    def values(self, X: np.ndarray) -> np.ndarray:
        """``fn`` in float64; ``X``: ``(..., d, L)`` → ``(..., d, L)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim < 2 or X.shape[-2:] != (self.d, self.L):
            raise InvalidArgument(f"X has shape {X.shape}: expected (..., d={self.d}, "
                                  f"L={self.L})")
        if self.batched:
            try:
                Y = np.asarray(self.fn(X.copy()), dtype=np.float64)
            except HarnessError:
                raise
            except Exception as exc:
                raise InvalidArgument(f"target {self.name}: raised {type(exc).__name__}: "
                                      f"{exc} on a batch of shape {X.shape}") from exc
            return self._checked(Y, X, X.shape)
        flat = X.reshape(-1, self.d, self.L)
        out = np.stack([self._one(x) for x in flat]) if len(flat) else flat.copy()
        return out.reshape(X.shape)

    def enclose(self, Xq: Sequence[Sequence[Fraction]]) -> tuple[RatMatrix, RatMatrix]:
        """``(lo, hi)`` at a rational point: from ``exact`` (trusted), else the float value
        ± (``value_error`` + ``C``·the input's rounding to float64)."""
        if len(Xq) != self.d or any(len(row) != self.L for row in Xq):
            raise InvalidArgument(f"Xq: expected a {self.d}×{self.L} nested sequence")
        if self.exact is not None:
            return self._exact(Xq)
        x = np.array([[float(v) for v in row] for row in Xq])
        shift = max(abs(Fraction(float(v)) - Fraction(v)) for row in Xq for v in row)
        rad = Fraction(self.value_error) + Fraction(self.C) * shift
        y = self.values(x)
        lo = [[Fraction(float(y[i, j])) - rad for j in range(self.L)] for i in range(self.d)]
        hi = [[Fraction(float(y[i, j])) + rad for j in range(self.L)] for i in range(self.d)]
        return lo, hi

    def _exact(self, Xq: Sequence[Sequence[Fraction]]) -> tuple[RatMatrix, RatMatrix]:
        assert self.exact is not None
        try:
            got = self.exact([[Fraction(v) for v in row] for row in Xq])
        except HarnessError:
            raise
        except Exception as exc:
            raise InvalidArgument(f"target {self.name}: exact evaluator raised "
                                  f"{type(exc).__name__}: {exc}") from exc
        pair = isinstance(got, tuple) and len(got) == 2
        parts = got if pair else (got, got)
        mats = []
        for part in parts:
            rows = [list(r) for r in part] if not isinstance(part, np.ndarray) else \
                part.reshape(self.d, self.L).tolist()
            if len(rows) != self.d or any(len(r) != self.L for r in rows):
                raise InvalidArgument(f"target {self.name}: exact evaluator returned "
                                      f"{got!r}; expected a {self.d}×{self.L} nested "
                                      "sequence or a pair (lo, hi) of them")
            mats.append([[_as_fraction(f"target {self.name}: exact evaluator", v)
                          for v in r] for r in rows])
        lo, hi = mats
        if any(lo[i][j] > hi[i][j] for i in range(self.d) for j in range(self.L)):
            raise AssumptionViolation(f"target {self.name}: exact evaluator returned lo > hi "
                                      f"at Xq = {[[str(v) for v in r] for r in Xq]}")
        return lo, hi


def load_object(spec: str, *, option: str = "target") -> object:
    """The object named by ``module:attr`` or ``path/to/file.py:attr`` (``attr`` may be
    dotted); errors name ``option`` and say what is wrong."""
    if not isinstance(spec, str) or spec.count(":") < 1 or not spec.rsplit(":", 1)[1]:
        raise InvalidArgument(f"{option}={spec!r}: expected MODULE:NAME or FILE.py:NAME "
                              f"(or one of the families {FAMILIES})")
    where, attr = spec.rsplit(":", 1)
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise InvalidArgument(f"{option}={spec!r}: file {where!r} does not exist")
            mod_name = f"_ptlimits_user_{abs(hash(str(path.resolve())))}"
            module = sys.modules.get(mod_name)
            if module is None:
                found = importlib.util.spec_from_file_location(mod_name, path)
                assert found is not None and found.loader is not None
                module = importlib.util.module_from_spec(found)
                sys.modules[mod_name] = module
                found.loader.exec_module(module)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))   # as `python -m` would: cwd's modules
            module = importlib.import_module(where)
    except HarnessError:
        raise
    except Exception as exc:
        raise InvalidArgument(f"{option}={spec!r}: cannot import {where!r} "
                              f"({type(exc).__name__}: {exc})") from None
    obj: object = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InvalidArgument(f"{option}={spec!r}: {where!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def resolve_target(spec: str, d: int, L: int, C: float, *, seed: int = 0, grid: int = 0,
                   exact: str | None = None, value_error: float | None = None,
                   batched: bool = False) -> LipschitzTarget | Target:
    """A target from a family name (built from ``seed``; ``grid`` is the sawtooth's ``K``)
    or a ``module:name`` spec naming a :class:`Target` (used as is; its ``d, L`` must match
    and its ``C`` must not exceed ``C``) or a plain callable (wrapped in :class:`UserTarget`
    with declared ``C``; ``exact`` names its rigorous evaluator)."""
    if spec in FAMILIES:
        if exact is not None or value_error is not None:
            raise InvalidArgument(f"target={spec!r}: a built-in family is proved; exact= and "
                                  "value_error= apply to user functions only")
        return make_target(spec, d, L, C, seed, grid=grid)
    obj = load_object(spec)
    if isinstance(obj, (LipschitzTarget, UserTarget)) or (
            isinstance(obj, Target) and not callable(obj)):
        if exact is not None or value_error is not None:
            raise InvalidArgument(f"target={spec!r} names a target object: set exact= and "
                                  "value_error= on the object itself")
        if (obj.d, obj.L) != (d, L):
            raise InvalidArgument(f"target={spec!r} has shape (d={obj.d}, L={obj.L}); "
                                  f"expected (d={d}, L={L})")
        if obj.C > C:
            raise InvalidArgument(f"target={spec!r} declares C={obj.C!r}, above the "
                                  f"construction's C={C!r}")
        return obj
    if not callable(obj):
        raise InvalidArgument(f"target={spec!r}: {type(obj).__name__} is neither callable "
                              "nor a target")
    ex = load_object(exact, option="exact") if exact is not None else None
    if ex is not None and not callable(ex):
        raise InvalidArgument(f"exact={exact!r}: not callable")
    return UserTarget(fn=obj, d=d, L=L, C=C, name=spec, exact=ex,
                      value_error=DEFAULT_VALUE_ERROR if value_error is None else value_error,
                      batched=batched)
