"""The report's tables, built once: column choice and number formatting for every renderer.

Each ``*_table`` function returns ``(header, rows)``: the column names and rows of already
formatted cells (strings). :mod:`verify.report.markdown`, :mod:`verify.report.html` and
:mod:`verify.report.text` (the command line) only lay them out in their format, so the three
always show the same columns with the same digits.

Tables: the claims summary (one row per claim: docs/theory.md heading, status, evidence
level of docs/theory.md §4, worst error against its bound), the real-model regime summary
(one row per audited model) and per-head table (docs/theory.md §3, the K5/K6 regime
``B/√ln n``), and the empirical-capacity sweep (docs/theory.md §2 LB beside the
constructive lengths), and the kernel benchmark's headline (docs/theory.md §3 K5).
"""

from __future__ import annotations

import math
from typing import Any

from core.proofs.coq import STANDARD_AXIOMS

__all__ = [
    "CAPACITY_NOTE",
    "HEAD_DIGITS",
    "LEMMAS_NOTE",
    "NEAR_LIMIT_RATIO",
    "REGIME_NOTE",
    "TARGETS_NOTE",
    "TENSION_NOTE",
    "Table",
    "assumptions_table",
    "at_bound_by_construction",
    "benchmark_table",
    "capacity_table",
    "claims_table",
    "evidence_label",
    "evidence_text",
    "fmt_number",
    "head_table",
    "lemmas_table",
    "near_limit_ratio",
    "needs_attention",
    "regime_summary",
    "regime_summary_table",
    "tension_rows",
    "tension_table",
    "user_targets_table",
]

#: Above the lemma table: what "proved" means there (docs/theory.md §4).
LEMMAS_NOTE = ("Lemmas the claims' bounds rest on, stated once in docs/theory.md §4 and checked "
               "by coqc (Coq's kernel) for this audit (a verdict cached for the same file "
               "text and coqc version counts); each file is cited with the prover version "
               "and the axioms its theorems rest on.")

#: ``(header, rows)``: column names and rows of formatted cells.
Table = tuple[list[str], list[list[str]]]

#: A claim whose worst error is at least this fraction of its bound is "near the limit".
NEAR_LIMIT_RATIO = 0.5

#: Said wherever the empirical-capacity sweep is shown.
CAPACITY_NOTE = ("Empirical: prompts trained by gradient descent on the one-layer model; "
                 "not evidence for or against the theorems (the lower bound is about every "
                 "prompt, the constructive length about one construction).")

REGIME_NOTE = ("B = max(‖Q‖_max, ‖K‖_max) of one head on the given input (soft prompt "
               "included), R = β·s·B² bounds every score β·q·k, n = L_p + L; the "
               "polynomial-method kernel applies when a certified float64 plan at "
               "ε = 4δ_F/(4+δ_F²) has rank below n, i.e. when B/√ln n < c* "
               "(docs/real-models.md). One input, measured, not a bound over inputs.")


def fmt_number(x: Any, digits: int = 3) -> str:
    """Short human form of a report value: ``—`` for missing, ``yes``/``no`` for a bool,
    ``0`` for an exact zero (also ``-0.0``), ``digits`` significant digits for a float,
    ``str`` otherwise."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return "0" if x == 0 else f"{x:.{digits}g}"
    return str(x)


def at_bound_by_construction(error: float | None, bound: float | None) -> bool:
    """Whether an instance sits *at* its bound exactly, by construction rather than by a
    measurement coming close: error and bound are equal integers (a count or a length
    compared exactly, e.g. "at most one member per prompt", a constructive length equal to
    its lower bound, or 0 against a bound of 0). No rounding separates such an error from its
    bound, so equality is the claim's extremal case and not a warning; a float error that
    merely comes close (0.99999 of its bound) is near the limit."""
    if error is None or bound is None:
        return False
    return error == bound and float(error).is_integer()


def near_limit_ratio(entry: dict[str, Any]) -> float | None:
    """The largest error/bound of a claim's instances, leaving out those at the bound by
    construction (:func:`at_bound_by_construction`); ``None`` if nothing is left."""
    records = [r for r in entry.get("records") or []
               if r["error"] is not None and r["bound"] is not None]
    if not records:
        wc = entry.get("worst_case") or {}
        if at_bound_by_construction(wc.get("error"), wc.get("bound")):
            return None
        ratio: float | None = entry.get("worst_ratio")
        return ratio
    ratios = [r["error"] / r["bound"] if r["bound"] else math.inf
              for r in records if not at_bound_by_construction(r["error"], r["bound"])
              and not (r["bound"] == 0 and r["error"] == 0)]
    return max(ratios, default=None)


def needs_attention(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The claims that failed or errored, or whose instances came within a factor
    ``1/NEAR_LIMIT_RATIO`` of their bound (:func:`near_limit_ratio`: instances exactly at
    the bound by construction do not count). The report's "Failing and near-limit
    claims"."""
    out = []
    for e in report["claims"]:
        ratio = near_limit_ratio(e)
        if e["status"] in ("fail", "error") or (ratio is not None
                                                 and ratio >= NEAR_LIMIT_RATIO):
            out.append(e)
    return out


def evidence_label(e: dict[str, Any]) -> str:
    """The evidence a claim's run reached, flagged when below its declared level
    (``certified (declared proved)``); reports older than per-run evidence show the level."""
    declared = e.get("declared_evidence") or e["evidence"]
    return e["evidence"] if declared == e["evidence"] else \
        f"{e['evidence']} (declared {declared})"


def evidence_text(e: dict[str, Any]) -> str:
    """:func:`evidence_label` with the reason it is lower, if it is."""
    note = e.get("evidence_note")
    return evidence_label(e) + (f": {note}" if note else "")


def _axioms_text(axioms: list[str]) -> str:
    """``Coq standard library only (4)``, or the axioms outside it by name."""
    other = sorted(set(axioms) - STANDARD_AXIOMS)
    return ", ".join(other) if other else f"Coq standard library only ({len(axioms)})"


def lemmas_table(report: dict[str, Any]) -> Table:
    """The machine-checked lemmas (docs/theory.md §4) the audit checked with coqc."""
    header = ["file", "theorems", "states", "verdict", "axioms"]
    rows = [[m["file"], ", ".join(m["theorems"]), m["states"], m["proof"],
             _axioms_text(m.get("axioms") or []) if m["verdict"] == "proved" else "n/a"]
            for m in report["header"].get("lemmas") or []]
    return header, rows


def claims_table(report: dict[str, Any]) -> Table:
    """One row per claim: id, docs/theory.md heading, status, evidence, counts, the worst
    case's error and bound, error/bound and seconds."""
    header = ["claim", "theory", "status", "evidence", "checked", "bad", "worst error",
              "its bound", "error/bound", "s"]
    rows = [[e["id"], e["theory_ref"], e["status"], evidence_label(e), str(e["n_checked"]),
             str(e["n_bad"]), fmt_number((e["worst_case"] or {}).get("error")),
             fmt_number(e["bound"]), fmt_number(e["worst_ratio"]), f"{e['seconds']:.2f}"]
            for e in report["claims"]]
    return header, rows


def regime_summary(result: dict[str, Any]) -> dict[str, Any]:
    """One row per audited model: name, adapter, sizes, worst head and verdict."""
    adapter = result.get("adapter") or {}
    w = result["worst"]
    return {"model": f"{result['model'].get('model_type')} ({result['model']['path']})",
            "adapter": adapter.get("path") or "none", "L_p": result["L_p"], "L": result["L"],
            "n": result["n"], "delta_F": result["delta_F"],
            "worst": f"layer {w['layer']} head {w['head']}", "B": w["B"],
            "ratio": w["ratio"], "R": w["R"], "threshold": result["threshold_ratio"],
            "degree": w.get("degree"), "rank": w.get("rank"),
            "verdict": result["summary"]["verdict"] + _not_audited_note(result)}


def _not_audited_note(result: dict[str, Any]) -> str:
    calls = (result.get("not_audited") or {}).get("calls")
    return f" (encoder; {calls} decoder attention calls not audited)" if calls else ""


_SUMMARY_COLUMNS = (("model", "model"), ("adapter", "adapter"), ("L_p", "L_p"), ("L", "L"),
                    ("n", "n"), ("delta_F", "δ_F"), ("worst", "worst head"), ("B", "B"),
                    ("ratio", "B/√ln n"), ("R", "R"), ("threshold", "c*"),
                    ("degree", "degree"), ("rank", "rank"), ("verdict", "verdict"))


def regime_summary_table(models: list[dict[str, Any]]) -> Table:
    """One row per ``ptlimits regime`` result (:func:`regime_summary`)."""
    header = [name for _, name in _SUMMARY_COLUMNS]
    rows = [[fmt_number(regime_summary(m)[key]) for key, _ in _SUMMARY_COLUMNS] for m in models]
    return header, rows


#: Per-head columns: (key in a head row, column name). ``max_score``, ``taylor_degree`` and
#: ``reason`` may be absent from older results (shown as ``—`` or empty).
_HEAD_COLUMNS = (("layer", "layer"), ("head", "head"), ("Q_max", "‖Q‖max"),
                 ("K_max", "‖K‖max"), ("B", "B"), ("R", "R"), ("max_score", "max |β q·k|"),
                 ("ratio", "B/√ln n"), ("applies", "applies"), ("degree", "degree"),
                 ("rank", "rank"), ("taylor_degree", "Taylor g"), ("reason", "reason"))

#: Significant digits of the per-head numbers (B/√ln n is compared with c* to 4 digits).
HEAD_DIGITS = 4


def head_table(result: dict[str, Any]) -> Table:
    """Every layer and head of one ``ptlimits regime`` result: the norms ``‖Q‖max``,
    ``‖K‖max``, ``B``, the score radius ``R`` and the largest score seen, ``B/√ln n``, whether
    the kernel applies, the certified plan's degree and rank, the Taylor degree, and why."""
    header = [name for _, name in _HEAD_COLUMNS]
    rows = [[str(h.get("reason") or "") if key == "reason"
             else fmt_number(h.get(key), HEAD_DIGITS) for key, _ in _HEAD_COLUMNS]
            for h in result["heads"]]
    return header, rows


def capacity_table(capacity: dict[str, Any]) -> Table:
    """One row per capacity setting: sizes, ε, the target error, the smallest trained L_p
    that met it, the constructive and lower-bound L_p, and the final error per tried L_p."""
    header = ["d", "L", "N", "ε", "target error", "smallest L_p reached", "constructive L_p",
              "lower bound L_p", "final error per tried L_p"]
    rows = [[str(r["d"]), str(r["L"]), str(r["N"]), fmt_number(r["eps"]),
             fmt_number(r["target_error"]),
             "not reached" if r["smallest_Lp"] is None else str(r["smallest_Lp"]),
             fmt_number(r["constructive_Lp"]), str(r["lower_bound_Lp"]),
             ", ".join(f"{lp}: {fmt_number(e)}"
                       for lp, e in zip(r["tried_Lp"], r["final_errors"], strict=True))]
            for r in capacity["rows"]]
    return header, rows


#: The kernel benchmark's headline rows: (key in the embedded benchmark, what it is).
_BENCH_ROWS = (("n", "n (query columns = keys)"), ("B", "B"), ("s", "s = d"),
               ("delta_F", "δ_F"), ("method", "polynomial method"), ("degree", "degree"),
               ("rank", "rank"), ("radius", "score radius used (instance)"),
               ("plan_degree", "degree at the plan radius β·s·B²"),
               ("seconds_fast", "kernel seconds"),
               ("exact_best_method", "fastest exact attention"),
               ("seconds_exact_best", "its seconds"), ("speedup", "speedup ×"),
               ("max_error", "kernel max error vs exact float64"),
               ("bound", "guaranteed bound"), ("slope_fast", "kernel log-log slope"),
               ("slope_exact", "exact log-log slope"),
               ("percent_of_gemm_peak", "kernel GFLOP/s, % of float64 GEMM peak"),
               ("kernel_over_own_gemm", "kernel time / its own GEMM passes"),
               ("performer_max_error", "Performer max error at equal time"),
               ("device", "device"))


def benchmark_table(bench: dict[str, Any]) -> Table:
    """The kernel benchmark's headline (``ptlimits bench kernel --json`` embedded with
    ``--bench-json``): one row per quantity present, with its value."""
    rows = [[name, fmt_number(bench[key])] for key, name in _BENCH_ROWS
            if bench.get(key) is not None]
    for r in bench.get("float32") or []:
        rows.append([f"float32 inputs, {r['arithmetic']} arithmetic",
                     f"{fmt_number(r['seconds'])} s, error {fmt_number(r['max_error'])}, "
                     f"bound + rounding {fmt_number(r['total_bound'])}: "
                     + ("certified" if r["certified"] else "not certified")])
    if bench.get("quick") is not None:
        rows.append(["run", "--quick (small n)" if bench["quick"] else "full"])
    return ["quantity", "value"], rows


#: What the tension table shows (docs/theory.md §2 CM and §3).
TENSION_NOTE = ("Statistical–computational tension: the query/key norm B each construction "
                "induces, against the efficient regime B = o(√ln n) of the polynomial kernel. "
                "Route B and memorisation sit at B = 0 only because their attention is "
                "uniform (W_K = W_Q = 0); the softmax contextual maps (route A, CM) need B "
                "above √ln n. Kernel: the certified degree and rank at that B (δ = 1e-6), or "
                "no float64 plan.")

_TENSION_ROUTES = (("route_A", "route A (softmax contextual map)"),
                   ("route_B", "route B (uniform attention)"),
                   ("memorise", "memorisation (route-B τ)"))


def tension_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per construction and shape, from this run's records of
    ``universal_attention_norm_by_route`` and ``contextual_mapping_separates_all_contexts``
    (first record per shape: the reference points come first)."""
    def claim_records(cid: str) -> list[dict[str, Any]]:
        entry = next((e for e in report["claims"] if e["id"] == cid), None)
        return list(entry["records"]) if entry else []

    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for r in claim_records("universal_attention_norm_by_route"):
        i, det = r["instance"], r["detail"]
        for key, name in _TENSION_ROUTES:
            ident: tuple[Any, ...] = (key, i["d"], i["L"])
            if f"{key}_B" not in det or ident in seen:
                continue
            seen.add(ident)
            rows.append({"construction": name, "shape": f"d={i['d']}, L={i['L']}",
                         "n": det.get(f"{key}_n"), "B": det.get(f"{key}_B"),
                         "ratio": det.get(f"{key}_B_over_sqrt_ln_n"),
                         "R": det.get(f"{key}_score_radius"),
                         "plan": det.get(f"{key}_plan", "certified"),
                         "degree": det.get(f"{key}_degree"), "rank": det.get(f"{key}_rank")})
    for r in claim_records("contextual_mapping_separates_all_contexts"):
        i, det = r["instance"], r["detail"]
        ident = ("cm", i["d"], i["L"], i["Lp"], i["rank"])
        if "B" not in det or ident in seen:
            continue
        seen.add(ident)
        rows.append({"construction": "CM enumeration (Kajitsuka–Sato λ)",
                     "shape": f"d={i['d']}, L={i['L']}, L_p={i['Lp']}, rank {i['rank']}",
                     "n": i["L"] + i["Lp"], "B": det["B"], "ratio": det.get("B_over_sqrt_log_n"),
                     "R": det.get("kernel_score_radius"), "plan": det.get("kernel_plan"),
                     "degree": det.get("kernel_degree"), "rank": det.get("kernel_rank")})
    order = [name for _, name in _TENSION_ROUTES] + ["CM enumeration (Kajitsuka–Sato λ)"]
    return sorted(rows, key=lambda row: order.index(row["construction"]))


def tension_table(report: dict[str, Any]) -> Table:
    """:func:`tension_rows` as a table: B, √ln n, B/√ln n, score radius, kernel need."""
    header = ["construction", "shape", "n", "B", "√ln n", "B/√ln n", "score radius R",
              "kernel at B"]
    body = []
    for row in tension_rows(report):
        n = row["n"]
        root = math.sqrt(math.log(n)) if isinstance(n, int) and n > 1 else None
        kernel = (f"degree {row['degree']}, rank {row['rank']}"
                  if row["plan"] == "certified" and row["degree"] is not None
                  else str(row["plan"] or "—"))
        body.append([row["construction"], row["shape"], str(n), fmt_number(row["B"]),
                     fmt_number(root), fmt_number(row["ratio"]), fmt_number(row["R"]), kernel])
    return header, body


NON_VACUITY_NOTE = ("Non-vacuity: each certified universality target beside a rigorous lower "
                    "bound of the best constant predictor's d_p. The certificate says something "
                    "a constant map cannot only when ε is below that bound. "
                    "universal_certified_beats_best_constant requires it; "
                    "universal_certified_dp_below_eps only reports it.")

#: Claims whose records carry ``best_constant_dp_lower`` (docs/theory.md §4, Non-vacuity).
_NON_VACUITY_CLAIMS = ("universal_certified_beats_best_constant",
                       "universal_certified_dp_below_eps")


def non_vacuity_table(report: dict[str, Any]) -> Table:
    """One row per certified universality target of this run: request, target, certified
    ``d_p``, ``ε``, best-constant lower bound and the verdict."""
    header = ["claim", "request (d, L, C, ε, p, form)", "K", "target", "certified d_p", "ε",
              "best constant d_p ≥", "baseline grid G", "verdict"]
    body = []
    for cid in _NON_VACUITY_CLAIMS:
        entry = next((e for e in report["claims"] if e["id"] == cid), None)
        for r in (entry or {}).get("records", []):
            i, det = r["instance"], r.get("detail") or {}
            low = det.get("best_constant_dp_lower")
            if low is None or "certified_dp" not in det:
                continue
            certified = det.get("certified_below_eps", det["certified_dp"] < i["eps"])
            verdict = ("not certified" if not certified else
                       "non-vacuous" if i["eps"] < low else "vacuous here (a constant may meet ε)")
            body.append([cid, f"{i['d']}, {i['L']}, {i['C']:g}, {i['eps']:g}, {i['p']}, "
                              f"{i['form']}", str(det.get("K", "—")),
                         f"{i['family']}:{i['seed']}", fmt_number(det["certified_dp"]),
                         fmt_number(i["eps"]), fmt_number(low),
                         str(det.get("baseline_grid", "—")), verdict])
    return header, body


TARGETS_NOTE = ("Targets certified with 'ptlimits universal'. A user's function is certified "
                "under its declared assumptions: the Lipschitz constant C and the range [0, 1] "
                "are checked (never contradicted on the points the certificate evaluates) and "
                "assumed elsewhere; its float evaluator's error is declared. The evidence "
                "column says which.")


def user_targets_table(targets: list[dict[str, Any]]) -> Table:
    """One row per ``ptlimits universal --json`` result."""
    header = ["target", "d, L", "C", "ε", "p", "route", "status", "evidence",
              "certified d_p", "best constant d_p ≥", "non-vacuous",
              "sampled sup (good set)", "certified sup (good set)"]
    rows = []
    for t in targets:
        r, c, smp = t["request"], t["certificate"], t["sampled"]
        rows.append([t["target"], f"{r['d']}, {r['L']}", fmt_number(r["C"]),
                     fmt_number(r["eps"]), str(r["p"]), f"{r['route']} ({r['form']})",
                     t["status"], t["evidence"],
                     fmt_number(c["dp_upper"]) if c else "—",
                     fmt_number(t["best_constant"]["dp_lower"]) if t["best_constant"] else "—",
                     ("yes" if t["best_constant"]["non_vacuous"] else "no")
                     if t["best_constant"] else "—",
                     fmt_number(smp["good_sup"]) if smp else "—",
                     fmt_number(c["sup_good_upper"]) if c else "—"])
    return header, rows


def assumptions_table(target: dict[str, Any]) -> Table:
    """What one target's certificate rests on, and how each statement was established."""
    return (["assumption", "status", "how"],
            [[a["statement"], a["status"], a["how"]] for a in target["assumptions"]])
