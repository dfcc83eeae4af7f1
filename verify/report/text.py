"""Plain-text tables for the terminal: the layout of :mod:`verify.report.tables` for the
command line, and the ``ptlimits regime`` printout (docs/theory.md §3, the per-head regime
``B/√ln n`` against the model's threshold ``c*``)."""

from __future__ import annotations

from typing import Any

from .tables import HEAD_DIGITS, fmt_number, head_table

__all__ = ["format_regime_table", "text_table"]


def text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Aligned columns two spaces apart: every column right-aligned except the last (free
    text, left-aligned)."""
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return ["  ".join([*(v.rjust(w) for v, w in zip(row[:-1], widths[:-1], strict=True)),
                       row[-1]]).rstrip() for row in table]


def format_regime_table(result: dict[str, Any]) -> str:
    """The per-head table printed by ``ptlimits regime``, with the sizes above and the worst
    head and verdict below."""
    adapter = result["adapter"]
    w = result["worst"]
    return "\n".join([
        f"model {result['model']['path']} ({result['model']['model_type']}, "
        f"{result['model']['class']}); adapter "
        f"{adapter['path'] if adapter else 'none'}",
        f"L_p = {result['L_p']}, L = {result['L']}, n = {result['n']}, √ln n = "
        f"{result['sqrt_log_n']:.4g}; δ_F = {result['delta_F']:.4g} ({result['delta_F_rule']}"
        f", units of ‖V‖_max), ε = {result['eps']:.4g}; threshold c* = "
        f"{fmt_number(result['threshold_ratio'], HEAD_DIGITS)}",
        "R = β·s·B² bounds every score β·q·k; applies = certified float64 plan with "
        "rank < n",
        "",
        *text_table(*head_table(result)),
        "",
        f"worst head: layer {w['layer']} head {w['head']}, B = {w['B']:.4g}, "
        f"B/√ln n = {fmt_number(w['ratio'], HEAD_DIGITS)}, R = {w['R']:.4g}",
        f"verdict: {result['summary']['verdict']}",
        *_not_audited_lines(result)])


def _not_audited_lines(result: dict[str, Any]) -> list[str]:
    skipped = result.get("not_audited") or {}
    if not skipped.get("calls"):
        return []
    return [f"not audited: {skipped['calls']} attention calls "
            f"({', '.join(skipped['modules'])}): {skipped['why']}"]
