"""Command-line interface: ``python -m verify ...`` and the ``ptlimits`` console script.

Subcommands:
  claims     the registry as a table (or JSON)
  audit      run the registry and write audit.json and audit.md
  reproduce  re-measure one instance of one claim (the line every report prints)
  bench      benchmarks (see ``python -m verify bench --help``)

Errors the harness raises on purpose print one line (``ptlimits: error: ...``) and exit 2;
an audit with a failing claim exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import HarnessError

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptlimits",
        description="Check the claims of Hu et al., 'Fundamental Limits of Prompt Tuning "
                    "Transformers' (ICLR 2025), and report the numbers.",
        epilog="Run 'ptlimits COMMAND --help' for a command's options.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("claims", help="list the registered claims",
                       description="List every registered claim: id, THEORY.md heading, "
                                   "paper label, evidence level and statement.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser(
        "audit", help="run the claims and write audit.json and audit.md",
        description="Measure every selected claim on its reference points and on seeded "
                    "Hypothesis draws, then write DIR/audit.json (schema in "
                    "verify/schema/audit.schema.json) and DIR/audit.md. Files are replaced "
                    "atomically. Exit status: 0 if no claim fails, 1 otherwise.")
    p.add_argument("--quick", action="store_true",
                   help="few Hypothesis draws per claim (about a minute in all)")
    p.add_argument("--out", type=Path, default=Path("audit"), metavar="DIR",
                   help="output directory (default: ./audit)")
    p.add_argument("--claims", metavar="PATTERN", default=None,
                   help="comma-separated globs over claim ids, or THEORY headings "
                        "(e.g. 'attention_*' or 'MODEL,K3'); default: all")
    p.add_argument("--seed", type=int, default=0, help="seed for the draws (default 0)")
    p.add_argument("--draws", type=int, default=None, metavar="N",
                   help="Hypothesis draws per claim, before each claim's factor "
                        "(default: 6 with --quick, else the profile's max_examples)")
    p.add_argument("--hypothesis-profile", choices=("dev", "ci", "nightly"), default=None,
                   help="Hypothesis profile (default: $HYPOTHESIS_PROFILE, else ci when "
                        "$CI is set, else dev)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes for claims (default: CPU count; 1: in-process)")
    p.add_argument("--executor", default="local", metavar="SPEC",
                   help="'local' (process pool, default) or dask://HOST:PORT to submit the "
                        "claims to a Dask distributed scheduler")
    p.add_argument("--resume", action="store_true",
                   help="reuse per-claim results of an interrupted audit with the same "
                        "configuration from DIR/.partial/")
    p.add_argument("--no-html", action="store_true", help="skip audit.html (no plotting)")
    p.add_argument("--bench-json", type=Path, default=None, metavar="FILE",
                   help="embed a 'ptlimits bench kernel --json FILE' result (headline, rows) "
                        "in the report and plot it")

    p = sub.add_parser("reproduce", help="re-measure one instance of one claim",
                       description="Re-measure the instance given as JSON (as printed in "
                                   "reports) and print the outcome; exit 1 if it fails.")
    p.add_argument("claim_id", help="claim id (see 'ptlimits claims')")
    p.add_argument("instance", help="the instance as JSON")

    sub.add_parser("bench", help="benchmarks (run 'ptlimits bench --help')", add_help=False)
    sub.add_parser("regress", help="compare two audits (run 'ptlimits regress --help')",
                   add_help=False)
    return parser


def _cmd_claims(args: argparse.Namespace) -> int:
    from properties.registry import all_claims

    claims = all_claims()
    if args.json:
        rows = [{"id": c.id, "theory_ref": c.theory_ref, "paper_ref": c.paper_ref,
                 "evidence": c.evidence, "statement": c.statement} for c in claims]
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max(len(c.id) for c in claims)
    print(f"{'id':<{width}}  {'theory':<6}  {'evidence':<10}  paper_ref")
    for c in claims:
        print(f"{c.id:<{width}}  {c.theory_ref:<6}  {c.evidence:<10}  {c.paper_ref}")
        print(f"{'':<{width}}  {c.statement}")
    return EXIT_OK


def _cmd_audit(args: argparse.Namespace) -> int:
    from properties.registry import select_claims

    from .audit import AuditOptions, run_audit, write_audit
    from .report import ensure_writable_dir, load_benchmark

    out = ensure_writable_dir("--out", args.out)
    claims = select_claims(args.claims)
    options = AuditOptions(seed=args.seed, quick=args.quick, pattern=args.claims,
                           profile=args.hypothesis_profile, draws=args.draws, jobs=args.jobs,
                           executor=args.executor)
    show = sys.stderr.isatty() and not os.environ.get("CI")

    def progress(done: int, total: int, claim_id: str, elapsed: float) -> None:
        if show:
            eta = elapsed / done * (total - done) if done else 0.0
            print(f"\r[{done}/{total}] {claim_id} done, {elapsed:.0f} s elapsed, "
                  f"ETA {eta:.0f} s\033[K", end="", file=sys.stderr, flush=True)

    bench = load_benchmark(args.bench_json) if args.bench_json else None
    try:
        report = run_audit(claims, options, out_dir=out, resume=args.resume,
                           progress=progress)
        if bench is not None:
            report["benchmarks"] = bench
        if show:
            print(file=sys.stderr)
        written = write_audit(report, out, html=not args.no_html)
    except OSError as exc:   # disk full, directory removed or made read-only mid-run
        raise HarnessError(
            f"cannot write to --out={str(out)!r} ({exc.strerror or exc}); the previous "
            "report there, if any, is left intact") from None
    s = report["summary"]
    print(f"{s['total']} claims: {s['pass']} pass, {s['fail']} fail, {s['xfail']} xfail, "
          f"{s['skip']} skip, {s['error']} error ({report['header']['seconds']:.1f} s)")
    print("wrote " + ", ".join(str(p) for p in written))
    return EXIT_FAILED if s["fail"] or s["error"] else EXIT_OK


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from properties.registry import get_claim

    from .audit import claim_entry

    claim = get_claim(args.claim_id)
    try:
        instance = claim.instance_from_json(args.instance)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"instance={args.instance!r}: not valid JSON ({exc})") from None
    except TypeError as exc:
        raise HarnessError(f"instance={args.instance!r}: {exc}") from None
    entry = claim_entry(claim, [instance])
    print(json.dumps({k: entry[k] for k in ("id", "status", "reason", "max_error", "bound",
                                            "worst_case", "traceback")}, indent=2))
    return EXIT_OK if entry["status"] in ("pass", "xfail", "skip") else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return _run_bench(argv[1:])
    if argv[:1] == ["regress"]:
        from . import regress

        return _guarded(lambda: regress.main(argv[1:]))
    args = _parser().parse_args(argv)
    handlers = {"claims": _cmd_claims, "audit": _cmd_audit, "reproduce": _cmd_reproduce}
    try:
        return handlers[args.command](args)
    except HarnessError as exc:
        print(f"ptlimits: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ptlimits: interrupted; no report was written", file=sys.stderr)
        return EXIT_INTERRUPTED


def _guarded(run: Callable[[], int]) -> int:
    try:
        return run()
    except HarnessError as exc:
        print(f"ptlimits: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run_bench(argv: list[str]) -> int:
    from . import bench

    return _guarded(lambda: int(bench.main(argv)))
