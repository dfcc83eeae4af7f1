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

__all__ = ["NEAR_LIMIT_RATIO", "ensure_writable_dir", "fmt_number", "load_schema",
           "render_markdown", "validate_report", "write_atomically"]

#: A claim whose worst error is at least this fraction of its bound is "near the limit".
NEAR_LIMIT_RATIO = 0.5


@cache
def load_schema() -> dict[str, Any]:
    """The audit report's JSON schema (``verify/schema/audit.schema.json``)."""
    text = resources.files("verify").joinpath("schema/audit.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_benchmark(path: Path) -> dict[str, Any]:
    """A kernel benchmark JSON reduced to what a report embeds: the headline's figures at
    top level (``speedup``, ``max_error``, ``bound``, ...), its ``rows``, and the device."""
    try:
        data = json.loads(Path(path).read_text())
        headline = dict(data["headline"])
        rows = list(data["rows"])
    except OSError as exc:
        raise InvalidArgument(f"--bench-json={str(path)!r}: cannot read ({exc.strerror})"
                              ) from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidArgument(f"--bench-json={str(path)!r}: not a 'bench kernel' JSON with "
                              f"'headline' and 'rows' ({exc!r})") from None
    return {**headline, "rows": rows, "device": data.get("device"),
            "quick": bool(data.get("quick")), "source": str(path)}


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
             f"- THEORY.md {e['theory_ref']}; paper `{e['paper_ref']}`; "
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
    lines += ["## All claims", ""]
    for e in report["claims"]:
        lines += _claim_lines(e)
    return "\n".join(lines)
