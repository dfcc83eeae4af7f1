"""``ptlimits certify --out DIR``: write the certificates the audit relies on as plain files
that :mod:`ptcheck` (``ptlimits check DIR``) re-checks without this project's search code.

One file per certificate, and ``DIR/manifest.json`` listing each with its kind, statement,
SHA-256 and checker (the kinds are described in :mod:`ptcheck`):

- ``k1-headline.json`` / ``k1-headline.v``: the headline kernel's certified polynomial
  (docs/theory.md §3 K1): exact coefficients, ``R``, the arb bound, and a Coq proof of the
  same statement (proved with :func:`core.proofs.coq.prove` before it is written — its
  tactic schedule and cache — when ``coqc`` exists);
- ``universal-cells.json``: one certified universality configuration's exact per-cell errors
  (§2 U);
- ``rank.json``: points where the monomial matrix has rank ``C(s+g, g)`` (§3 K4);
- ``counting.json``: the capacity count's least prompt length (§2 LB).

The folder is built beside ``DIR`` and moved into place whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

__all__ = ["write_certificates"]

#: The universality configuration whose cells are written: (d, L, C, ε, p, family, seed).
UNIVERSAL_CONFIG = (1, 2, 1.0, 0.4, 2, "mcshane", 0)

#: The rank certificate's (s, g, extra points) and the counting one's (d, L, C, ε, K).
RANK_CONFIG = (3, 3, 2)
COUNTING_CONFIG = (1, 2, "1", "1/8", 16)


def _q(v: Fraction | float | int) -> str:
    return str(Fraction(v))


def _k1(log: Callable[[str], None]) -> list[tuple[str, str, dict[str, Any] | str, str]]:
    from core.proofs.coq import INTERVAL_PRELUDE, Goal, interval_scripts, prove
    from ptcheck.check import coq_k1_goal

    from .bench.kernel import BenchConfig, headline_plan

    plan = headline_plan(BenchConfig(quick=False))
    poly, cert = plan.polynomial, plan.certificate
    coeffs = [Fraction(c) for c in poly.coefficients]
    radius, bound = Fraction(poly.radius), Fraction(cert.sup_upper)
    statement = (f"sup_(|x| <= {float(radius)}) |p(x) e^-x - 1| <= {float(bound):.6g} for the "
                 f"headline kernel's degree-{poly.degree} {poly.method} polynomial (s={plan.s}, "
                 f"B={plan.B}, beta={plan.beta}); plan eps {plan.eps:.6g}")
    data = {"kind": "k1-enclosure", "statement": statement, "method": poly.method,
            "degree": poly.degree, "coefficients": [_q(c) for c in coeffs],
            "radius": _q(radius), "bound": _q(bound), "plan_eps": _q(plan.eps)}
    entries: list[tuple[str, str, dict[str, Any] | str, str]] = [
        ("k1-headline.json", "k1-enclosure", data, statement)]
    goal = Goal(prelude=INTERVAL_PRELUDE,
                lemmas=(("k1_bound", coq_k1_goal(coeffs, radius, bound)),),
                attempts=tuple((script,) for script in interval_scripts(
                    poly.degree, poly.radius, cert.sup_upper, poly.coefficients)))
    proof = prove(goal)
    log(f"certify: K1 Coq proof: {proof.summary()} ({proof.seconds:.1f} s, "
        f"{'cached' if proof.cached else f'{proof.attempts} attempt(s)'})")
    if proof.verdict in ("failed", "inconclusive"):
        from core.errors import HarnessError

        raise HarnessError(f"K1: coqc did not prove {statement} ({proof.reason}): the "
                           "certificate and the proof disagree")
    # the attempt that succeeded; without coqc the first one ('check' is then inconclusive)
    text = goal.source(proof.attempts - 1 if proof.proved else 0)
    entries.append(("k1-headline.v", "k1-proof", text, statement))
    return entries


def _universal() -> tuple[str, str, dict[str, Any], str]:
    from core.constructions import build_prompt, build_universal
    from core.constructions.certify import certify_universal
    from core.lipschitz import make_target

    d, L, C, eps, p, family, seed = UNIVERSAL_CONFIG
    ut = build_universal(d, L, C, eps, p)
    f = make_target(family, d, L, C, seed, grid=ut.sizes.K)
    cert = certify_universal(ut, build_prompt(ut, f), f)
    statement = (f"d_{p}(tau_P, f) < {eps} for the route-B universal tau (d={d}, L={L}, "
                 f"C={C}) and target {f.name}")
    data = {"kind": "universal-cells", "statement": statement, "d": d, "L": L,
            "K": ut.sizes.K, "p": p, "eps": _q(eps), "eta": _q(ut.sizes.eta),
            "tau_digest": ut.digest(), "target": f.name,
            "cells": [[_q(e) for e in cert.cell_errors[q]] for q in sorted(cert.cell_errors)],
            "dp_power_sum": _q(cert.dp_power_sum)}
    return "universal-cells.json", "universal-cells", data, statement


def _rank() -> tuple[str, str, dict[str, Any], str]:
    import numpy as np

    from core.kernels.features import MonomialFeatures, feature_rank

    s, g, extra = RANK_CONFIG
    feats = MonomialFeatures.build(s, g)
    points = np.random.default_rng(0).integers(-10**6, 10**6, (feature_rank(s, g) + extra, s))
    statement = f"the degree-{g} monomial features in s={s} have exact rank C(s+g, g)"
    data = {"kind": "rank", "statement": statement, "s": s, "g": g,
            "exponents": [[int(a) for a in alpha] for alpha in feats.exponents],
            "points": points.tolist()}
    return "rank.json", "rank", data, statement


def _counting() -> tuple[str, str, dict[str, Any], str]:
    from core.bounds import min_prompt_length_exact, packing_bits

    d, L, C, eps, K = COUNTING_CONFIG
    M = packing_bits(d, L, Fraction(C), Fraction(eps))
    Lp = min_prompt_length_exact(M, d, K)
    statement = (f"prompts of fewer than {Lp} tokens with {K} levels per coordinate cannot "
                 f"approximate every member of the 2^{M} packing (d={d}, L={L}, C={C}, "
                 f"eps={eps})")
    data = {"kind": "counting", "statement": statement, "d": d, "L": L, "C": C, "eps": eps,
            "K": K, "M": M, "Lp": Lp}
    return "counting.json", "counting", data, statement


def write_certificates(out: Path, log: Callable[[str], None] = lambda _: None) -> list[str]:
    """Write every certificate and the manifest into ``out`` (replaced whole); the names."""
    from ptcheck.check import FORMAT

    entries = [*_k1(log), _universal(), _rank(), _counting()]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    manifest = []
    try:
        for name, kind, payload, statement in entries:
            text = payload if isinstance(payload, str) else json.dumps(payload, indent=1) + "\n"
            (build / name).write_text(text)
            checker = "coqc (Coq + Interval)" if kind == "k1-proof" else "ptcheck"
            entry = {"file": name, "kind": kind, "statement": statement, "checker": checker,
                     "sha256": hashlib.sha256(text.encode()).hexdigest()}
            if kind == "k1-proof":
                entry["data"] = "k1-headline.json"
            manifest.append(entry)
        (build / "manifest.json").write_text(json.dumps(
            {"format": FORMAT, "entries": manifest}, indent=1) + "\n")
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(build, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    log(f"certify: wrote {len(manifest)} certificates to {out}")
    return [m["file"] for m in manifest] + ["manifest.json"]
