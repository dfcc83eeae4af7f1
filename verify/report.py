"""Report plumbing: the JSON schema, atomic writes, and the Markdown rendering."""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from core.errors import HarnessError, InvalidArgument

__all__ = ["CAPACITY_NOTE", "NEAR_LIMIT_RATIO", "REGIME_NOTE", "capacity_table",
           "ensure_writable_dir", "fmt_number", "load_capacity",
           "load_schema", "regime_summary", "render_markdown", "validate_report",
           "write_atomically"]

#: A claim whose worst error is at least this fraction of its bound is "near the limit".
NEAR_LIMIT_RATIO = 0.5


@cache
def load_schema() -> dict[str, Any]:
    """The audit report's JSON schema (``verify/schema/audit.schema.json``)."""
    text = resources.files("verify").joinpath("schema/audit.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def read_json_option(option: str, path: Path) -> Any:
    """The JSON in the file an option names, or one ``option='path': why`` error."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise InvalidArgument(f"{option}={str(path)!r}: cannot read ({exc.strerror})"
                              ) from None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{option}={str(path)!r}: not valid JSON ({exc})") from None


def load_benchmark(path: Path) -> dict[str, Any]:
    """A kernel benchmark JSON reduced to what a report embeds: the headline's figures at
    top level (``speedup``, ``max_error``, ``bound``, ...), its ``rows``, and the device."""
    data = read_json_option("--bench-json", path)
    try:
        headline = dict(data["headline"])
        rows = list(data["rows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"--bench-json={str(path)!r}: not a 'bench kernel' JSON with "
                              f"'headline' and 'rows' ({exc!r})") from None
    return {**headline, "rows": rows, "device": data.get("device"),
            "quick": bool(data.get("quick")), "source": str(path)}


_CAPACITY_ROW: dict[str, type | tuple[type, ...]] = {
    "d": int, "L": int, "N": int, "eps": (int, float), "target_error": (int, float),
    "tried_Lp": list, "final_errors": list, "smallest_Lp": (int, type(None)),
    "constructive_Lp": (int, type(None)), "lower_bound_Lp": int}


def load_capacity(path: Path) -> dict[str, Any]:
    """An empirical-capacity sweep (``ptlimits bench capacity --json FILE``), checked.

    Shape: ``{"kind": "capacity", "label": str, "config": {...}, "rows": [{"d", "L", "N",
    "eps", "target_error", "tried_Lp", "final_errors", "smallest_Lp", "constructive_Lp",
    "lower_bound_Lp"}]}``; ``tried_Lp`` and ``final_errors`` have equal lengths.
    """
    where = f"--capacity-json={str(path)!r}"
    data = read_json_option("--capacity-json", path)
    if not isinstance(data, dict) or data.get("kind") != "capacity" or not isinstance(
            data.get("rows"), list) or not isinstance(data.get("label"), str):
        raise InvalidArgument(f"{where}: not a 'bench capacity' JSON (expected kind="
                              "'capacity', a label and a list of rows)")
    for k, row in enumerate(data["rows"]):
        if not isinstance(row, dict):
            raise InvalidArgument(f"{where}: rows[{k}] is not an object")
        for key, kind in _CAPACITY_ROW.items():
            value = row.get(key)
            if key not in row or isinstance(value, bool) or not isinstance(value, kind):
                raise InvalidArgument(f"{where}: rows[{k}].{key}={value!r}: expected "
                                      f"{getattr(kind, '__name__', 'a number or null')}")
        if len(row["tried_Lp"]) != len(row["final_errors"]):
            raise InvalidArgument(f"{where}: rows[{k}]: tried_Lp and final_errors differ "
                                  "in length")
    return {**data, "config": dict(data.get("config") or {}), "source": str(path)}


def validate_report(report: dict[str, Any]) -> None:
    """Raise :class:`HarnessError` if ``report`` does not match the schema."""
    try:
        jsonschema.validate(report, load_schema())
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path)
        raise HarnessError(f"audit report invalid at {path or '<root>'}: {exc.message}") from None


def ensure_writable_dir(name: str, path: Path) -> Path:
    """Create ``path`` if needed and prove it is writable, before any work is done."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as exc:
        raise InvalidArgument(f"{name}={str(path)!r}: not a writable directory ({exc.strerror})"
                              ) from None
    return path


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and ``os.replace``.

    A reader (or an interrupted writer) never sees a half-written file: either the old file
    or the complete new one is at ``path``.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fmt_number(x: Any) -> str:
    """Short human form of a report number (``—`` for missing)."""
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.3g}"
    return str(x)


def _claim_lines(e: dict[str, Any]) -> list[str]:
    lines = [f"### `{e['id']}` — {e['status']}", "",
             f"- {e['statement']}",
             f"- docs/theory.md {e['theory_ref']}; paper `{e['paper_ref']}`; "
             f"evidence **{e['evidence']}**; {e['n_checked']} checked, {e['n_bad']} bad, "
             f"{e['seconds']:.2f} s",
             f"- bound from: {e['bound_source']}"]
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


#: Said wherever the empirical-capacity sweep is shown (issue 8).
CAPACITY_NOTE = ("Empirical: prompts trained by gradient descent on the one-layer model; "
                 "not evidence for or against the theorems (the lower bound is about every "
                 "prompt, the constructive length about one construction).")

REGIME_NOTE = ("B = max(‖Q‖_max, ‖K‖_max) of one head on the given input (soft prompt "
               "included), R = β·s·B² bounds every score β·q·k, n = L_p + L; the "
               "polynomial-method kernel applies when a certified float64 plan at "
               "ε = δ_F/(2+δ_F) has rank below n, i.e. when B/√ln n < c* "
               "(docs/real-models.md). One input, measured, not a bound over inputs.")


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
            "verdict": result["summary"]["verdict"]}


def _real_models_lines(report: dict[str, Any]) -> list[str]:
    models = report.get("real_models") or []
    if not models:
        return []
    lines = ["## Real models", "", REGIME_NOTE, "",
             "| model | adapter | L_p | L | n | δ_F | worst head | B | B/√ln n | R | c* | "
             "degree | rank | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for result in models:
        r = regime_summary(result)
        lines.append(
            f"| {r['model']} | {r['adapter']} | {r['L_p']} | {r['L']} | {r['n']} | "
            f"{fmt_number(r['delta_F'])} | {r['worst']} | {fmt_number(r['B'])} | "
            f"{fmt_number(r['ratio'])} | {fmt_number(r['R'])} | {fmt_number(r['threshold'])}"
            f" | {fmt_number(r['degree'])} | {fmt_number(r['rank'])} | {r['verdict']} |")
    lines.append("")
    for result in models:
        lines += [f"### {result['model']['path']}"
                  + (f" + {result['adapter']['path']}" if result.get("adapter") else ""), "",
                  "| layer | head | ‖Q‖_max | ‖K‖_max | B | R | B/√ln n | applies | degree "
                  "| rank |", "|---|---|---|---|---|---|---|---|---|---|"]
        for h in result["heads"]:
            lines.append(
                f"| {h['layer']} | {h['head']} | {fmt_number(h['Q_max'])} | "
                f"{fmt_number(h['K_max'])} | {fmt_number(h['B'])} | {fmt_number(h['R'])} | "
                f"{fmt_number(h['ratio'])} | {'yes' if h['applies'] else 'no'} | "
                f"{fmt_number(h['degree'])} | {fmt_number(h['rank'])} |")
        lines.append("")
    return lines


def capacity_table(capacity: dict[str, Any]) -> list[list[str]]:
    """Rows of the empirical-capacity table (header first)."""
    rows = [["d", "L", "N", "ε", "target error", "tried L_p", "smallest L_p reached",
             "constructive L_p", "lower bound L_p"]]
    for r in capacity["rows"]:
        rows.append([str(r["d"]), str(r["L"]), str(r["N"]), fmt_number(r["eps"]),
                     fmt_number(r["target_error"]),
                     ", ".join(str(x) for x in r["tried_Lp"]),
                     "not reached" if r["smallest_Lp"] is None else str(r["smallest_Lp"]),
                     fmt_number(r["constructive_Lp"]), str(r["lower_bound_Lp"])])
    return rows


def _capacity_lines(report: dict[str, Any]) -> list[str]:
    capacity = report.get("capacity")
    if not capacity:
        return []
    table = capacity_table(capacity)
    lines = ["## Empirical capacity", "", f"**{capacity['label']}.** {CAPACITY_NOTE}", "",
             "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    lines += ["| " + " | ".join(row) + " |" for row in table[1:]]
    return [*lines, ""]


def render_markdown(report: dict[str, Any]) -> str:
    """A self-contained Markdown rendering: header, summary, attention list, details."""
    h, s = report["header"], report["summary"]
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
        "The worst case is the instance with the largest error/bound; bounds differ between "
        "instances (e.g. with ε), so each is shown with its own.",
        "",
        "| claim | THEORY | status | evidence | checked | bad | worst error | its bound | "
        "error/bound | s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in report["claims"]:
        lines.append(
            f"| `{e['id']}` | {e['theory_ref']} | {e['status']} | {e['evidence']} | "
            f"{e['n_checked']} | {e['n_bad']} | "
            f"{fmt_number((e['worst_case'] or {}).get('error'))} | "
            f"{fmt_number(e['bound'])} | {fmt_number(e['worst_ratio'])} | "
            f"{e['seconds']:.2f} |")
    attention = [e for e in report["claims"] if e["status"] in ("fail", "error") or (
        e["worst_ratio"] is not None and e["worst_ratio"] >= NEAR_LIMIT_RATIO)]
    lines += ["", "## Failing and near-limit claims", ""]
    if attention:
        for e in attention:
            lines += _claim_lines(e)
    else:
        lines += [f"None: no claim failed and none came within a factor "
                  f"{1 / NEAR_LIMIT_RATIO:.0f} of its bound.", ""]
    lines += _real_models_lines(report)
    lines += _capacity_lines(report)
    lines += ["## All claims", ""]
    for e in report["claims"]:
        lines += _claim_lines(e)
    return "\n".join(lines)
