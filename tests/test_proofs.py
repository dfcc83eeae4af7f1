"""Machine-checked proofs (core.proofs, docs/theory.md §4 evidence ``proved``; K1, K3, LB).

The default tier runs a handful of coqc proofs (about 2 s each): the three lemma files, one
K1 plan, the planted bugs. The rest (every plan the kernel claims and the quick benchmark
use, many drawn K1 instances, the full retry schedule on a false statement) is ``slow``.
Tests that need coqc skip, saying so, where it is not installed; CI installs it (.ci/run).
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import mpmath
import pytest
from hypothesis import HealthCheck, given, settings

from core.errors import ClaimViolation, InvalidArgument
from core.kernels import plan_kernel
from core.kernels.certify import Certificate, certify_polynomial
from core.kernels.plan import plans_built
from core.kernels.polynomial import ExpPolynomial, exp_polynomial
from core.proofs import (
    LEMMAS,
    Goal,
    check_lemma,
    counting_goal,
    k1_goal,
    plan_goal,
    prove,
    read_k1_statement,
)
from core.proofs.coq import CACHE_ENV, COQC_ENV, STANDARD_AXIOMS, coqc_path, lemma_axioms
from properties import claims_kernel
from properties.claim import EVIDENCE_LEVELS
from properties.registry import get_claim
from properties.strategies_kernel import PolynomialInstance, polynomial_instances
from verify.audit import claim_entry

#: Skip where coqc is missing, saying why, except on CI (CI set), where .ci/run installs it
#: and a missing prover must fail rather than leave the lemmas unchecked.
needs_coqc = pytest.mark.skipif(coqc_path() is None and not os.environ.get("CI"),
                                reason="coqc not installed (Debian: coq libcoq-interval)")

K1 = get_claim("kernel_polynomial_certified")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test proves afresh into its own cache folder."""
    folder = tmp_path / "coq-cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@needs_coqc
def test_the_prover_is_installed() -> None:
    """On CI this fails (instead of every proof test skipping) when coqc is missing."""
    assert coqc_path() is not None, "coqc not found: install coq libcoq-interval"


def test_proved_is_the_strongest_level() -> None:
    assert EVIDENCE_LEVELS[-2:] == ("certified", "proved")
    assert K1.evidence == "proved"


# --- the lemma files -------------------------------------------------------------------


@needs_coqc
@pytest.mark.parametrize("name", sorted(LEMMAS))
def test_lemma_file_is_proved_from_standard_axioms_only(name: str) -> None:
    """coqc accepts the file, and its theorems rest on no axiom of ours (no ``Admitted``)."""
    proof = check_lemma(name, use_cache=False)
    assert proof.proved, proof.reason
    assert set(lemma_axioms(name)) <= STANDARD_AXIOMS          # read from that same run
    assert "Admitted" not in (Path(__file__).parents[1] / "core" / "proofs" / "lemmas"
                              / f"{name}.v").read_text()


@needs_coqc
def test_a_broken_lemma_file_is_rejected(tmp_path: Path) -> None:
    """The error lemma with the constant 2 lowered to 1.999 is not provable (two keys attain
    the bound): coqc must reject the statement, so the check is not vacuous."""
    text = (Path(__file__).parents[1] / "core/proofs/lemmas/error_lemma.v").read_text()
    broken = text.replace("<= 2 * eps / (1 + sqrt (1 - eps ^ 2)) * V.",
                          "<= 1999/1000 * eps / (1 + sqrt (1 - eps ^ 2)) * V.")
    assert broken != text
    proof = prove(Goal(prelude=broken, lemmas=(), attempts=((),)))
    assert proof.verdict == "failed"


# --- K1 --------------------------------------------------------------------------------


def test_statement_states_the_exact_coefficients() -> None:
    plan = plan_kernel(s=1, B=0.5, beta=1.0, eps=5e-7)
    read = read_k1_statement(plan_goal(plan).statement)
    assert read.coefficients == tuple(Fraction(c) for c in plan.polynomial.coefficients)
    assert read.radius == Fraction(plan.radius) and read.bound == Fraction(plan.eps)
    assert plan.refutation is not None and read.minimal == (
        tuple(Fraction(c) for c in plan.refutation.coefficients),
        Fraction(plan.refutation.witness))
    with pytest.raises(InvalidArgument, match="k1_bound"):
        read_k1_statement("Lemma other : True.\n")


@needs_coqc
def test_k1_claim_is_proved_and_cached(_private_cache: Path) -> None:
    inst = PolynomialInstance("chebyshev", 0.25, 5e-7)
    first = K1.check(inst)
    assert first.evidence is None and first.detail["proof"].startswith("proved (coqc ")
    assert first.detail["proof_lemmas"] == ["k1_bound", "k1_minimal"]
    entries = list(_private_cache.glob("*.json"))
    assert [e.stem for e in entries if e.stem == first.detail["proof_statement_sha256"]]
    plan = plan_kernel(s=1, B=0.5, beta=1.0, eps=inst.eps, method="chebyshev")
    started = time.perf_counter()
    assert prove(plan_goal(plan)).cached                 # the claim's statement, cached
    again = K1.check(inst)
    assert again.detail == first.detail and time.perf_counter() - started < 1.0
    entry = claim_entry(K1, [inst])
    assert entry["evidence"] == "proved" and entry["evidence_note"] is None


def test_without_coqc_the_claim_stays_certified_and_says_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COQC_ENV, "/nonexistent/coqc")
    inst = PolynomialInstance("taylor", 1.0, 1e-9)
    outcome = K1.check(inst)                            # the arb certificate still holds
    assert outcome.holds and outcome.evidence == "certified"
    assert outcome.detail["proof"].startswith("not run: coqc not found")
    entry = claim_entry(K1, [inst])
    assert entry["evidence"] == "certified" and entry["declared_evidence"] == "proved"
    assert "not run: coqc not found" in entry["evidence_note"]


def test_without_the_interval_library_the_claim_stays_certified(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A coqc that cannot load Interval is "not run", not a failed proof."""
    fake = tmp_path / "coqc"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'The Coq Proof Assistant,"
                    " version 8.16.1'; exit 0; fi\necho 'Error: Cannot find a physical path "
                    "bound to logical path Tactic with prefix Interval.' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv(COQC_ENV, str(fake))
    outcome = K1.check(PolynomialInstance("taylor", 0.25, 5e-7))
    assert outcome.evidence == "certified" and outcome.detail["proof"].startswith("not run")


def _lying_certifier(lie_degree: int) -> Callable[[ExpPolynomial, float], Certificate]:
    """arb's verdicts, except that degree ``lie_degree`` is "certified" at any ε (a planted
    certifier bug: the plan's stated ε is then below its polynomial's true sup)."""
    def certify(poly: ExpPolynomial, eps: float) -> Certificate:
        real = certify_polynomial(poly, eps)
        if poly.degree != lie_degree:
            return real
        return dataclasses.replace(real, verdict="certified", sup_upper=eps, witness=None)
    return certify


@needs_coqc
def test_planted_bound_below_the_true_sup_fails_the_proof_and_the_claim(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan whose degree is one too low (a lying certifier): its ε is below the true sup,
    which arb's own refutation brackets. coqc must reject ``sup <= ε`` and the claim fail."""
    inst = PolynomialInstance("chebyshev", 0.25, 5e-7)
    honest = plan_kernel(s=1, B=0.5, beta=1.0, eps=inst.eps)
    g = honest.degree - 1
    assert certify_polynomial(exp_polynomial("chebyshev", g, honest.radius),
                              inst.eps).verdict == "refuted"      # the true sup exceeds ε
    liar = _lying_certifier(g)
    monkeypatch.setattr(claims_kernel, "_plan", lambda s, B, beta, eps, method: plan_kernel(
        s=s, B=B, beta=beta, eps=eps, method=method, certifier=liar))
    # a false statement fails every attempt (Coq is sound): one attempt here, the full
    # schedule in test_a_false_statement_fails_every_attempt (slow)
    import core.proofs.coq as coq
    scripts = coq.interval_scripts
    monkeypatch.setattr(coq, "interval_scripts", lambda *a: scripts(*a)[:1])
    outcome = K1.measure(inst)
    assert outcome.detail["degree"] == g and outcome.detail["proof"].startswith("failed")
    assert outcome.detail["proof_attempts"] == 1 and not outcome.holds
    with pytest.raises(ClaimViolation, match="failed"):
        K1.check(inst)


@needs_coqc
def test_planted_one_ulp_coefficient_is_not_the_plans_statement(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A generator that writes one coefficient one ulp off states (and Coq proves: ε has
    slack) a *different* polynomial: the statement read back is not the plan's, its hash
    differs (no cache entry of the true statement applies), and the claim fails."""
    import core.proofs.coq as coq

    inst = PolynomialInstance("chebyshev", 0.25, 5e-7)
    plan = plan_kernel(s=1, B=0.5, beta=1.0, eps=inst.eps)
    true_digest = plan_goal(plan).digest
    lead = plan.polynomial.coefficients[-1]
    original = coq.coq_rational

    def off_by_one_ulp(value: float | int | Fraction) -> str:
        return original(math.nextafter(lead, math.inf) if value == lead else value)

    monkeypatch.setattr(coq, "coq_rational", off_by_one_ulp)
    outcome = K1.measure(inst)
    assert outcome.detail["proof"] == "statement is not the plan's polynomial"
    assert outcome.detail["proof_statement_sha256"] != true_digest and not outcome.holds


@needs_coqc
def test_one_ulp_matters_at_a_tight_bound() -> None:
    """Where one ulp does change the truth: for the degree-9 Chebyshev polynomial on
    [−1/2, 1/2], a bound between its sup and the sup after the constant coefficient moves one
    ulp (arb: certified, then refuted) is proved for the first and rejected for the second.
    A false statement is rejected by every attempt (Coq is sound), so one attempt is run."""
    p = exp_polynomial("chebyshev", 9, 0.5)
    with mpmath.workdps(50):
        cs = [mpmath.mpf(c) for c in p.coefficients]
        worst = max((abs(mpmath.polyval(cs[::-1], x) * mpmath.exp(-x) - 1), x) for x in (
            mpmath.mpf(-0.5) + mpmath.mpf(k) / 2000 for k in range(2001)))
        f_at = mpmath.polyval(cs[::-1], worst[1]) * mpmath.exp(-worst[1]) - 1
    step = math.ulp(p.coefficients[0]) * (1 if f_at > 0 else -1)  # moves |f| up at the max
    q = dataclasses.replace(p, coefficients=(p.coefficients[0] + step, *p.coefficients[1:]))
    bound = float(worst[0]) + abs(step) * math.exp(-float(worst[1])) / 2
    assert certify_polynomial(p, bound).verdict == "certified"
    assert certify_polynomial(q, bound).verdict == "refuted"
    first = k1_goal(p.coefficients, p.radius, bound)
    one = dataclasses.replace(first, attempts=first.attempts[:1])
    assert prove(one).proved
    perturbed = k1_goal(q.coefficients, q.radius, bound)
    assert perturbed.digest != first.digest
    assert prove(dataclasses.replace(perturbed, attempts=perturbed.attempts[:1])).verdict \
        == "failed"


def test_goal_refuses_malformed_input() -> None:
    with pytest.raises(InvalidArgument, match="one proof script per lemma"):
        Goal(prelude="", lemmas=(("a", "True"),), attempts=(("exact I.", "exact I."),))
    with pytest.raises(InvalidArgument, match="Coq identifier"):
        Goal(prelude="", lemmas=(("not an id", "True"),), attempts=(("exact I.",),))
    with pytest.raises(InvalidArgument, match="bound"):
        k1_goal((1.0,), 0.5, 0.0)


# --- LB: the least prompt length -----------------------------------------------------------


@needs_coqc
def test_least_prompt_length_is_decided_in_coq() -> None:
    from core.bounds import min_prompt_length_exact, packing_bits

    M = packing_bits(1, 2, Fraction(1), Fraction(1, 8))
    Lp = min_prompt_length_exact(M, 1, 16)
    assert prove(counting_goal(M, 1, 16, Lp)).proved
    assert prove(counting_goal(M, 1, 16, Lp + 1)).verdict == "failed"    # not the least
    if Lp > 0:
        assert prove(counting_goal(M, 1, 16, Lp - 1)).verdict == "failed"  # too short


# --- slow: every plan, many draws, the full schedule ------------------------------------


@needs_coqc
@pytest.mark.slow
def test_every_plan_the_kernel_uses_is_proved() -> None:
    """The plans of every kernel claim's reference points (K1–K7) and of the quick
    benchmark, each proved in Coq; time per proof printed."""
    from verify.bench.kernel import BenchConfig, headline_plan

    for claim_id in ("kernel_factorisation_matches_oracle", "kernel_error_within_lemma_bound",
                     "kernel_cost_model", "kernel_model_error_lipschitz",
                     "training_gradient_within_bound"):
        claim = get_claim(claim_id)
        for inst in claim.reference_points():
            claim.measure(inst)
    headline_plan(BenchConfig(quick=True))
    plans = plans_built()
    assert len(plans) >= 5
    for plan in plans:
        proof = prove(plan_goal(plan))
        assert proof.proved, (plan.summary(), proof.reason, proof.attempts)


@needs_coqc
@pytest.mark.slow
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(inst=polynomial_instances())
def test_drawn_k1_instances_are_proved(inst: PolynomialInstance) -> None:
    """No drawn instance of the K1 claim fails for the prover's sake: each is proved."""
    outcome = K1.check(inst)
    assert outcome.evidence is None, outcome.detail["proof_reason"]


@needs_coqc
@pytest.mark.slow
def test_a_false_statement_fails_every_attempt(tmp_path: Path) -> None:
    p = exp_polynomial("chebyshev", 4, 0.25)
    proof = prove(k1_goal(p.coefficients, p.radius, 1e-9))           # the true sup is ~1e-7
    assert proof.verdict == "failed" and proof.attempts == 3
    assert os.listdir(tmp_path / "coq-cache")                          # failures are cached
    assert prove(k1_goal(p.coefficients, p.radius, 1e-9)).cached
