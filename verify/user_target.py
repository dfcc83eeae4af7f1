"""``ptlimits universal``: one target — ours or a user's function — through the universality
construction, its certificate and a sampled check (docs/theory.md §2 U; docs/bring-your-own.md).

Builds τ for ``(d, L, C, ε, p)`` (route B, or route A with ``--route A``), the prompt
``P(f)``, and the certificate ``d_p(τ_P, f) < ε`` over every grid cell, with the target's
assumptions checked where they can be (:mod:`core.constructions.assumptions`); then samples
good inputs and checks the measured error never exceeds the certified per-cell bound. The
result (``kind: "universal-target"``, schema ``verify/schema/universal-target.schema.json``)
prints as a table, writes with ``--json FILE``, and ``audit --target-json FILE`` embeds it as
the report's "Your targets" section.
"""

from __future__ import annotations

import argparse
import math
import time
from fractions import Fraction
from typing import Any

__all__ = ["add_parser", "format_target_report", "run", "run_target"]

ROUTES = ("A", "B")
FORMS = ("deep", "wide")

#: Good inputs sampled after the certificate (half uniform, half at cells' corners).
SAMPLED_INPUTS = 16


def add_parser(sub: Any) -> None:
    """Register ``universal`` on the CLI's subcommand parser ``sub``."""
    p = sub.add_parser(
        "universal", help="certify one target (a family or your function) through τ_P",
        description="Build the universal τ for (d, L, C, eps, p), the prompt P(f) for one "
                    "target and the certificate d_p(τ_P, f) < eps over every grid cell. "
                    "TARGET is a family (relu_mlp, mcshane, sinusoid, sawtooth) or your "
                    "function as MODULE:NAME or FILE.py:NAME, taking X of shape (d, L) "
                    "and returning (d, L) values in [0, 1], with declared max-norm "
                    "Lipschitz constant --C. The certificate checks that --C is never "
                    "contradicted and that values stay in [0, 1] on every point it "
                    "evaluates, and states what it assumes (evidence 'certified (assuming "
                    "C = ...)'). Exit 0 if certified, 1 if not or an assumption is "
                    "contradicted, 2 on bad input.")
    p.add_argument("--target", required=True, metavar="TARGET",
                   help="a family name or MODULE:NAME / FILE.py:NAME")
    p.add_argument("--C", type=float, required=True,
                   help="Lipschitz constant (max norm), 0 < C <= 64: declared for your "
                        "function, the family's constant otherwise")
    p.add_argument("--d", type=int, required=True, help="token dimension, 1..4")
    p.add_argument("--L", type=int, required=True, help="sequence length, 1..4")
    p.add_argument("--eps", type=float, required=True, help="accuracy in d_p, in (0, 1)")
    p.add_argument("--p", type=int, default=2, help="exponent of d_p, 1..16 (default 2)")
    p.add_argument("--route", choices=ROUTES, default="B",
                   help="B: uniform attention reading digit blocks (default); A: the "
                        "paper's softmax contextual map")
    p.add_argument("--form", choices=FORMS, default="deep",
                   help="route B's FF_post: deep (default) or one wide layer")
    p.add_argument("--seed", type=int, default=0, help="seed of a family's target (default 0)")
    p.add_argument("--exact", default=None, metavar="MODULE:NAME",
                   help="a rigorous evaluator of your function at rational points "
                        "(returns exact values or (lo, hi)); trusted")
    p.add_argument("--value-error", type=float, default=None, metavar="E",
                   help="declared bound on your float function's absolute error, in "
                        "[0, 0.5] (default 2^-42), when --exact is absent")
    p.add_argument("--batched", action="store_true",
                   help="your function accepts a batch (..., d, L)")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="write the result as JSON (atomically; checked before the run)")


def _tau(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """(τ, prompt builder, sizes for the report), sizes checked before anything is built."""
    from core.constructions import build_prompt, build_universal, plan_universal
    from core.constructions.route_a import build_prompt_a, build_route_a, plan_route_a

    if args.route == "A":
        if args.form != "deep":
            raise _invalid(f"--form={args.form!r}: route A has the deep form only")
        plan = plan_route_a(args.d, args.L, args.C, args.eps, args.p)
        ut: Any = build_route_a(args.d, args.L, args.C, args.eps, args.p)
        sizes = {"K": plan.base.K, "M": plan.base.M, "slots": plan.contexts,
                 "prompt_tokens": plan.prompt_tokens, "precision_bits": plan.precision_bits,
                 "B": plan.B, "B_over_sqrt_ln_n": plan.B / math.sqrt(math.log(plan.n)),
                 "n": plan.n}
        return ut, build_prompt_a, sizes
    s = plan_universal(args.d, args.L, args.C, args.eps, args.p, form=args.form)
    ut = build_universal(args.d, args.L, args.C, args.eps, args.p, form=args.form)
    sizes = {"K": s.K, "M": s.M, "slots": s.slots, "prompt_tokens": s.prompt_tokens,
             "precision_bits": s.precision_bits, "B": 0.0, "B_over_sqrt_ln_n": 0.0,
             "n": s.n}
    return ut, build_prompt, sizes


def _invalid(text: str) -> Exception:
    from core.errors import InvalidArgument

    return InvalidArgument(text)


def _sampled_sup(ut: Any, prompt: Any, f: Any, cert: Any, seed: int) -> tuple[float, float]:
    """(largest measured ``‖τ_P(X) − f(X)‖_max`` on good inputs, its largest ratio to the
    certified bound of its cell); τ_P exact (route B) or enclosed (route A), f in float64."""
    import numpy as np

    from core.constructions import cell_index
    from core.constructions.route_a import RouteATransformer
    from properties.strategies_universal import good_inputs

    worst, ratio = 0.0, 0.0
    for X in good_inputs(ut, SAMPLED_INPUTS, seed):
        Xq = [[Fraction(float(v)) for v in row] for row in X]
        if isinstance(ut, RouteATransformer):   # τ_P enclosed: the worse end counts
            lo, hi = (np.array(m, dtype=np.float64) for m in ut.enclose(Xq, prompt))
        else:
            lo = hi = np.array(ut.forward_exact(X, prompt), dtype=np.float64)
        y = f.values(X)
        err = float(max(np.max(np.abs(lo - y)), np.max(np.abs(hi - y))))
        bound = cert.cell_bounds[cell_index(ut.sizes, X)]
        worst = max(worst, err)
        ratio = max(ratio, err / bound if bound > 0 else (0.0 if err == 0 else math.inf))
    return worst, ratio


def run_target(args: argparse.Namespace) -> dict[str, Any]:
    """Build, certify and sample one target (module docstring); the report dict."""
    from core.constructions.certify import certify_universal
    from core.errors import AssumptionViolation
    from core.targets import resolve_target

    t0 = time.perf_counter()
    ut, prompt_of, sizes = _tau(args)
    f = resolve_target(args.target, args.d, args.L, args.C, seed=args.seed,
                       grid=sizes["K"], exact=args.exact, value_error=args.value_error,
                       batched=args.batched)
    report: dict[str, Any] = {
        "kind": "universal-target", "target": f.name, "spec": args.target,
        "request": {"d": args.d, "L": args.L, "C": args.C, "eps": args.eps, "p": args.p,
                    "route": args.route, "form": args.form},
        "tau": {"digest": ut.digest()[:16], **sizes}}
    try:
        prompt = prompt_of(ut, f)
        cert = certify_universal(ut, prompt, f)
    except AssumptionViolation as exc:
        report.update(status="assumption violated", evidence="none", reason=str(exc),
                      certificate=None, assumptions=[], sampled=None, best_constant=None,
                      seconds=time.perf_counter() - t0)
        return report
    from core.constructions.baseline import best_constant_lower

    sup, ratio = _sampled_sup(ut, prompt, f, cert, args.seed)
    trivial = best_constant_lower(f, args.p)
    ok = cert.holds and ratio <= 1.0
    reason = "" if ok else (
        f"certified d_p {cert.dp_upper:.6g} is not below eps={args.eps}" if not cert.holds
        else f"a sampled error exceeds its cell's certified bound (ratio {ratio:.6g})")
    report.update(
        status="pass" if ok else "fail", evidence=cert.evidence, reason=reason,
        certificate={"holds": cert.holds, "dp_upper": cert.dp_upper,
                     "sup_good_upper": cert.sup_good_upper, "cells": cert.cells,
                     "worst_cell": list(cert.worst_cell), "context_gap": cert.context_gap},
        assumptions=[a.as_dict() for a in cert.assumptions],
        sampled={"inputs": SAMPLED_INPUTS, "good_sup": sup, "max_ratio_to_cell_bound": ratio},
        best_constant={"dp_lower": trivial.dp_lower, "grid": trivial.grid,
                       "non_vacuous": cert.holds and args.eps < trivial.dp_lower},
        seconds=time.perf_counter() - t0)
    return report


def format_target_report(report: dict[str, Any]) -> str:
    """The report as Markdown: verdict, sizes, certificate and assumptions."""
    from .report.markdown import markdown_table
    from .report.tables import assumptions_table

    r, t = report["request"], report["tau"]
    lines = [f"### `{report['target']}` — {report['status']}", "",
             f"- request d={r['d']}, L={r['L']}, C={r['C']:g}, ε={r['eps']:g}, p={r['p']}, "
             f"route {r['route']} ({r['form']}); τ {t['digest']}: K={t['K']}, M={t['M']}, "
             f"{t['slots']} slots, L_p={t['prompt_tokens']}, {t['precision_bits']} bits, "
             f"B={t['B']:.4g} (B/√ln n {t['B_over_sqrt_ln_n']:.3g})",
             f"- evidence **{report['evidence']}**"]
    if report["reason"]:
        lines.append(f"- reason: {report['reason']}")
    c = report["certificate"]
    if c is not None:
        lines.append(f"- certified d_p ≤ {c['dp_upper']:.6g} (ε = {r['eps']:g}) over "
                     f"{c['cells']} cells; certified sup off the strips "
                     f"{c['sup_good_upper']:.6g}; sampled sup on "
                     f"{report['sampled']['inputs']} good inputs "
                     f"{report['sampled']['good_sup']:.6g}")
        b = report["best_constant"]
        lines.append(f"- best constant predictor: d_p ≥ {b['dp_lower']:.4g} (rigorous, "
                     f"{b['grid']}-level grid): the certificate is "
                     + ("non-vacuous (no constant meets ε, and τ_P is certified below it)"
                        if b["non_vacuous"] else "vacuous here (a constant may meet ε)"))
    if report["assumptions"]:
        lines += ["", *markdown_table(*assumptions_table(report))]
    lines.append("")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """The ``universal`` command: exit 0 certified, 1 not, 2 bad input (raised)."""
    import json
    from pathlib import Path

    from core.validation import check_int

    from .files import write_atomically
    from .report.load import check_output_file

    check_int("--seed", args.seed, minimum=0, maximum=2**63 - 1)
    out = None
    if args.json is not None:
        if not args.json.strip():
            raise _invalid(f"--json={args.json!r}: empty; expected a file path")
        out = check_output_file("--json", Path(args.json))
    report = run_target(args)
    print(format_target_report(report))
    if out is not None:
        write_atomically(out, json.dumps(report, indent=2, allow_nan=False) + "\n")
        print(f"wrote {out}")
    return 0 if report["status"] == "pass" else 1
