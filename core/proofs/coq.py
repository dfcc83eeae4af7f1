"""Statements checked by the Coq proof assistant (docs/theory.md §4, evidence ``proved``).

A :class:`Goal` is a Coq file: a prelude, named lemmas with their statements, and the proof
scripts to try for them in turn. :func:`prove` runs ``coqc`` on it, retrying with the next
(stronger) scripts a bounded number of times, and returns a :class:`Proof`. ``coqc`` checks
every ``Qed`` in Coq's kernel, so a ``"proved"`` verdict means the kernel accepted exactly
the statements of the goal. Results are cached by the SHA-256 of the statements (prelude
included), so a statement proved once costs nothing again.

Two kinds of goal are built here:

- K1 (docs/theory.md §3, paper label ``thm:inference_linear``): a kernel polynomial's sup
  bound ``∀x ∈ [−R, R], |p(x)e^{−x} − 1| <= b`` with the exact rational value of every float64
  coefficient, of ``R`` and of ``b`` (:func:`k1_goal`), proved by the Interval library's
  ``interval`` tactic (Taylor models and bisection), and the refutation of degree ``g − 1``
  at arb's witness point. :func:`read_k1_statement` reads the numbers back from the text.
- The lemmas of docs/theory.md §4, fixed files in ``core/proofs/lemmas/`` (package data, so an
  installed ptlimits checks them too): :func:`check_lemma`.

Where ``coqc`` or the Interval library is missing the verdict is ``"not run"`` with the
reason; nothing here raises for a missing prover. Environment: ``PTLIMITS_COQC`` (the
``coqc`` to run; default ``coqc`` on ``PATH``) and ``PTLIMITS_COQ_CACHE`` (the cache
folder; default ``$XDG_CACHE_HOME/ptlimits/coq``, else ``~/.cache/ptlimits/coq``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import HarnessError, InvalidArgument

__all__ = [
    "CACHE_ENV",
    "COQC_ENV",
    "LEMMAS",
    "STANDARD_AXIOMS",
    "VERDICTS",
    "Goal",
    "K1Statement",
    "Proof",
    "cache_dir",
    "check_lemma",
    "coq_rational",
    "coqc_path",
    "coqc_version",
    "counting_goal",
    "interval_scripts",
    "k1_goal",
    "lemma_axioms",
    "lemma_path",
    "plan_goal",
    "prove",
    "read_k1_statement",
]

PAPER_REF = "thm:inference_linear"

COQC_ENV = "PTLIMITS_COQC"
CACHE_ENV = "PTLIMITS_COQ_CACHE"

#: Verdicts: ``proved`` (coqc accepted every lemma), ``failed`` (coqc rejected every attempt),
#: ``inconclusive`` (an attempt ran out of time), ``not run`` (no coqc, or no Interval).
VERDICTS: tuple[str, ...] = ("proved", "failed", "inconclusive", "not run")

#: Seconds one ``coqc`` attempt may take before the verdict is ``inconclusive``.
TIMEOUT_S = 300.0

INTERVAL_PRELUDE = ("From Coq Require Import Reals.\nFrom Interval Require Import Tactic.\n"
                    "Open Scope R_scope.\n")

#: The machine-checked lemmas of docs/theory.md §4: file stem -> (theorems, what it states).
LEMMAS: dict[str, tuple[tuple[str, ...], str]] = {
    "error_lemma": (("error_lemma",),
                    "K3: |Σw(1+δ)v/Σw(1+δ) − Σwv/Σw| <= 2ε/(1+√(1−ε²))·V over finite sums"),
    "taylor_remainder": (("taylor_remainder",),
                         "K1: |T_g(x)e^{−x} − 1| <= e^R R^{g+1}/(g+1)! for |x| <= R"),
    "capacity_counting": (("pigeonhole_count", "prompt_length_lower_bound"),
                          "LB: 2^M members served injectively by K^{dL_p} prompts give "
                          "L_p >= M/(d·log₂K)"),
}

#: The axioms of Coq's standard library (classical real numbers, functional extensionality,
#: excluded middle) a lemma may rest on; any other (an ``Admitted``, an ``Axiom`` of ours)
#: would show in ``Print Assumptions``.
STANDARD_AXIOMS: frozenset[str] = frozenset({
    "ClassicalDedekindReals.sig_forall_dec", "ClassicalDedekindReals.sig_not_dec",
    "FunctionalExtensionality.functional_extensionality_dep", "Classical_Prop.classic"})

_LEMMA_DIR = Path(__file__).resolve().parent / "lemmas"
_MISSING_LIBRARY = "Cannot find a physical path bound to logical path"


@dataclass(frozen=True)
class Goal:
    """One Coq file to prove.

    Attributes:
        prelude: the ``Require`` lines (part of the statement: it fixes what ``R``,
            ``exp``, ... mean).
        lemmas: ``(name, statement)`` pairs, each stated as ``Lemma name : statement.``
        attempts: proof scripts to try in turn; attempt ``k`` has one script per lemma.
    """

    prelude: str
    lemmas: tuple[tuple[str, str], ...]
    attempts: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not self.attempts:
            raise InvalidArgument("a Goal needs at least one attempt")
        if any(len(a) != len(self.lemmas) for a in self.attempts):
            raise InvalidArgument("every attempt needs one proof script per lemma")
        for name, _ in self.lemmas:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise InvalidArgument(f"lemma name={name!r}: expected a Coq identifier")

    @property
    def statement(self) -> str:
        """The prelude and every lemma's statement, without proofs (what is hashed)."""
        return self.prelude + "".join(f"Lemma {n} : {s}.\n" for n, s in self.lemmas)

    @property
    def digest(self) -> str:
        """SHA-256 of :attr:`statement`: the cache key."""
        return hashlib.sha256(self.statement.encode()).hexdigest()

    def source(self, attempt: int) -> str:
        """The ``.v`` file for attempt ``attempt`` (0-based)."""
        body = "".join(f"\nLemma {n} : {s}.\nProof.\n  {script}\nQed.\n"
                       for (n, s), script in zip(self.lemmas, self.attempts[attempt],
                                                 strict=True))
        return self.prelude + body


@dataclass(frozen=True)
class Proof:
    """What :func:`prove` found.

    Attributes:
        verdict: one of :data:`VERDICTS`.
        digest: SHA-256 of the goal's statement.
        coqc_version: e.g. ``"8.16.1"`` (``None`` when coqc is missing).
        seconds: coqc's wall time over the attempts made (of the original run if cached).
        attempts: attempts made; for ``proved``, the one that succeeded is the last.
        reason: why the verdict is not ``proved`` (coqc's last message), else ``""``.
        cached: read from the cache rather than run now.
        source: the ``.v`` text coqc checked last.
        output: what coqc printed when it accepted the file (e.g. ``Print Assumptions``).
    """

    verdict: str
    digest: str
    coqc_version: str | None
    seconds: float
    attempts: int
    reason: str = ""
    cached: bool = False
    source: str | None = None
    output: str = ""

    @property
    def proved(self) -> bool:
        return self.verdict == "proved"

    def summary(self) -> str:
        """One short line: ``proved (coqc 8.16.1)``, ``not run: coqc not found``, ..."""
        if self.proved:
            return f"proved (coqc {self.coqc_version})"
        return f"{self.verdict}: {self.reason}"[:200]

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "digest": self.digest,
                "coqc_version": self.coqc_version, "seconds": self.seconds,
                "attempts": self.attempts, "reason": self.reason, "cached": self.cached}


# --- the prover and the cache ----------------------------------------------------------


def coqc_path() -> str | None:
    """The ``coqc`` to run: ``$PTLIMITS_COQC`` (a path or a name on ``PATH``), else ``coqc``."""
    return shutil.which(os.environ.get(COQC_ENV) or "coqc")


@lru_cache(maxsize=8)
def coqc_version(path: str) -> str | None:
    """``"8.16.1"`` from ``coqc --version`` (``None`` if it does not answer)."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"version\s+([0-9][^\s]*)", out)
    return found.group(1) if found else None


def cache_dir() -> Path:
    """``$PTLIMITS_COQ_CACHE``, else ``$XDG_CACHE_HOME/ptlimits/coq``, else
    ``~/.cache/ptlimits/coq``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ptlimits" / "coq"


def _schedule_digest(goal: Goal) -> str:
    return hashlib.sha256(json.dumps(goal.attempts).encode()).hexdigest()


#: Verdicts read or written in this process, by (cache folder, digest, coqc version) (named
#: ``_CACHE`` so that tests/conftest.py clears it under mutation testing): an
#: unreadable or unwritable cache folder then costs one proof per process, not one per call.
_CACHE: dict[tuple[str, str, str], tuple[Proof, str]] = {}


def _cached(goal: Goal, version: str) -> Proof | None:
    """A cached verdict for ``goal`` under this coqc version: a proof, or a failure of the
    same attempt schedule (a stronger schedule is tried afresh)."""
    memo = _CACHE.get((str(cache_dir()), goal.digest, version))
    if memo is not None and (memo[0].proved or memo[1] == _schedule_digest(goal)):
        return dataclasses.replace(memo[0], cached=True)
    try:
        entry = json.loads((cache_dir() / f"{goal.digest}.json").read_text())
    except (OSError, ValueError):
        return None
    if (entry.get("digest") != goal.digest or entry.get("coqc_version") != version
            or entry.get("verdict") not in ("proved", "failed")):
        return None
    if entry["verdict"] == "failed" and entry.get("schedule") != _schedule_digest(goal):
        return None
    return Proof(verdict=entry["verdict"], digest=goal.digest, coqc_version=version,
                 seconds=float(entry.get("seconds", 0.0)), attempts=int(entry["attempts"]),
                 reason=str(entry.get("reason", "")), cached=True, source=entry.get("source"),
                 output=str(entry.get("output", "")))


def _store(goal: Goal, proof: Proof) -> None:
    """Write the cache entry atomically (several processes may prove the same goal)."""
    folder = cache_dir()
    _CACHE[(str(folder), goal.digest, proof.coqc_version or "")] = (proof,
                                                                   _schedule_digest(goal))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        entry = {**proof.as_dict(), "schedule": _schedule_digest(goal),
                 "statement": goal.statement, "source": proof.source, "output": proof.output}
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".entry-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(entry, f, indent=1)
        os.replace(tmp, folder / f"{goal.digest}.json")
    except OSError:
        pass                                   # an unwritable cache only costs time


def _run_coqc(coqc: str, source: str, timeout: float) -> tuple[str, str, float]:
    """Compile ``source`` in a fresh folder: ``(outcome, message, seconds)`` with outcome
    ``ok`` (message: coqc's output), ``rejected``, ``timeout`` or ``missing-library``."""
    with tempfile.TemporaryDirectory(prefix="ptlimits-coq-") as tmp:
        path = Path(tmp) / "goal.v"
        path.write_text(source)
        started = time.perf_counter()
        try:
            run = subprocess.run([coqc, "-q", path.name], capture_output=True, text=True,
                                 cwd=tmp, timeout=timeout, check=False,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return "timeout", f"coqc took more than {timeout:g} s", time.perf_counter() - started
        seconds = time.perf_counter() - started
    if run.returncode == 0:
        return "ok", run.stdout, seconds
    message = " ".join((run.stderr + run.stdout).split())
    if _MISSING_LIBRARY in message:
        return "missing-library", message[-300:], seconds
    return "rejected", message[-300:], seconds


def prove(goal: Goal, *, timeout: float = TIMEOUT_S, use_cache: bool = True) -> Proof:
    """Prove ``goal`` with ``coqc``, trying its attempts in turn (cached by statement).

    Never raises for a missing prover: the verdict is then ``"not run"`` with the reason.
    """
    if not isinstance(goal, Goal):
        raise InvalidArgument(f"goal={goal!r}: expected a Goal")
    coqc = coqc_path()
    if coqc is None:
        where = f" ({COQC_ENV}={os.environ[COQC_ENV]!r})" if os.environ.get(COQC_ENV) else ""
        return Proof("not run", goal.digest, None, 0.0, 0, f"coqc not found{where}")
    version = coqc_version(coqc)
    if version is None:
        return Proof("not run", goal.digest, None, 0.0, 0, f"{coqc} --version did not answer")
    if use_cache and (hit := _cached(goal, version)) is not None:
        return hit
    seconds, message = 0.0, ""
    for k in range(len(goal.attempts)):
        source = goal.source(k)
        outcome, message, took = _run_coqc(coqc, source, timeout)
        seconds += took
        if outcome == "ok":
            proof = Proof("proved", goal.digest, version, seconds, k + 1, "", False, source,
                          message)
            _store(goal, proof)
            return proof
        if outcome == "missing-library":
            return Proof("not run", goal.digest, version, seconds, k + 1,
                         "a Coq library is not installed (Interval: Debian libcoq-interval;"
                         f" coqc said: {message[-120:]})", False, source)
        if outcome == "timeout":
            return Proof("inconclusive", goal.digest, version, seconds, k + 1, message, False,
                         source)
    proof = Proof("failed", goal.digest, version, seconds, len(goal.attempts),
                  f"coqc rejected all {len(goal.attempts)} attempts; last: {message}", False,
                  goal.source(len(goal.attempts) - 1))
    _store(goal, proof)
    return proof


# --- the lemmas of docs/theory.md §4 ----------------------------------------------------


def lemma_path(name: str) -> Path:
    """The ``.v`` file of a lemma in :data:`LEMMAS`."""
    if name not in LEMMAS:
        raise InvalidArgument(f"name={name!r}: expected one of {sorted(LEMMAS)}")
    return _LEMMA_DIR / f"{name}.v"


def check_lemma(name: str, *, timeout: float = TIMEOUT_S, use_cache: bool = True) -> Proof:
    """Check the fixed file :func:`lemma_path` ``(name)`` with coqc (cached by its text),
    printing the axioms its theorems rest on (:func:`lemma_axioms` reads them)."""
    text = lemma_path(name).read_text()
    text += "".join(f"\nPrint Assumptions {t}." for t in LEMMAS[name][0]) + "\n"
    # the whole file, proofs included, is the "prelude" of a goal with no further lemmas
    return prove(Goal(prelude=text, lemmas=(), attempts=((),)), timeout=timeout,
                 use_cache=use_cache)


def lemma_axioms(name: str) -> tuple[str, ...]:
    """The axioms the lemma's theorems rest on (coqc's ``Print Assumptions``), sorted.

    Raises:
        HarnessError: the lemma was not proved (coqc missing, or it rejects the file).
    """
    proof = check_lemma(name)
    if not proof.proved:
        raise HarnessError(f"{name}.v was not proved: {proof.summary()}")
    names = set()
    for block in proof.output.split("Axioms:")[1:]:      # one block per theorem
        for line in block.splitlines():
            if line and not line[0].isspace():
                if not re.match(r"[A-Za-z_][\w.']*( :|$)", line):
                    break                                # the next theorem's output
                names.add(line.split(" :")[0].strip())
    return tuple(sorted(names))


# --- K1: the kernel's polynomial -------------------------------------------------------


def coq_rational(value: float | int | Fraction) -> str:
    """The exact value of a float (or rational) as a Coq real: ``(n/d)`` or ``(-(n/d))``."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(f"value={value!r}: expected a finite number")
    q = Fraction(value)
    body = f"({abs(q.numerator)}/{q.denominator})"
    return body if q >= 0 else f"(-{body})"


_RATIONAL = r"\((-?)\(?(\d+)/(\d+)\)?\)"


def _read_rational(text: str) -> Fraction:
    found = re.fullmatch(_RATIONAL, text.strip())
    if found is None:
        raise InvalidArgument(f"{text!r} is not a rational written by coq_rational")
    sign, n, d = found.groups()
    return Fraction(int(n), int(d)) * (-1 if sign else 1)


def _polynomial(coefficients: Sequence[float]) -> str:
    return " + ".join(f"{coq_rational(c)} * x ^ {j}" for j, c in enumerate(coefficients))


def _k1_sup(coefficients: Sequence[float], radius: float, bound: float) -> str:
    r = coq_rational(radius)
    return (f"forall x : R, -{r} <= x <= {r} -> "
            f"Rabs (({_polynomial(coefficients)}) * exp (- x) - 1) <= {coq_rational(bound)}")


def _k1_point(coefficients: Sequence[float], witness: float, bound: float) -> str:
    w = coq_rational(witness)
    return (f"forall x : R, {w} <= x <= {w} -> "
            f"{coq_rational(bound)} < Rabs (({_polynomial(coefficients)}) * exp (- x) - 1)")


def interval_scripts(degree: int, radius: float, bound: float,
                     coefficients: Sequence[float]) -> tuple[str, ...]:
    """``interval`` calls for the K1 bound, weakest first (three attempts).

    Taylor-model degree ``max(10, g + 3)``: the model then represents ``p`` itself and the
    remainder is exp's. Precision: enough bits for relative accuracy ``bound/2^30`` of
    ``p(x)e^{−x}``, whose terms reach ``P̃(R)e^R`` (``P̃(R) = Σ|c_j|R^j``), at least 80.
    Bisection depth 15. Each retry adds 6 to the degree, ``bits − 50`` bits of precision
    and 12 levels of bisection.
    """
    scale = sum(abs(c) * radius**j for j, c in enumerate(coefficients)) * math.exp(radius)
    bits = max(80, math.ceil(math.log2(max(scale, 1.0) / bound)) + 30)
    out = []
    for k in range(3):
        out.append(f"intros x Hx.\n  interval with (i_taylor x, i_degree "
                   f"{max(10, degree + 3) + 6 * k}, i_bisect x, i_depth {15 + 12 * k}, "
                   f"i_prec {bits + (bits - 50) * k}).")
    return tuple(out)


def k1_goal(coefficients: Sequence[float], radius: float, bound: float,
            refuted: tuple[Sequence[float], float] | None = None) -> Goal:
    """K1 as a Coq goal: ``k1_bound`` states ``∀x ∈ [−R, R], |p(x)e^{−x} − 1| <= bound``
    with ``p(x) = Σ c_j x^j`` (exact rationals of the floats); with ``refuted =
    (coefficients of degree g − 1, witness)``, ``k1_minimal`` states ``bound <
    |p_{g−1}(w)e^{−w} − 1|`` at the witness ``w``."""
    coefficients = tuple(float(c) for c in coefficients)
    if not coefficients:
        raise InvalidArgument("coefficients is empty: a polynomial needs a constant term")
    radius, bound = float(radius), float(bound)
    if not (radius >= 0 and bound > 0):
        raise InvalidArgument(f"radius={radius!r}, bound={bound!r}: expected R >= 0, bound > 0")
    scripts = interval_scripts(len(coefficients) - 1, radius, bound, coefficients)
    lemmas = [("k1_bound", _k1_sup(coefficients, radius, bound))]
    if refuted is not None:
        lower, witness = refuted
        lemmas.append(("k1_minimal", _k1_point(lower, float(witness), bound)))
        point = [f"intros x Hx.\n  interval with (i_prec {80 + 40 * k})."
                 for k in range(len(scripts))]
        attempts: tuple[tuple[str, ...], ...] = tuple(zip(scripts, point, strict=True))
    else:
        attempts = tuple((s,) for s in scripts)
    return Goal(prelude=INTERVAL_PRELUDE, lemmas=tuple(lemmas), attempts=attempts)


def plan_goal(plan: Any) -> Goal:
    """:func:`k1_goal` for a :class:`core.kernels.KernelPlan`: its polynomial on its radius
    with bound its ``ε``, and the refutation of degree ``g − 1`` at arb's witness."""
    ref = plan.refutation
    refuted = (ref.coefficients, ref.witness) if ref is not None and ref.witness is not None \
        else None
    return k1_goal(plan.polynomial.coefficients, plan.radius, plan.eps, refuted)


@dataclass(frozen=True)
class K1Statement:
    """The numbers a K1 goal states, read back from its text (exact rationals); ``minimal``
    is ``(coefficients of degree g − 1, witness)`` when the goal has ``k1_minimal``."""

    coefficients: tuple[Fraction, ...]
    radius: Fraction
    bound: Fraction
    minimal: tuple[tuple[Fraction, ...], Fraction] | None = None


def _read_polynomial(poly: str) -> tuple[Fraction, ...]:
    coefficients = []
    for j, term in enumerate(poly.split(" + ")):
        value, _, power = term.rpartition(" * x ^ ")
        if power != str(j):
            raise InvalidArgument(f"the term {term!r} is not the x^{j} term")
        coefficients.append(_read_rational(value))
    return tuple(coefficients)


def read_k1_statement(statement: str) -> K1Statement:
    """Read ``k1_bound``'s coefficients, ``R`` and bound back from a goal's statement text.

    Independent of the writer's code path: a coefficient written wrong (one ulp off, say)
    reads back as a different rational.
    """
    found = re.search(r"Lemma k1_bound : forall x : R, -(\S+) <= x <= (\S+) -> "
                      r"Rabs \(\((.*)\) \* exp \(- x\) - 1\) <= (\S+)\.\n", statement)
    if found is None:
        raise InvalidArgument("statement has no k1_bound lemma in the form k1_goal writes")
    low, high, poly, bound = found.groups()
    if low != high:
        raise InvalidArgument(f"k1_bound's interval [-{low}, {high}] is not symmetric")
    minimal = None
    point = re.search(r"Lemma k1_minimal : forall x : R, (\S+) <= x <= (\S+) -> (\S+) < "
                      r"Rabs \(\((.*)\) \* exp \(- x\) - 1\)\.\n", statement)
    if point is not None:
        w_low, w_high, w_bound, w_poly = point.groups()
        if w_low != w_high or w_bound != bound:
            raise InvalidArgument("k1_minimal is not a point statement at k1_bound's bound")
        minimal = (_read_polynomial(w_poly), _read_rational(w_low))
    return K1Statement(_read_polynomial(poly), _read_rational(high), _read_rational(bound),
                       minimal)


# --- LB: the least prompt length, per instance ---------------------------------------------


def counting_goal(M: int, d: int, K: int, Lp: int) -> Goal:
    """``L_p`` is the least length with ``K^{d·L_p} >= 2^M`` (core.bounds.min_prompt_length_exact),
    as Coq integer facts decided by ``vm_compute``."""
    for name, value, low in (("M", M, 0), ("d", d, 1), ("K", K, 2), ("Lp", Lp, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InvalidArgument(f"{name}={value!r}: expected an integer >= {low}")
    lemmas = [("reaches", f"(2 ^ {M} <= {K} ^ ({d} * {Lp}))%Z")]
    scripts = ["apply Z.leb_le; vm_compute; reflexivity."]
    if Lp > 0:
        lemmas.append(("least", f"({K} ^ ({d} * {Lp - 1}) < 2 ^ {M})%Z"))
        scripts.append("apply Z.ltb_lt; vm_compute; reflexivity.")
    return Goal(prelude="From Coq Require Import ZArith.\n", lemmas=tuple(lemmas),
                attempts=(tuple(scripts),))
