"""Figures for the audit report, drawn with matplotlib (Agg) from the report's data only.

Each function takes the report dict and returns a list of :class:`Figure` (title, caption,
PNG bytes); a figure whose data is absent (its claims were not selected) is simply omitted.
What they show: the capacity lower bound LB against d·L and 1/ε (docs/theory.md §2), the
universal construction's error against ε (§2 U), the kernel's phase transition and benchmark
(§3 K5, K6; T is conditional and only illustrated), error/bound against every drawn
parameter, the per-head regime of real models and the empirical capacity sweep.

Conventions every figure follows: one colour per method or series name (:func:`colour`,
the same in every panel and figure); legends and labels inside the saved image (tight
bounding box); exact zeros on a log axis drawn in a shaded band labelled ``0`` below the
positive values (:func:`_zero_level`), never clamped to a tiny number; PNGs palette-quantised
so that the page stays small.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator, NullLocator

__all__ = ["CAPACITY_TITLE", "COLOURS", "Figure", "all_figures", "capacity_figure",
           "colour", "kernel_benchmark_figure", "parameter_figures", "phase_transition_figure",
           "prompt_length_figure", "real_models_figure", "tension_figure",
           "universality_error_figure", "universality_growth_figure"]

#: The colour of each method (kernel benchmark rows) and series name, shared by every figure.
COLOURS: dict[str, str] = {
    "exact_reference": "#7f7f7f", "polynomial": "#ff7f0e", "polynomial_sweep": "#ffbb78",
    "sdpa_chunked": "#2ca02c", "sdpa": "#98df8a", "performer_equal_time": "#9467bd",
    "tiled_exact": "#393b79", "keops": "#637939", "polynomial_plan_radius": "#e6550d",
    "holds": "#1f77b4", "broke": "#d62728",
    "lower bound": "#17becf", "constructive": "#8c564b", "empirical": "#e377c2",
    "sampled": "#bcbd22", "certified": "#aec7e8",
}

#: Colours for names not in :data:`COLOURS` (picked by a stable hash of the name).
_SPARE = ("#1f77b4", "#ff9896", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d",
          "#9edae5", "#393b79", "#637939")


def colour(name: str) -> str:
    """The colour of a method or series: fixed for known names, else stable per name."""
    return COLOURS.get(name) or _SPARE[zlib.crc32(name.encode()) % len(_SPARE)]


@dataclass(frozen=True)
class Figure:
    title: str
    caption: str
    png: bytes

    @property
    def width(self) -> int:
        """Pixel width of the PNG (from its header)."""
        return int.from_bytes(self.png[16:20], "big")

    @property
    def height(self) -> int:
        """Pixel height of the PNG (from its header)."""
        return int.from_bytes(self.png[20:24], "big")


#: Resolution of the embedded PNGs, and the palette size they are quantised to.
DPI = 90
_PALETTE_COLOURS = 96


def _png(fig: Any) -> bytes:
    """The figure as a palette PNG, cropped to its artists (no legend or label clipped)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    try:
        from PIL import Image
    except ImportError:            # matplotlib needs Pillow; keep the plain PNG regardless
        return buffer.getvalue()
    buffer.seek(0)
    image = Image.open(buffer).convert("RGB").quantize(colors=_PALETTE_COLOURS,
                                                        method=Image.Quantize.FASTOCTREE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _zero_level(values: Iterable[float | None]) -> float | None:
    """Where exact zeros go on a log axis, or ``None`` if no value is zero: one decade below
    the lowest decade tick of the positive values (``1e-2`` if none is positive)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not any(v == 0 for v in finite):
        return None
    positive = [v for v in finite if v > 0]
    low = min(positive) if positive else 1.0
    return float(10.0 ** (math.floor(math.log10(low)) - 1))


def _at(value: float, zero: float | None) -> float:
    """``value`` as drawn: an exact zero at the zero level."""
    return zero if value == 0 and zero is not None else value


#: Exponents as superscripts (plain text: no mathtext parsing for every tick label).
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _mark_zero_band(ax: Any, zero: float | None) -> None:
    """Label the zero level ``0`` on a log y axis and shade its band (call after plotting)."""
    if zero is None:
        return
    top = ax.get_ylim()[1]
    first = round(math.log10(zero)) + 1
    last = max(first, math.floor(math.log10(top)))
    step = max(1, math.ceil((last - first + 1) / 6))
    exponents = list(range(first, last + 1, step))
    ax.set_yticks([zero, *(10.0 ** k for k in exponents)],
                  ["0", *(f"10{str(k).translate(_SUPERSCRIPT)}" for k in exponents)])
    ax.yaxis.set_minor_locator(NullLocator())
    edge = zero * 10 ** 0.5
    ax.axhspan(zero / 10 ** 0.5, edge, color="0.92", zorder=0, lw=0)
    ax.axhline(edge, color="0.55", lw=0.8, ls=":")
    ax.set_ylim(zero / 10 ** 0.5, max(top, zero * 100))


def _entry(report: dict[str, Any], claim_id: str) -> dict[str, Any] | None:
    return next((e for e in report["claims"] if e["id"] == claim_id), None)


def _records(report: dict[str, Any], claim_id: str) -> list[dict[str, Any]]:
    entry = _entry(report, claim_id)
    return list(entry["records"]) if entry else []


def _constructive_pairs(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each constructive prompt length with the lower bound for *its own* request (the same
    d·L, C, ε and K = 2^b levels per prompt entry), from the records of
    ``constructive_lengths_respect_lower_bound``."""
    return [r["detail"] for r in _records(report, "constructive_lengths_respect_lower_bound")
            if r["detail"].get("Lp_constructive") and r["detail"].get("Lp_lower_bound")]


def prompt_length_figure(report: dict[str, Any]) -> list[Figure]:
    """Lower-bound prompt length against d·L and against 1/ε (log scale), and each
    constructive length divided by its own lower bound."""
    rows = [r for r in _records(report, "lower_bound_formulas_agree")
            if r["detail"].get("Lp_exact")]
    pairs = _constructive_pairs(report)
    if not rows and not pairs:
        return []
    by_dl = sorted({(r["detail"]["dL"], r["detail"]["Lp_exact"]) for r in rows
                    if r["instance"]["eps_den"] == 4 and r["instance"]["C_num"] == 2
                    and r["instance"]["K"] == 256})
    by_eps = sorted({(r["detail"]["inv_eps"], r["detail"]["Lp_exact"]) for r in rows
                     if r["detail"]["dL"] == 2 and r["instance"]["C_num"] == 1
                     and r["instance"]["C_den"] == 1 and r["instance"]["K"] == 256})
    panels = [(series, xlabel) for series, xlabel in
              ((by_dl, "d·L  (C = 2, ε = 1/4)"), (by_eps, "1/ε  (C = 1, d·L = 2)")) if series]
    fig, axes = plt.subplots(1, len(panels) + bool(pairs),
                             figsize=(4.2 * (len(panels) + bool(pairs)), 3.8), squeeze=False)
    for ax, (series, xlabel) in zip(axes.flat, panels, strict=False):
        ax.semilogy([x for x, _ in series], [y for _, y in series], "o-",
                    color=colour("lower bound"), label="lower bound L_p* (K = 256 levels)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("prompt tokens")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    if pairs:
        ax = axes.flat[-1]
        counts: dict[tuple[int, float, bool], int] = {}
        for c in pairs:
            key = (int(c["dL"]), c["Lp_constructive"] / c["Lp_lower_bound"], "N" in c)
            counts[key] = counts.get(key, 0) + 1
        for memorising, marker, label in ((False, "s", "universal"), (True, "D", "memorising")):
            points = [(dl + (0.12 if memorising else -0.12), ratio, n)
                      for (dl, ratio, mem), n in sorted(counts.items()) if mem == memorising]
            if not points:
                continue
            ax.scatter([x for x, _, _ in points], [y for _, y, _ in points], marker=marker,
                       s=[18 + 10 * n for _, _, n in points], color=colour("constructive"),
                       alpha=0.8 if memorising else 0.55, label=f"constructive ({label})")
            for x, y, n in points:
                if n > 1:
                    ax.annotate(f"×{n}", (x, y), textcoords="offset points", xytext=(5, 3),
                                fontsize=7)
        ax.axhline(1.0, color="black", lw=1, ls="--", label="its own lower bound")
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("d·L")
        ax.set_ylabel("constructive L_p / its lower bound")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    caption = ("Capacity lower bound L_p* = min{L_p : K^(d·L_p) ≥ 2^M}, M = ⌊C/(2ε)⌋^(dL), "
               "computed in exact integers: exponential in d·L, polynomial of degree d·L in "
               "1/ε.")
    if pairs:
        caption += (" Right: each constructive prompt length (universal or memorising) "
                    "divided by the lower bound for its own d·L, C, ε and K = 2^b levels per "
                    "prompt entry (b bits, as the construction stores them); every point must "
                    "lie on or above the dashed line at 1, and ×n counts coinciding points.")
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
    return [Figure("Phase transition (illustration of T)",
                   "Minimal rank meeting δ_F = 1/n against B/√log n; above the line the "
                   "polynomial method is no cheaper than exact attention. Conditional on "
                   "SETH, claim T says no algorithm avoids this; this figure only illustrates "
                   "it.", _png(fig))]


def universality_error_figure(report: dict[str, Any]) -> list[Figure]:
    """Sampled sup error and certified d_p bound of the universal construction against ε."""
    series = (("universal_sampled_error_below_eps", "o", "sampled",
               "sampled sup error ‖τ_P(X) − f(X)‖"),
              ("universal_certified_dp_below_eps", "s", "certified", "certified d_p bound"))
    data = [(name, label, marker, [(r["instance"]["eps"], r["error"])
                                   for r in _records(report, cid) if r["error"] is not None])
            for cid, marker, name, label in series]
    if not any(points for _, _, _, points in data):
        return []
    zero = _zero_level(e for _, _, _, points in data for _, e in points)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    eps_values: set[float] = set()
    for name, label, marker, points in data:
        if points:
            ax.scatter([x for x, _ in points], [_at(y, zero) for _, y in points],
                       marker=marker, s=22, label=label, alpha=0.8, color=colour(name))
            eps_values |= {x for x, _ in points}
    grid = sorted(eps_values)
    ax.plot(grid, grid, "k--", lw=1, label="ε (the bound)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _mark_zero_band(ax, zero)
    ax.set_xlabel("ε requested")
    ax.set_ylabel("error")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    caption = ("One frozen τ per (d, L, C, ε), prompts built per target; every point must "
               "lie below the dashed line.")
    if zero is not None:
        caption += " Points in the grey band at 0 are exact zeros."
    return [Figure("Universal construction: error against ε", caption, _png(fig))]


#: Sizes the growth figure draws against the number of grid cells ``K^{dL}``.
_GROWTH_SIZES = (("slots", "table slots N = L·K^dL"), ("units", "hidden units"),
                 ("precision_bits", "precision bits"), ("prompt_tokens", "prompt length L_p"))


def universality_growth_figure(report: dict[str, Any]) -> list[Figure]:
    """Each certified universal configuration's sizes against its ``K^{dL}`` cells, by form
    (from ``universal_certified_dp_below_eps``'s records)."""
    rows = [r["detail"] for r in _records(report, "universal_certified_dp_below_eps")
            if all(r["detail"].get(k) for k in ("cells", "units", "slots"))]
    if not rows:
        return []
    fig, axes = plt.subplots(1, len(_GROWTH_SIZES), figsize=(3.3 * len(_GROWTH_SIZES), 3.4))
    forms = sorted({r["form"] for r in rows})
    for ax, (key, label) in zip(axes, _GROWTH_SIZES, strict=True):
        for form, marker in zip(forms, "osD^", strict=False):
            pts = sorted({(r["cells"], r[key]) for r in rows if r["form"] == form})
            ax.scatter([x for x, _ in pts], [y for _, y in pts], marker=marker, s=20,
                       alpha=0.75, label=form)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("grid cells K^dL")
        ax.set_title(label, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7, title="FF_post form", title_fontsize=7)
    fig.tight_layout()
    caption = ("Sizes of every certified universal construction in this run against its "
               "number of grid cells: the slots grow like L·K^dL; the deep form's units like "
               "M·N², the linear form's like β·N, the wide form's exponentially in N.")
    return [Figure("Universal construction: sizes against K^dL", caption, _png(fig))]


def tension_figure(report: dict[str, Any]) -> list[Figure]:
    """B/√ln n of every construction (tension table rows) against the efficient region."""
    from .tables import tension_rows

    rows = [r for r in tension_rows(report) if r["ratio"] is not None]
    if not rows:
        return []
    zero = _zero_level(r["ratio"] for r in rows)
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(rows) + 1.4))
    labels = [f"{r['construction']}: {r['shape']}" for r in rows]
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows, strict=True):
        ax.scatter([_at(r["ratio"], zero)], [y], s=30, color=colour(r["construction"]),
                   marker="o" if r["plan"] == "certified" else "x", zorder=3)
    low = zero / 10 ** 0.5 if zero is not None else min(r["ratio"] for r in rows) / 3
    ax.set_xscale("log")
    ax.axvspan(low, 1.0, color="#d9f0d3", zorder=0, lw=0, label="B ≤ √ln n (efficient side)")
    ax.axvline(1.0, color="0.4", lw=1, ls="--")
    if zero is not None:
        ax.axvspan(low, zero * 10 ** 0.5, color="0.92", zorder=1, lw=0)
        ax.text(zero, len(rows) - 0.4, "0", ha="center", fontsize=8, color="0.3")
    ax.set_yticks(ys, labels, fontsize=7)
    ax.set_xlabel("B / √ln n  (o: kernel plan certified, x: no float64 plan)")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    caption = ("Route B and memorisation sit in the grey band at B = 0 only because their "
               "attention is uniform; the softmax contextual maps lie right of the dashed "
               "line B = √ln n.")
    return [Figure("Statistical–computational tension: B/√ln n by construction", caption,
                   _png(fig))]


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
        ratios = [r["error"] / r["bound"] for r in records]
        zero = _zero_level(ratios)
        for ax, field in zip(axes.flat, fields, strict=False):
            xs = [float(r["instance"][field]) for r in records]
            ax.scatter(xs, [_at(y, zero) for y in ratios], s=10,
                       c=[colour("holds" if r["holds"] else "broke") for r in records])
            ax.axhline(1.0, color="black", lw=1)
            ax.set_yscale("log")
            _mark_zero_band(ax, zero)
            ax.set_xlabel(field)
            ax.set_ylabel("error / bound")
            ax.grid(True, alpha=0.3)
        for ax in list(axes.flat)[len(fields):]:
            ax.axis("off")
        # Fixed spacing (tight_layout would cost a third of the report's rendering time);
        # the tight bounding box of _png keeps every label inside the image.
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.2 / rows, top=0.95, wspace=0.45,
                            hspace=0.6)
        caption = ("Each point is one measured instance; the claim holds below the line at 1 "
                   "(red points broke it).")
        if zero is not None:
            caption += " Points in the grey band at 0 have error exactly 0."
        figures.append(Figure(f"{entry['id']}: error/bound against drawn parameters",
                              caption, _png(fig)))
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
    curves = {method: sorted((r["n"], r["seconds"], r.get("max_error")) for r in rows
                             if r["method"] == method) for method in methods}
    curves = {m: pts for m, pts in curves.items() if len(pts) >= 2}
    zero = _zero_level([e for pts in curves.values() for _, _, e in pts]
                       + [bench.get("bound")])
    for method, pts in curves.items():
        ns, ts = [p[0] for p in pts], [p[1] for p in pts]
        slope = (math.log(ts[-1]) - math.log(ts[0])) / (math.log(ns[-1]) - math.log(ns[0]))
        ax1.loglog(ns, ts, "o-", color=colour(method), label=f"{method} (slope {slope:.2f})")
        errs = [(n, e) for n, _, e in pts if e is not None]
        if errs:
            exact = all(e == 0 for _, e in errs)
            ax2.loglog([n for n, _ in errs], [_at(e, zero) for _, e in errs], "o-",
                       color=colour(method),
                       label=f"{method} (error 0: the reference)" if exact else method)
    if bench.get("bound"):
        ax2.axhline(bench["bound"], color="black", ls="--", lw=1, label="guaranteed bound")
    _mark_zero_band(ax2, zero)
    for ax, ylabel in ((ax1, "seconds"), (ax2, "max error vs exact float64")):
        ax.set_xlabel("n (query columns = keys)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
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
    # The three series of one setting sit side by side (never hiding each other); each
    # setting's constructive and lower-bound L_p are for its own (d, L, N, ε).
    reached = [(x - 0.15, _log_plottable(r["smallest_Lp"]))
               for x, r in zip(xs, rows, strict=True)]
    missed = [(x - 0.15, _log_plottable(max(r["tried_Lp"]) if r["tried_Lp"] else None))
              for x, r in zip(xs, rows, strict=True) if r["smallest_Lp"] is None]
    series: tuple[tuple[Sequence[tuple[float, float | None]], dict[str, Any]], ...] = (
        ([p for p in reached if p[1] is not None],
         dict(marker="o", color=colour("empirical"), label="empirical smallest L_p")),
        ([p for p in missed if p[1] is not None],
         dict(marker="o", facecolors="none", edgecolors=colour("empirical"),
              label="not reached within tried L_p (largest tried)")),
        ([(x, _log_plottable(r["constructive_Lp"])) for x, r in zip(xs, rows, strict=True)],
         dict(marker="s", color=colour("constructive"), label="constructive L_p")),
        ([(x + 0.15, _log_plottable(r["lower_bound_Lp"]))
          for x, r in zip(xs, rows, strict=True)],
         dict(marker="v", color=colour("lower bound"), label="lower bound L_p")),
    )
    for candidates, style in series:
        points = [(x, y) for x, y in candidates if y is not None]
        if points:
            ax.scatter([x for x, _ in points], [y for _, y in points], s=46, **style)
    for x, y in missed:
        if y is not None:
            ax.annotate("not reached", (x, y), textcoords="offset points", xytext=(0, -14),
                        ha="center", fontsize=7, color=colour("empirical"))
    ax.set_yscale("log")
    ax.margins(y=0.2)
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("prompt length L_p (log)")
    ax.set_title(CAPACITY_TITLE, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    missing = [name for key, name in (("constructive_Lp", "constructive"),
                                      ("lower_bound_Lp", "lower-bound"))
               if not any(_log_plottable(r[key]) for r in rows)]
    caption = (f"{capacity.get('label', 'empirical')}. Prompts trained by gradient descent to "
               "memorise random datasets on the one-layer model: the smallest tried L_p whose "
               "final error met the target (left of each setting), beside the project's "
               "constructive length (middle) and the capacity lower bound (right) for that "
               "setting's own d, L, N and ε. Values beyond 1e300 are not drawn.")
    if missing:
        caption += (f" No {' or '.join(missing)} length is drawn: the sweep gives none "
                    "(— in the table).")
    return [Figure(CAPACITY_TITLE, caption, _png(fig))]


def real_models_figure(report: dict[str, Any]) -> list[Figure]:
    """B/√ln n of every head against its layer, with each model's threshold c*."""
    models = report.get("real_models") or []
    if not models:
        return []
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for k, m in enumerate(models):
        heads = [h for h in m["heads"] if h.get("ratio") is not None]
        short = "/".join(str(m["model"]["path"]).rstrip("/").split("/")[-2:])
        name = (f"{short} ({'prompt' if m.get('adapter') else 'no prompt'}, "
                f"n = {m['n']})")
        color = colour(name)
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
    return [Figure("Real models: B/√log n per head",
                   "Each point is one head of a real transformers model on one input (soft "
                   "prompt included); the dashed line is the model's threshold c*: below it a "
                   "certified float64 polynomial plan at δ_F has rank below n. Models without "
                   "a line admit no such plan at their n.", _png(fig))]


def all_figures(report: dict[str, Any]) -> list[Figure]:
    """Every figure the report's data supports, in reading order."""
    return [*kernel_benchmark_figure(report), *universality_error_figure(report),
            *universality_growth_figure(report), *prompt_length_figure(report),
            *phase_transition_figure(report), *real_models_figure(report),
            *capacity_figure(report), *parameter_figures(report)]
