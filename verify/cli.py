"""Command-line interface: ``python -m verify ...`` and the ``ptlimits`` console script.

Subcommands:
  claims     the registry as a table (or JSON)
  audit      run the registry and write audit.json and audit.md
  reproduce  re-measure one instance of one claim (the line every report prints)
  bench      benchmarks (see ``python -m verify bench --help``)
  regime     per-head norm regime of a real transformers model (+ PEFT soft prompt)

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
                       description="List every registered claim: id, docs/theory.md heading, "
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
    p.add_argument("--regime-json", type=Path, nargs="+", action="extend", default=None,
                   metavar="FILE",
                   help="embed 'ptlimits regime --json FILE' results as the 'Real models' "
                        "section (repeatable, or several files)")
    p.add_argument("--capacity-json", type=Path, default=None, metavar="FILE",
                   help="embed a 'ptlimits bench capacity --json FILE' sweep as the "
                        "'Empirical capacity' section and plot it")

    p = sub.add_parser(
        "regime", help="norm regime of a real transformers model, per layer and head",
        description="Load a transformers model (and optionally a PEFT prompt-tuning "
                    "adapter) from local folders, run it on one input, and report for every "
                    "layer and head ‖Q‖_max, ‖K‖_max, B = max of the two, the score bound "
                    "R = β·s·B², n = L_p + L, B/√ln n, and whether the polynomial-method "
                    "kernel applies at δ_F with the certified degree and rank it needs "
                    "(docs/real-models.md). Never uses the network. Needs the 'hf' extra.")
    p.add_argument("--model", type=Path, required=True, metavar="DIR",
                   help="a local transformers model folder (config.json and weights)")
    p.add_argument("--adapter", type=Path, default=None, metavar="DIR",
                   help="a local PEFT prompt-tuning (soft prompt) adapter folder")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", default=None, metavar="TEXT",
                        help="input text (tokenised with the model folder's tokenizer)")
    source.add_argument("--input-ids", type=Path, default=None, metavar="FILE",
                        help="token ids: a JSON list of ints or whitespace-separated ints")
    p.add_argument("--delta-f", type=float, default=None, metavar="F",
                   help="target max-norm error of attention in units of ‖V‖_max, in (0, 1) "
                        "(default 1/n)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="also write the result as JSON (atomically)")

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
    from .real_models import load_regime_json
    from .report import ensure_writable_dir, load_benchmark, load_capacity

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
    regimes = [load_regime_json(p) for p in args.regime_json or []]
    capacity = load_capacity(args.capacity_json) if args.capacity_json else None
    try:
        report = run_audit(claims, options, out_dir=out, resume=args.resume,
                           progress=progress)
        if bench is not None:
            report["benchmarks"] = bench
        if regimes:
            report["real_models"] = regimes
        if capacity is not None:
            report["capacity"] = capacity
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


def _cmd_regime(args: argparse.Namespace) -> int:
    from .real_models import audit_model, format_regime_table, read_input_ids
    from .report import write_atomically

    if args.json is not None and not args.json.parent.is_dir():
        raise HarnessError(f"--json={str(args.json)!r}: directory "
                           f"{str(args.json.parent)!r} does not exist")
    ids = read_input_ids(args.input_ids) if args.input_ids is not None else None
    result = audit_model(args.model, adapter_path=args.adapter, text=args.input,
                         input_ids=ids, delta_f=args.delta_f)
    print(format_regime_table(result))
    if args.json is not None:
        try:
            write_atomically(args.json, json.dumps(result, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            raise HarnessError(f"--json={str(args.json)!r}: cannot write "
                               f"({exc.strerror or exc})") from None
        print(f"wrote {args.json}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return _run_bench(argv[1:])
    if argv[:1] == ["regress"]:
        from . import regress

        return _guarded(lambda: regress.main(argv[1:]))
    args = _parser().parse_args(argv)
    handlers = {"claims": _cmd_claims, "audit": _cmd_audit, "reproduce": _cmd_reproduce,
                "regime": _cmd_regime}
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
