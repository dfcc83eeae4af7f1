"""``audit.html``: the audit report as one self-contained page (inline CSS, figures embedded
as base64 PNG, no scripts).

Reading order: header with a list of the sections, summary table, failing and near-limit
claims with their worst cases, the optional "Kernel benchmark" section (headline table and
figure), figures, the optional "Real models" and "Empirical capacity" sections (each with its
figure), then every claim in full. Tables come from :mod:`verify.report.tables`; this module
only lays them out.

Every id on the page is unique: sections are ``#summary``, ``#attention``, ``#benchmark``,
``#figures``, ``#real-models``, ``#capacity``, ``#claims``; a claim's full entry is
``#claim-ID`` (where the summary links), its copy among the near-limit claims ``#near-ID``.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from . import plots
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

__all__ = ["claim_anchor", "html_table", "render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1100px;color:#1a1a1a;line-height:1.45;padding:0 1em}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.9em;margin:.6em 0}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#137333;font-weight:600} .fail,.error{color:#b3261e;font-weight:600}
.xfail,.skip{color:#8a6d00;font-weight:600}
code{background:#f5f5f5;padding:0 .2em;border-radius:3px;font-size:.92em;word-break:break-all}
.note{background:#fff8e1;border-left:4px solid #f0c000;padding:.5em .8em}
figure{margin:1.2em 0} figure img{max-width:100%;height:auto;border:1px solid #eee}
nav a{margin-right:.9em} .scroll{overflow-x:auto} .narrow table{width:auto}
figcaption{font-size:.9em;color:#444} .muted{color:#666;font-size:.9em}
details{margin:.4em 0} pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _status(s: str) -> str:
    return f'<span class="{_e(s)}">{_e(s)}</span>'


#: Columns of the claims table shown right-aligned (counts and numbers).
_NUMERIC = frozenset(("checked", "bad", "worst error", "its bound", "error/bound", "s"))


def claim_anchor(claim_id: str, prefix: str = "claim") -> str:
    """The page id of a claim's entry: ``claim-ID`` in "All claims", ``near-ID`` among the
    near-limit claims (claim ids are snake_case, so these never clash with a section id)."""
    return f"{prefix}-{claim_id}"


def _summary_table(report: dict[str, Any]) -> str:
    header, rows = claims_table(report)

    def cell(name: str, value: str) -> str:
        if name == "claim":
            return (f"<td><a href='#{_e(claim_anchor(value))}'><code>{_e(value)}</code></a>"
                    "</td>")
        if name == "status":
            return f"<td>{_status(value)}</td>"
        return f"<td class=num>{_e(value)}</td>" if name in _NUMERIC else f"<td>{_e(value)}</td>"

    body = "".join("<tr>" + "".join(cell(name, value) for name, value in
                                    zip(header, row, strict=True)) + "</tr>" for row in rows)
    return ("<p class=muted>The worst case is the instance with the largest error/bound; "
            "bounds differ between instances (e.g. with ε), so each is shown with its own."
            "</p><div class=scroll><table><tr>" + "".join(f"<th>{_e(c)}</th>" for c in header)
            + "</tr>" + body + "</table></div>")


def _worst_case(e: dict[str, Any]) -> str:
    wc = e["worst_case"]
    if not wc:
        return ""
    detail = "".join(f"<tr><td>{_e(k)}</td><td><code>{_e(v)}</code></td></tr>"
                     for k, v in wc["detail"].items() if len(str(v)) < 300)
    return (f"<p>Worst case: error <b>{fmt_number(wc['error'])}</b> against bound "
            f"<b>{fmt_number(wc['bound'])}</b> (margin {fmt_number(e['margin'])}).</p>"
            f"<p>Reproduce: <code>{_e(wc['reproduce'])}</code></p>"
            + (f"<details><summary>detail</summary><table>{detail}</table></details>"
               if detail else ""))


def _claim_section(e: dict[str, Any], prefix: str = "claim") -> str:
    es, rs = e["error_stats"], e["ratio_stats"]
    stats = ""
    if e["n_checked"]:
        stats = ("<table><tr><th></th><th>max</th><th>mean</th><th>p50</th><th>p99</th></tr>"
                 + "".join(f"<tr><td>{name}</td>" + "".join(
                     f"<td class=num>{fmt_number(s[k])}</td>" for k in ("max", "mean", "p50",
                                                                          "p99")) + "</tr>"
                           for name, s in (("error", es), ("error / bound", rs))) + "</table>")
    reason = f"<p>Reason: {_e(e['reason'])}</p>" if e["reason"] else ""
    trace = f"<details><summary>traceback</summary><pre>{_e(e['traceback'])}</pre></details>" \
        if e.get("traceback") else ""
    near = ""
    if prefix == "near":
        ratio = near_limit_ratio(e)
        near = (f"<p>Nearest to its bound: error/bound <b>{fmt_number(ratio)}</b> (instances "
                "exactly at the bound by construction, equal integers, left aside). "
                f"<a href='#{_e(claim_anchor(e['id']))}'>Full entry</a>.</p>"
                if ratio is not None and e["status"] not in ("fail", "error") else "")
    return (f"<h3 id='{_e(claim_anchor(e['id'], prefix))}'><code>{_e(e['id'])}</code> — "
            f"{_status(e['status'])}</h3>"
            f"<p>{_e(e['statement'])}</p><p class=muted>docs/theory.md {_e(e['theory_ref'])}; "
            f"paper <code>{_e(e['paper_ref'])}</code>; evidence <b>{_e(evidence_text(e))}</b>; "
            f"bound from: {_e(e['bound_source'])}; {e['n_checked']} checked, "
            f"{e['n_bad']} bad, {e['seconds']:.2f} s</p>{near}{reason}{stats}{_worst_case(e)}"
            f"{trace}")


def _lemmas_section(report: dict[str, Any]) -> str:
    header, rows = lemmas_table(report)
    if not rows:
        return ""
    return (f"<h2 id=lemmas>Machine-checked lemmas</h2><p class=note>{_e(LEMMAS_NOTE)}</p>"
            f"{html_table(header, rows)}")


def html_table(header: list[str], rows: list[list[str]], cls: str = "scroll") -> str:
    """A ``<table>``: one header row, then the rows, every cell escaped, in a ``<div>`` of
    class ``cls`` that scrolls sideways rather than widen the page."""
    head = "".join(f"<th>{_e(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<div class='{_e(cls)}'><table><tr>{head}</tr>{body}</table></div>"


def _real_models_section(report: dict[str, Any]) -> str:
    """"Real models": one summary row per model, then its per-head table (folded)."""
    models = report.get("real_models") or []
    if not models:
        return ""
    details = "".join(f"<details><summary>{_e(m['model']['path'])}: every head</summary>"
                      f"{html_table(*head_table(m))}</details>" for m in models)
    return (f"<h2 id=real-models>Real models</h2><p class=muted>{_e(REGIME_NOTE)}</p>"
            f"{html_table(*regime_summary_table(models))}{details}"
            f"{_figures(plots.real_models_figure(report))}")


def _capacity_section(report: dict[str, Any]) -> str:
    capacity = report.get("capacity")
    if not capacity:
        return ""
    return (f"<h2 id=capacity>Empirical capacity</h2><p class=note><b>"
            f"{_e(capacity['label'])}.</b> {_e(CAPACITY_NOTE)}</p>"
            f"{html_table(*capacity_table(capacity))}{_figures(plots.capacity_figure(report))}")


def _targets_section(report: dict[str, Any]) -> str:
    """"Your targets": one row per certified user target, then each one's assumptions."""
    targets = report.get("user_targets") or []
    if not targets:
        return ""
    details = "".join(
        f"<details><summary>{_e(t['target'])}: assumptions</summary>"
        + (f"<p>{_e(t['reason'])}</p>" if t["reason"] else "")
        + (html_table(*assumptions_table(t)) if t["assumptions"] else "") + "</details>"
        for t in targets)
    return (f"<h2 id=targets>Your targets</h2><p class=muted>{_e(TARGETS_NOTE)}</p>"
            f"{html_table(*user_targets_table(targets), cls='scroll')}{details}")


def _benchmark_section(report: dict[str, Any]) -> str:
    """"Kernel benchmark": the headline of the embedded ``bench kernel`` result, then its
    figure."""
    bench = report.get("benchmarks")
    if not bench:
        return ""
    return (f"<h2 id=benchmark>Kernel benchmark</h2><p class=muted>From "
            f"<code>{_e(bench.get('source', '--bench-json'))}</code>: the headline "
            "(docs/theory.md §3 K5).</p>"
            f"{html_table(*benchmark_table(bench), cls='scroll narrow')}"
            f"{_figures(plots.kernel_benchmark_figure(report))}")


def _figures(figures: list[plots.Figure]) -> str:
    return "".join(
        f"<figure><img alt='{_e(f.title)}' width={f.width} height={f.height} "
        f"src='data:image/png;base64,{base64.b64encode(f.png).decode()}'><figcaption><b>"
        f"{_e(f.title)}.</b> {_e(f.caption)}</figcaption></figure>" for f in figures)


_NO_FIGURE = "<p>No figure: the selected claims carry no plottable data.</p>"

#: The page's sections in reading order: (id, heading).
_SECTIONS = (("summary", "Summary"), ("attention", "Failing and near-limit claims"),
             ("lemmas", "Machine-checked lemmas"), ("benchmark", "Kernel benchmark"),
             ("figures", "Figures"),
             ("real-models", "Real models"), ("capacity", "Empirical capacity"),
             ("non-vacuity", "Non-vacuity"), ("targets", "Your targets"),
             ("claims", "All claims"))


def _tension_section(report: dict[str, Any]) -> str:
    """The tension table and figure, on the first screen (if their claims ran)."""
    header, rows = tension_table(report)
    if not rows:
        return ""
    return (f"<h2 id=tension>Statistical–computational tension</h2><p class=muted>"
            f"{_e(TENSION_NOTE)}</p>{html_table(header, rows, cls='scroll narrow')}"
            f"{_figures(plots.tension_figure(report))}")


def _non_vacuity_section(report: dict[str, Any]) -> str:
    """The non-vacuity table (if a certified universality claim ran)."""
    header, rows = non_vacuity_table(report)
    if not rows:
        return ""
    return (f"<h2 id=non-vacuity>Non-vacuity</h2><p class=muted>{_e(NON_VACUITY_NOTE)}</p>"
            f"{html_table(header, rows, cls='scroll narrow')}")


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML page with every figure embedded."""
    h, s = report["header"], report["summary"]
    attention_html = "".join(_claim_section(e, "near") for e in needs_attention(report)) or \
        f"<p>None: no claim failed and none came within a factor {1 / NEAR_LIMIT_RATIO:.0f} " \
        "of its bound.</p>"
    figures = _figures([*plots.universality_error_figure(report),
                        *plots.universality_growth_figure(report),
                        *plots.prompt_length_figure(report),
                        *plots.phase_transition_figure(report),
                        *plots.parameter_figures(report)])
    sections = {"summary", "attention", "figures", "claims"}
    sections |= {"non-vacuity"} if non_vacuity_table(report)[1] else set()
    sections |= {"lemmas"} if report["header"].get("lemmas") else set()
    sections |= {name for name, key in (("benchmark", "benchmarks"),
                                        ("real-models", "real_models"),
                                        ("capacity", "capacity"),
                                        ("targets", "user_targets")) if report.get(key)}
    nav = " ".join(f"<a href='#{sid}'>{_e(title)}</a>" for sid, title in _SECTIONS
                   if sid in sections)
    versions = ", ".join(f"{_e(k)} {_e(v)}" for k, v in h["versions"].items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ptlimits audit</title>
<style>{_CSS}</style></head><body>
<h1>ptlimits audit</h1>
<p class=muted>commit <code>{_e(h['git_commit'] or 'unknown')}</code>{' (dirty)' if h['git_dirty']
    else ''} · seed {h['seed']} · Hypothesis profile <code>{_e(h['hypothesis_profile'])}</code>
· {'quick' if h['quick'] else 'full'} run ({h['draws_per_claim']} draws per claim) ·
{_e(h['executor'])} · started {_e(h['started_at'])}, {h['seconds']:.1f} s<br>
{_e(h['machine']['platform'])}, {h['machine']['cpu_count']} CPUs · {versions}</p>
<p><b>{s['total']} claims: {s['pass']} pass, {s['fail']} fail, {s['xfail']} xfail,
{s['skip']} skip, {s['error']} error.</b></p>
<p class=note>{_e(h['conditional_note'])}</p>
{_tension_section(report)}
<nav>Sections: {nav}</nav>
<h2 id=summary>Summary</h2>{_summary_table(report)}
<h2 id=attention>Failing and near-limit claims</h2>{attention_html}
{_lemmas_section(report)}{_benchmark_section(report)}
<h2 id=figures>Figures</h2>{figures or _NO_FIGURE}
{_real_models_section(report)}{_capacity_section(report)}{_non_vacuity_section(report)}
{_targets_section(report)}
<h2 id=claims>All claims</h2>{''.join(_claim_section(e) for e in report['claims'])}
</body></html>
"""
