"""Figures for the audit report, drawn with matplotlib (Agg) from the report's data only.

Each function takes the report dict and returns a list of :class:`Figure` (title, caption,
PNG bytes); a figure whose data is absent (its claims were not selected) is simply omitted.
What they show: the capacity lower bound LB against d·L and 1/ε (docs/theory.md §2), the
universal construction's error against ε (§2 U), the kernel's phase transition and benchmark
(§3 K5, K6; T is conditional and only illustrated), error/bound against every drawn
parameter, the per-head regime of real models and the empirical capacity sweep.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

__all__ = ["CAPACITY_TITLE", "Figure", "all_figures", "capacity_figure",
           "real_models_figure"]


@dataclass(frozen=True)
class Figure:
    title: str
    caption: str
    png: bytes


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _entry(report: dict[str, Any], claim_id: str) -> dict[str, Any] | None:
    return next((e for e in report["claims"] if e["id"] == claim_id), None)


def _records(report: dict[str, Any], claim_id: str) -> list[dict[str, Any]]:
    entry = _entry(report, claim_id)
    return list(entry["records"]) if entry else []


def prompt_length_figure(report: dict[str, Any]) -> list[Figure]:
    """Lower-bound prompt length against d·L and against 1/ε (log scale)."""
    rows = [r for r in _records(report, "lower_bound_formulas_agree")
            if r["detail"].get("Lp_exact")]
    if not rows:
        return []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, wspace=0.3)
    by_dl = sorted({(r["detail"]["dL"], r["detail"]["Lp_exact"]) for r in rows
                    if r["instance"]["eps_den"] == 4 and r["instance"]["C_num"] == 2
                    and r["instance"]["K"] == 256})
    by_eps = sorted({(r["detail"]["inv_eps"], r["detail"]["Lp_exact"]) for r in rows
                     if r["detail"]["dL"] == 2 and r["instance"]["C_num"] == 1
                     and r["instance"]["C_den"] == 1 and r["instance"]["K"] == 256})
    for ax, series, xlabel in ((ax1, by_dl, "d·L  (C = 2, ε = 1/4)"),
                               (ax2, by_eps, "1/ε  (C = 1, d·L = 2)")):
        if series:
            ax.semilogy([x for x, _ in series], [y for _, y in series], "o-",
                        label="lower bound L_p* (K = 256 levels)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("prompt tokens")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    constructive = [r["detail"] for r in _records(report,
                                                    "constructive_lengths_respect_lower_bound")
                    if r["detail"].get("Lp_constructive")]
    for ax, key in ((ax1, "dL"), (ax2, "inv_eps")):
        if constructive:
            ax.scatter([c[key] for c in constructive], [c["Lp_constructive"]
                                                        for c in constructive],
                       marker="s", s=18, color="tab:orange", alpha=0.7,
                       label="constructive (universal / memorising; various C, ε)")
            ax.legend(fontsize=7)
    caption = ("Capacity lower bound L_p* = min{L_p : K^(d·L_p) ≥ 2^M}, M = ⌊C/(2ε)⌋^(dL), "
               "computed in exact integers: exponential in d·L, polynomial of degree d·L in "
               "1/ε. Squares: prompt lengths of the project's constructions (each checked "
               "against the lower bound for its own C, ε and bits per prompt entry).")
    return [Figure("Prompt length: lower bound against d·L and 1/ε", caption, _png(fig))]


def phase_transition_figure(report: dict[str, Any]) -> list[Figure]:
    """Minimal rank against B/√log n for each n, with n as the line to cross."""
    rows = [r for r in _records(report, "kernel_phase_transition")
            if r["detail"].get("ratios") and r["detail"].get("log_rank_over_n")]
    if not rows:
        return []
    # One curve per n: prefer s = 8 (the benchmark's head dimension), else the first seen.
    curves: dict[int, dict[str, Any]] = {}
    for r in rows:
        n = int(r["instance"]["log2_n"])
        if n not in curves or (r["instance"].get("s") == 8 != curves[n]["instance"].get("s")):
            curves[n] = r
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for n, r in sorted(curves.items()):
        ax.plot(r["detail"]["ratios"], r["detail"]["log_rank_over_n"], "-",
                label=f"n = 2^{n} (s = {r['instance'].get('s')})")
    ax.axhline(0.0, color="black", lw=1, label="rank = n")
    ax.set_xlabel("B / √log n")
    ax.set_ylabel("log(minimal rank / n)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.subplots_adjust(right=0.75)
    return [Figure("Phase transition (illustration of T)",
                   "Minimal rank meeting δ_F = 1/n against B/√log n; above the line the "
                   "polynomial method is no cheaper than exact attention. Conditional on "
                   "SETH, claim T says no algorithm avoids this; this figure only illustrates "
                   "it.", _png(fig))]


def universality_error_figure(report: dict[str, Any]) -> list[Figure]:
    """Sampled sup error and certified d_p bound of the universal construction against ε."""
    series = (("universal_sampled_error_below_eps", "o", "sampled sup error ‖τ_P(X) − f(X)‖"),
              ("universal_certified_dp_below_eps", "s", "certified d_p bound"))
    data = [(label, marker, [(r["instance"]["eps"], r["error"]) for r in _records(report, cid)
                             if r["error"] is not None])
            for cid, marker, label in series]
    if not any(points for _, _, points in data):
        return []
    fig, ax = plt.subplots(figsize=(6.5, 4))
    eps_values: set[float] = set()
    for label, marker, points in data:
        if points:
            ax.scatter([x for x, _ in points], [y for _, y in points], marker=marker, s=22,
                       label=label, alpha=0.8)
            eps_values |= {x for x, _ in points}
    grid = sorted(eps_values)
    ax.plot(grid, grid, "k--", lw=1, label="ε (the bound)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ε requested")
    ax.set_ylabel("error")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return [Figure("Universal construction: error against ε",
                   "One frozen τ per (d, L, C, ε), prompts built per target; every point must "
                   "lie below the dashed line.", _png(fig))]


def _numeric_fields(records: Iterable[dict[str, Any]]) -> list[str]:
    fields: dict[str, set[float]] = {}
    for r in records:
        for k, v in r["instance"].items():
            if k != "seed" and isinstance(v, (int, float)) and not isinstance(v, bool):
                fields.setdefault(k, set()).add(float(v))
    return [k for k, vals in fields.items() if len(vals) > 1]


def parameter_figures(report: dict[str, Any]) -> list[Figure]:
    """For each claim: error/bound against each drawn numeric parameter."""
    figures = []
    for entry in report["claims"]:
        records = [r for r in entry["records"] if r["error"] is not None and r["bound"]]
        fields = _numeric_fields(records)[:6]
        if not records or not fields:
            continue
        cols = min(3, len(fields))
        rows = math.ceil(len(fields) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.6 * rows), squeeze=False)
        for ax, field in zip(axes.flat, fields, strict=False):
            xs = [float(r["instance"][field]) for r in records]
            ys = [max(r["error"] / r["bound"], 1e-18) for r in records]
            ax.scatter(xs, ys, s=10, c=["tab:blue" if r["holds"] else "tab:red"
                                        for r in records])
            ax.axhline(1.0, color="black", lw=1)
            ax.set_yscale("log")
            ax.set_xlabel(field)
            ax.set_ylabel("error / bound")
            ax.grid(True, alpha=0.3)
        for ax in list(axes.flat)[len(fields):]:
            ax.axis("off")
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.2 / rows, top=0.95, wspace=0.45,
                            hspace=0.6)
        figures.append(Figure(f"{entry['id']}: error/bound against drawn parameters",
                              "Each point is one measured instance; the claim holds below "
                              "the line at 1 (red points broke it).", _png(fig)))
    return figures


def kernel_benchmark_figure(report: dict[str, Any]) -> list[Figure]:
    """Kernel and exact-attention time and error against n (log-log, fitted slopes)."""
    bench = report.get("benchmarks") or {}
    rows = [r for r in bench.get("rows", []) if r.get("seconds") and r.get("n")
            and r.get("B") == bench.get("B")]
    methods = sorted({r["method"] for r in rows})
    if not methods:
        return []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.14, wspace=0.28)
    for method in methods:
        pts = sorted((r["n"], r["seconds"], r.get("max_error")) for r in rows
                     if r["method"] == method)
        if len(pts) < 2:
            continue
        ns, ts = [p[0] for p in pts], [p[1] for p in pts]
        slope = (math.log(ts[-1]) - math.log(ts[0])) / (math.log(ns[-1]) - math.log(ns[0]))
        ax1.loglog(ns, ts, "o-", label=f"{method} (slope {slope:.2f})")
        errs = [(n, e) for n, _, e in pts if e]
        if errs:
            ax2.loglog([n for n, _ in errs], [e for _, e in errs], "o-", label=method)
    if bench.get("bound"):
        ax2.axhline(bench["bound"], color="black", ls="--", lw=1, label="guaranteed bound")
    for ax, ylabel in ((ax1, "seconds"), (ax2, "max error vs exact float64")):
        ax.set_xlabel("n (query columns = keys)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    caption = (f"B = {bench.get('B')}, s = d = {bench.get('d')}, δ_F = {bench.get('delta_F')}, "
               f"degree {bench.get('degree')}, rank {bench.get('rank')}; headline speedup "
               f"{bench.get('speedup', float('nan')):.1f}× at n = {bench.get('n')} "
               f"on {bench.get('device')}. Slopes are end-to-end log-log fits.")
    if bench.get("quick"):
        caption += (" This is the --quick benchmark (small n, where exact attention is still "
                    "cheap); the full run 'ptlimits bench kernel' goes to n = 65,536.")
    return [Figure("Polynomial-method kernel: time and error against n", caption, _png(fig))]


CAPACITY_TITLE = "Empirical capacity — empirical — not evidence for or against the theorems"


def _log_plottable(value: Any) -> float | None:
    """``value`` as a float for a log axis, or ``None`` (missing, ``<= 0``, too large)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (OverflowError, TypeError, ValueError):
        return None
    return x if 0 < x < 1e300 else None


def capacity_figure(report: dict[str, Any]) -> list[Figure]:
    """Empirical smallest L_p, constructive L_p and lower-bound L_p per dataset (log y)."""
    capacity = report.get("capacity") or {}
    rows = capacity.get("rows") or []
    if not rows:
        return []
    fig, ax = plt.subplots(figsize=(max(6.5, 1.3 * len(rows) + 3), 4.4))
    xs = list(range(len(rows)))
    labels = [f"d={r['d']}, L={r['L']}, N={r['N']}, ε={r['eps']:g}" for r in rows]
    reached = [(x, _log_plottable(r["smallest_Lp"])) for x, r in zip(xs, rows, strict=True)]
    missed = [(x, _log_plottable(max(r["tried_Lp"]) if r["tried_Lp"] else None))
              for x, r in zip(xs, rows, strict=True) if r["smallest_Lp"] is None]
    series: tuple[tuple[list[tuple[int, float | None]], dict[str, Any]], ...] = (
        ([p for p in reached if p[1] is not None], dict(marker="o", color="tab:blue",
                                                         label="empirical smallest L_p")),
        ([p for p in missed if p[1] is not None],
         dict(marker="o", facecolors="none", edgecolors="tab:blue",
              label="not reached within tried L_p (largest tried)")),
        ([(x, _log_plottable(r["constructive_Lp"])) for x, r in zip(xs, rows, strict=True)],
         dict(marker="s", color="tab:orange", label="constructive L_p")),
        ([(x, _log_plottable(r["lower_bound_Lp"])) for x, r in zip(xs, rows, strict=True)],
         dict(marker="v", color="tab:green", label="lower bound L_p")),
    )
    for candidates, style in series:
        points = [(x, y) for x, y in candidates if y is not None]
        if points:
            ax.scatter([x for x, _ in points], [y for _, y in points], s=46, **style)
    for x, y in missed:
        if y is not None:
            ax.annotate("not reached", (x, y), textcoords="offset points", xytext=(0, -14),
                        ha="center", fontsize=7, color="tab:blue")
    ax.set_yscale("log")
    ax.margins(y=0.2)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("prompt length L_p (log)")
    ax.set_title(CAPACITY_TITLE, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.subplots_adjust(bottom=0.3, left=0.1, right=0.97)
    caption = (f"{capacity.get('label', 'empirical')}: prompts trained by gradient descent to "
               "memorise random datasets on the one-layer model; the smallest tried L_p whose "
               "final error met the target, beside the project's constructive length and the "
               "capacity lower bound. Empirical — not evidence for or against the theorems. "
               "Values beyond 1e300 are not drawn.")
    return [Figure(CAPACITY_TITLE, caption, _png(fig))]


def real_models_figure(report: dict[str, Any]) -> list[Figure]:
    """B/√ln n of every head against its layer, with each model's threshold c*."""
    models = report.get("real_models") or []
    if not models:
        return []
    fig, ax = plt.subplots(figsize=(7.5, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, m in enumerate(models):
        color = colors[k % len(colors)]
        heads = [h for h in m["heads"] if h.get("ratio") is not None]
        short = "/".join(str(m["model"]["path"]).rstrip("/").split("/")[-2:])
        name = (f"{short} ({'prompt' if m.get('adapter') else 'no prompt'}, "
                f"n = {m['n']})")
        ax.scatter([h["layer"] + 0.06 * k for h in heads], [h["ratio"] for h in heads], s=14,
                   color=color, alpha=0.75, label=name)
        if m.get("threshold_ratio"):
            ax.axhline(m["threshold_ratio"], color=color, ls="--", lw=1,
                       label=f"c* for n = {m['n']} (kernel applies below)")
    ax.set_xlabel("layer")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("B / √ln n per head")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.subplots_adjust(right=0.66, bottom=0.14)
    return [Figure("Real models: B/√log n per head",
                   "Each point is one head of a real transformers model on one input (soft "
                   "prompt included); the dashed line is the model's threshold c*: below it a "
                   "certified float64 polynomial plan at δ_F has rank below n. Models without "
                   "a line admit no such plan at their n.", _png(fig))]


def all_figures(report: dict[str, Any]) -> list[Figure]:
    """Every figure the report's data supports, in reading order."""
    return [*kernel_benchmark_figure(report), *universality_error_figure(report),
            *prompt_length_figure(report),
            *phase_transition_figure(report), *real_models_figure(report),
            *capacity_figure(report), *parameter_figures(report)]
