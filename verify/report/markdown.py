"""``audit.md``: the audit report as self-contained Markdown.

Reading order: header, summary table, failing and near-limit claims, the optional "Kernel
benchmark" (the headline table of ``--bench-json``), "Real models" and "Empirical capacity"
sections, then every claim in full (the same sections as ``audit.html``, without figures).
Tables come from :mod:`verify.report.tables`; this module only lays them out.
"""

from __future__ import annotations

from typing import Any

from .tables import (
    CAPACITY_NOTE,
    LEMMAS_NOTE,
    NEAR_LIMIT_RATIO,
    NON_VACUITY_NOTE,
    REGIME_NOTE,
    TARGETS_NOTE,
    TENSION_NOTE,
    assumptions_table,
    benchmark_table,
    capacity_table,
    claims_table,
    evidence_text,
    fmt_number,
    head_table,
    lemmas_table,
    near_limit_ratio,
    needs_attention,
    non_vacuity_table,
    regime_summary_table,
    tension_table,
    user_targets_table,
)

__all__ = ["markdown_table", "render_markdown"]


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A pipe table: header line, separator, one line per row (``|`` in a cell escaped)."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def _claim_lines(e: dict[str, Any], near: bool = False) -> list[str]:
    lines = [f"### `{e['id']}` — {e['status']}", "",
             f"- {e['statement']}",
             f"- docs/theory.md {e['theory_ref']}; paper `{e['paper_ref']}`; "
             f"evidence **{evidence_text(e)}**; {e['n_checked']} checked, {e['n_bad']} bad, "
             f"{e['seconds']:.2f} s",
             f"- bound from: {e['bound_source']}"]
    ratio = near_limit_ratio(e)
    if near and ratio is not None and e["status"] not in ("fail", "error"):
        lines.append(f"- nearest to its bound: error/bound {fmt_number(ratio)} (instances "
                     "exactly at the bound by construction, equal integers, left aside)")
    if e["reason"]:
        lines.append(f"- reason: {e['reason']}")
    if e["n_checked"]:
        es, rs = e["error_stats"], e["ratio_stats"]
        lines.append("- error max/mean/p50/p99: " + " / ".join(
            fmt_number(es[k]) for k in ("max", "mean", "p50", "p99"))
            + "; error/bound: " + " / ".join(fmt_number(rs[k])
                                             for k in ("max", "mean", "p50", "p99")))
    wc = e["worst_case"]
    if wc:
        lines += [f"- worst case: error {fmt_number(wc['error'])} against bound "
                  f"{fmt_number(wc['bound'])} (margin {fmt_number(e['margin'])}, ratio "
                  f"{fmt_number(e['worst_ratio'])})",
                  f"- reproduce: `{wc['reproduce']}`"]
    if e.get("traceback"):
        lines += ["", "```", e["traceback"].rstrip(), "```"]
    lines.append("")
    return lines


def _real_models_lines(report: dict[str, Any]) -> list[str]:
    models = report.get("real_models") or []
    if not models:
        return []
    lines = ["## Real models", "", REGIME_NOTE, "", *markdown_table(*regime_summary_table(models)),
             ""]
    for result in models:
        lines += [f"### {result['model']['path']}"
                  + (f" + {result['adapter']['path']}" if result.get("adapter") else ""), "",
                  *markdown_table(*head_table(result)), ""]
    return lines


def _lemma_lines(report: dict[str, Any]) -> list[str]:
    header, rows = lemmas_table(report)
    if not rows:
        return []
    return ["## Machine-checked lemmas", "", LEMMAS_NOTE, "", *markdown_table(header, rows), ""]


def _benchmark_lines(report: dict[str, Any]) -> list[str]:
    bench = report.get("benchmarks")
    if not bench:
        return []
    return ["## Kernel benchmark", "",
            f"From `{bench.get('source', '--bench-json')}`: the headline (docs/theory.md §3 "
            "K5).", "", *markdown_table(*benchmark_table(bench)), ""]


def _capacity_lines(report: dict[str, Any]) -> list[str]:
    capacity = report.get("capacity")
    if not capacity:
        return []
    return ["## Empirical capacity", "", f"**{capacity['label']}.** {CAPACITY_NOTE}", "",
            *markdown_table(*capacity_table(capacity)), ""]


def _targets_lines(report: dict[str, Any]) -> list[str]:
    targets = report.get("user_targets") or []
    if not targets:
        return []
    lines = ["## Your targets", "", TARGETS_NOTE, "",
             *markdown_table(*user_targets_table(targets)), ""]
    for t in targets:
        lines += [f"### `{t['target']}` ({t['source']})", ""]
        if t["reason"]:
            lines += [f"- reason: {t['reason']}", ""]
        if t["assumptions"]:
            lines += [*markdown_table(*assumptions_table(t)), ""]
    return lines


def _tension_lines(report: dict[str, Any]) -> list[str]:
    """The tension table (first screen), if its claims ran."""
    header, rows = tension_table(report)
    if not rows:
        return []
    return ["## Statistical–computational tension", "", TENSION_NOTE, "",
            *markdown_table(header, rows), "",
            "Figure: audit.html (B/√ln n per construction against the efficient region).", ""]


def _non_vacuity_lines(report: dict[str, Any]) -> list[str]:
    """The non-vacuity table, if a certified universality claim ran."""
    header, rows = non_vacuity_table(report)
    if not rows:
        return []
    return ["## Non-vacuity", "", NON_VACUITY_NOTE, "", *markdown_table(header, rows), ""]


def render_markdown(report: dict[str, Any]) -> str:
    """A self-contained Markdown rendering: header, summary, attention list, details."""
    h, s = report["header"], report["summary"]
    header, rows = claims_table(report)
    lines = [
        "# ptlimits audit",
        "",
        f"- commit `{h['git_commit'] or 'unknown'}`"
        f"{' (dirty)' if h['git_dirty'] else ''}, ptlimits {h['ptlimits_version']}",
        f"- seed {h['seed']}, Hypothesis profile `{h['hypothesis_profile']}`, "
        f"{'quick' if h['quick'] else 'full'} run ({h['draws_per_claim']} draws per claim), "
        f"claims `{h['claims_pattern'] or '*'}`, {h['executor']}",
        f"- {h['machine']['platform']} ({h['machine']['cpu_count']} CPUs), "
        f"Python {h['machine']['python']}, "
        + ", ".join(f"{k} {v}" for k, v in h["versions"].items() if k != "python"),
        f"- started {h['started_at']}, {h['seconds']:.1f} s"
        + (f", {h['resumed_claims']} claims resumed from an earlier run"
           if h["resumed_claims"] else ""),
        "",
        f"**{s['total']} claims: {s['pass']} pass, {s['fail']} fail, {s['xfail']} xfail, "
        f"{s['skip']} skip, {s['error']} error.**",
        "",
        f"> {h['conditional_note']}",
        "",
        *_tension_lines(report),
        "The worst case is the instance with the largest error/bound; bounds differ between "
        "instances (e.g. with ε), so each is shown with its own.",
        "",
        *markdown_table(header, [[f"`{r[0]}`", *r[1:]] for r in rows]),
    ]
    attention = needs_attention(report)
    lines += ["", "## Failing and near-limit claims", ""]
    if attention:
        for e in attention:
            lines += _claim_lines(e, near=True)
    else:
        lines += [f"None: no claim failed and none came within a factor "
                  f"{1 / NEAR_LIMIT_RATIO:.0f} of its bound.", ""]
    lines += _lemma_lines(report)
    lines += _benchmark_lines(report)
    lines += _real_models_lines(report)
    lines += _capacity_lines(report)
    lines += _non_vacuity_lines(report)
    lines += _targets_lines(report)
    lines += ["## All claims", ""]
    for e in report["claims"]:
        lines += _claim_lines(e)
    return "\n".join(lines)
