"""Command-line interface: ``python -m verify ...`` and the ``ptlimits`` console script.

One argparse parser with the subcommands:
  claims     the registry as a table (or JSON)
  audit      run the registry and write audit.json, audit.md and audit.html
  reproduce  re-measure one instance of one claim (the line every report prints)
  regress    compare two audits and flag regressions
  regime     per-head norm regime of a real transformers model (+ PEFT soft prompt)
  bench      benchmarks: ``bench kernel``, ``bench train``, ``bench capacity``
  check-attention  a user's attention kernel against mpmath and the certified bound
  universal  one target (a family or the user's function) through τ_P and its certificate
  certify    write the audit's certificates as replayable files; ``check`` re-checks them

Every error — a usage error argparse finds, or a :class:`core.errors.HarnessError` raised
while running — prints one line ``ptlimits: error: ...`` to stderr and exits 2; a failing
claim (audit, reproduce) or a regression exits 1. ``--help`` imports nothing heavy: each
command imports what it needs (torch, the registry) when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeVar

from .check_attention import add_parser as _add_check_attention
from .check_attention import run as _cmd_check_attention

__all__ = ["UsageError", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A command line argparse refuses (unknown command, bad or missing option).

    Not a :class:`core.errors.HarnessError`: importing ``core`` imports torch, and parsing
    (``--help`` included) must not.
    """


def _path(text: str) -> Path:
    """An argparse ``type`` for file and folder options: refuses an empty path (which
    ``Path`` would silently turn into ``.``, the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty; expected a file or folder path")
    return Path(text)


#: Most Hypothesis draws per claim (``verify.audit.MAX_DRAWS``, repeated here so that
#: ``--help`` imports nothing heavy; tests/test_cli_table.py checks they agree).
MAX_DRAWS = 10_000

#: Most worker processes (``verify.executors.MAX_JOBS``).
MAX_JOBS = 256

#: Most torch intra-op threads a benchmark accepts (far above any machine's core count).
MAX_THREADS = 1024

#: Torch devices ``bench kernel`` knows (checked before torch is imported).
_DEVICE_FORMS = "cpu, cuda or cuda:N"


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors raise :class:`UsageError` (one line, with a pointer
    to the right ``--help``) instead of printing usage and exiting; its subcommand parsers
    are of the same class."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{' '.join(message.split())} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
        "audit", help="run the claims and write audit.json, audit.md and audit.html",
        description="Measure every selected claim on its reference points and on seeded "
                    "Hypothesis draws, then write DIR/audit.json (schema in "
                    "verify/schema/audit.schema.json), DIR/audit.md and DIR/audit.html. Files "
                    "are replaced atomically. Exit status: 0 if no claim fails, 1 otherwise.")
    p.add_argument("--quick", action="store_true",
                   help="few Hypothesis draws per claim (about a minute in all)")
    p.add_argument("--out", type=_path, default=Path("audit"), metavar="DIR",
                   help="output directory (default: ./audit)")
    p.add_argument("--claims", metavar="PATTERN", default=None,
                   help="comma-separated globs over claim ids, or docs/theory.md headings "
                        "(e.g. 'attention_*' or 'MODEL,K3'); default: all")
    p.add_argument("--seed", type=int, default=0, help="seed for the draws (default 0)")
    p.add_argument("--draws", type=int, default=None, metavar="N",
                   help="Hypothesis draws per claim, before each claim's factor, 0 to "
                        f"{MAX_DRAWS} (default: 6 with --quick, else the profile's "
                        f"max_examples; at most {MAX_DRAWS}: the claims' factors sum to "
                        "about 23 and every instance is kept as a ~1 kB record, so "
                        f"{MAX_DRAWS} draws already make a ~220 MB report and take about "
                        "15 hours on two cores, where a 90-minute run manages ~1000)")
    p.add_argument("--hypothesis-profile", choices=("dev", "ci", "nightly"), default=None,
                   help="Hypothesis profile (default: $HYPOTHESIS_PROFILE, else ci when "
                        "$CI is set, else dev)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help=f"worker processes for claims, 1 to {MAX_JOBS} (default: CPU "
                        "count; 1: in-process)")
    p.add_argument("--executor", default="local", metavar="SPEC",
                   help="'local' (process pool, default) or dask://HOST:PORT (PORT in "
                        "1-65535) to submit the claims to a Dask distributed scheduler; "
                        "checked before anything connects")
    p.add_argument("--resume", action="store_true",
                   help="reuse per-claim results of an interrupted audit with the same "
                        "configuration from DIR/.partial/")
    p.add_argument("--no-html", action="store_true", help="skip audit.html (no plotting)")
    p.add_argument("--bench-json", type=_path, default=None, metavar="FILE",
                   help="embed a 'ptlimits bench kernel --json FILE' result (headline, rows) "
                        "in the report and plot it")
    p.add_argument("--regime-json", type=_path, nargs="+", action="extend", default=None,
                   metavar="FILE",
                   help="embed 'ptlimits regime --json FILE' results as the 'Real models' "
                        "section (repeatable, or several files)")
    p.add_argument("--capacity-json", type=_path, default=None, metavar="FILE",
                   help="embed a 'ptlimits bench capacity --json FILE' sweep as the "
                        "'Empirical capacity' section and plot it")
    p.add_argument("--target-json", type=_path, nargs="+", action="extend", default=None,
                   metavar="FILE",
                   help="embed 'ptlimits universal --json FILE' results (your targets' "
                        "certificates and assumptions) as the 'Your targets' section")

    p = sub.add_parser(
        "regime", help="norm regime of a real transformers model, per layer and head",
        description="Load a transformers model (and optionally a PEFT prompt-tuning "
                    "adapter) from local folders, run it on one input, and report for every "
                    "layer and head ‖Q‖_max, ‖K‖_max, B = max of the two, the score bound "
                    "R = β·s·B², n = L_p + L, B/√ln n, and whether the polynomial-method "
                    "kernel applies at δ_F with the certified degree and rank it needs "
                    "(docs/real-models.md). Never uses the network. Needs the 'hf' extra.")
    p.add_argument("--model", type=_path, required=True, metavar="DIR",
                   help="a local transformers model folder (config.json and weights)")
    p.add_argument("--adapter", type=_path, default=None, metavar="DIR",
                   help="a local PEFT soft-prompt adapter folder (prompt tuning or P-tuning, "
                        "saved with any task type)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", default=None, metavar="TEXT",
                        help="input text (tokenised with the model folder's tokenizer)")
    source.add_argument("--input-ids", type=_path, default=None, metavar="FILE",
                        help="token ids: a JSON list of ints or whitespace-separated ints")
    p.add_argument("--delta-f", type=float, default=None, metavar="F",
                   help="target max-norm error of attention in units of ‖V‖_max, in (0, 1) "
                        "(default 1/n)")
    p.add_argument("--json", type=_path, default=None, metavar="FILE",
                   help="also write the result as JSON (atomically)")

    p = sub.add_parser("reproduce", help="re-measure one instance of one claim",
                       description="Re-measure the instance given as JSON (as printed in "
                                   "reports) and print the outcome; exit 1 if it fails. "
                                   "The JSON must be an object with the claim's instance "
                                   "fields, each of its declared type; an instance the "
                                   "claim cannot measure (a value outside its domain) "
                                   "exits 2 naming the field.")
    p.add_argument("claim_id", help="claim id (see 'ptlimits claims')")
    p.add_argument("instance", help="the instance as JSON")

    _add_regress(sub)
    _add_bench(sub)
    from .user_target import add_parser as add_universal

    add_universal(sub)
    _add_check_attention(sub)
    _add_certificates(sub)
    return parser


def _add_certificates(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "certify", help="write the audit's certificates as replayable files",
        description="Write the certificates the audit relies on — the headline kernel's "
                    "polynomial with its arb bound and a Coq proof, one universality "
                    "configuration's exact cell sums, a rank and a counting certificate — "
                    "as plain files with DIR/manifest.json (statement, SHA-256, checker). "
                    "The folder is replaced whole. 'ptlimits check DIR' re-checks them.")
    p.add_argument("--out", type=_path, default=Path("certificates"), metavar="DIR",
                   help="output folder (default: ./certificates)")
    p = sub.add_parser(
        "check", help="re-check a 'ptlimits certify' folder without the search code",
        description="Re-check every certificate listed in DIR/manifest.json with ptcheck, "
                    "a small checker that imports none of the code that searched for them "
                    "(coqc for proofs; exact rationals, integers and arb balls otherwise), "
                    "and print each as proved, certified, refuted or inconclusive. Exit 1 "
                    "if any is refuted (or, with --strict, inconclusive).")
    p.add_argument("dir", type=_path, metavar="DIR", help="a folder 'ptlimits certify' wrote")
    p.add_argument("--strict", action="store_true",
                   help="treat inconclusive (e.g. coqc missing) as failure")


def _add_regress(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "regress", help="compare two audits and flag regressions",
        description="Compare two audit reports (both checked against the schema) and exit 1 "
                    "on a regression: a claim newly failing or erroring, or missing; its "
                    "evidence level dropped; its relative margin 1 - error/bound shrank by "
                    "more than --margin-threshold of the baseline's; an embedded benchmark's "
                    "speedup fell by more than --bench-noise, or its error rose past its "
                    "bound. Changes for the better are listed as improvements.")
    p.add_argument("--baseline", type=_path, required=True, metavar="OLD.json")
    p.add_argument("--current", type=_path, default=Path("audit/audit.json"),
                   metavar="NEW.json", help="default: audit/audit.json")
    p.add_argument("--margin-threshold", type=float, default=0.5, metavar="F",
                   help="flag a claim whose relative margin fell by more than this "
                        "fraction, in (0, 1) (default 0.5)")
    p.add_argument("--bench-noise", type=float, default=0.3, metavar="F",
                   help="tolerated relative drop in benchmark speedup, in [0, 1) "
                        "(default 0.3)")


def _add_bench(sub: argparse._SubParsersAction[_Parser]) -> None:
    bench = sub.add_parser("bench", help="benchmarks: kernel, train, capacity",
                           description="ptlimits benchmarks. Each prints its table to stdout "
                                       "(progress to stderr) and, with --json FILE, writes "
                                       "its report atomically.")
    which = bench.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    kernel = which.add_parser("kernel", help="polynomial-method kernel vs exact and Performer",
                              description="The polynomial-method kernel against exact "
                                          "attention and Performer at equal time.")
    kernel.add_argument("--device", default="cpu",
                        help=f"torch device: {_DEVICE_FORMS} (checked before the run)")
    train = which.add_parser("train", help="prompt-tuning step time, kernel vs exact",
                             description="Prompt-tuning step time (forward + backward + "
                                         "update) through the kernel against exact.")
    capacity = which.add_parser("capacity",
                                help="empirical capacity of gradient-trained prompts",
                                description="Empirical capacity of gradient-trained prompts "
                                            "beside the constructive and lower-bound L_p.")
    for p, quick_help in ((kernel, "small sizes (well under 1 min)"),
                          (train, "L_p in {1024, 4096} (about a minute)"),
                          (capacity, "four small settings (under 60 s)")):
        p.add_argument("--quick", action="store_true", help=quick_help)
        p.add_argument("--json", type=_path, metavar="FILE",
                       help="write the report as JSON (atomic; the path is checked before "
                            "the run)")
        p.add_argument("--threads", type=int, default=None,
                       help=f"torch intra-op threads, 1 to {MAX_THREADS} (default: torch's "
                            "choice; capacity: 1)")


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


def _check_claims_option(pattern: str | None) -> None:
    """``--claims``: not empty, no empty item, and every glob matches a claim id or a
    docs/theory.md heading (else the nearest ids are named)."""
    import fnmatch

    from core.errors import InvalidArgument
    from properties.registry import all_claims, unmatched_glob_message

    if pattern is None:
        return
    where = f"--claims={pattern!r}"
    if not pattern.strip():
        raise InvalidArgument(f"{where}: empty; expected comma-separated globs over claim ids "
                              "or docs/theory.md headings (omit --claims for all)")
    globs = [g.strip() for g in pattern.split(",")]
    if "" in globs:
        raise InvalidArgument(f"{where}: item {globs.index('') + 1} is empty; expected "
                              "comma-separated globs such as 'attention_*,K3'")
    claims = all_claims()
    for glob in globs:
        if glob != "*" and not any(fnmatch.fnmatchcase(c.id, glob) or c.theory_ref == glob
                                   for c in claims):
            raise InvalidArgument(f"{where}: {unmatched_glob_message(glob)}")


def _cmd_audit(args: argparse.Namespace) -> int:
    from core.errors import HarnessError
    from properties.registry import select_claims

    from .audit import AuditOptions, run_audit, write_audit
    from .files import ensure_writable_dir
    from .report.load import load_benchmark, load_capacity, load_regime_json, load_target_json

    # Everything is checked before any work: options, then every input file, then --out.
    _check_claims_option(args.claims)
    claims = select_claims(args.claims)
    options = _named_options(lambda: AuditOptions(
        seed=args.seed, quick=args.quick, pattern=args.claims,
        profile=args.hypothesis_profile, draws=args.draws, jobs=args.jobs,
        executor=args.executor))
    bench = load_benchmark(args.bench_json) if args.bench_json else None
    regimes = [load_regime_json(p) for p in args.regime_json or []]
    capacity = load_capacity(args.capacity_json) if args.capacity_json else None
    targets = [load_target_json(p) for p in args.target_json or []]
    out = ensure_writable_dir("--out", args.out)
    if args.resume:
        from .audit import PARTIAL_DIR
        from .report.load import load_partial_state

        load_partial_state(out / PARTIAL_DIR, options.fingerprint([c.id for c in claims]),
                           [c.id for c in claims])
    show = sys.stderr.isatty() and not os.environ.get("CI")

    def progress(done: int, total: int, claim_id: str, elapsed: float) -> None:
        if show:
            eta = elapsed / done * (total - done) if done else 0.0
            print(f"\r[{done}/{total}] {claim_id} done, {elapsed:.0f} s elapsed, "
                  f"ETA {eta:.0f} s\033[K", end="", file=sys.stderr, flush=True)

    try:
        report = run_audit(claims, options, out_dir=out, resume=args.resume,
                           progress=progress)
        if bench is not None:
            report["benchmarks"] = bench
        if regimes:
            report["real_models"] = regimes
        if capacity is not None:
            report["capacity"] = capacity
        if targets:
            report["user_targets"] = targets
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


_T = TypeVar("_T")


def _named_options(build: Callable[[], _T]) -> _T:
    """Run ``build``; an :class:`InvalidArgument` about ``name=`` is re-raised about the
    command-line option ``--name=`` (``draws=-1`` → ``--draws=-1``)."""
    from core.errors import InvalidArgument

    try:
        return build()
    except InvalidArgument as exc:
        text = str(exc)
        head = text.split("=", 1)[0]
        if head.isidentifier():
            text = "--" + head.replace("_", "-") + "=" + text.split("=", 1)[1]
        raise InvalidArgument(text) from None


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from properties.registry import get_claim

    from .audit import claim_entry, draw_instances
    from .executors import parse_instance, reproduce_entry

    claim = get_claim(args.claim_id)
    instance = parse_instance(claim, args.instance, draw_instances)
    entry = reproduce_entry(claim, instance, claim_entry, draw_instances)
    print(json.dumps({k: entry[k] for k in ("id", "status", "reason", "max_error", "bound",
                                            "worst_case", "traceback")}, indent=2))
    return EXIT_OK if entry["status"] in ("pass", "xfail", "skip") else EXIT_FAILED


def _cmd_regime(args: argparse.Namespace) -> int:
    from core.errors import HarnessError

    from .files import write_atomically
    from .real_models import audit_model, read_input_ids
    from .report.text import format_regime_table

    if args.json is not None and args.json.is_dir():
        raise HarnessError(f"--json={str(args.json)!r}: is a directory; expected a file path")
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


def _cmd_regress(args: argparse.Namespace) -> int:
    from core.validation import check_real

    from .regress import run_regress

    check_real("--margin-threshold", args.margin_threshold, low=0.0, high=1.0,
               low_open=True, high_open=True)
    check_real("--bench-noise", args.bench_noise, low=0.0, high=1.0, high_open=True)
    return run_regress(args.baseline, args.current, margin_threshold=args.margin_threshold,
                       bench_noise=args.bench_noise)


def _check_device(device: str) -> None:
    """``bench kernel --device``: cpu, cuda or cuda:N, and present on this machine."""
    import re

    from core.errors import InvalidArgument

    match = re.fullmatch(r"(cpu|cuda)(?::(\d+))?", device)
    if not match or (match[1] == "cpu" and match[2] is not None):
        raise InvalidArgument(f"--device={device!r}: unknown device; expected {_DEVICE_FORMS}")
    if match[1] == "cuda":
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(match[2] or 0)
        if index >= count:
            have = (f"has only {count} CUDA device(s)" if count else
                    "CUDA is not available on this machine")
            raise InvalidArgument(f"--device={device!r}: {have}; expected cpu"
                                  + (f" or cuda:0..cuda:{count - 1}" if count else ""))


def _cmd_bench(args: argparse.Namespace) -> int:
    from core.errors import HarnessError
    from core.validation import check_int

    from .report.load import check_output_file

    # Every option is checked before the benchmark starts.
    if args.threads is not None:
        check_int("--threads", args.threads, minimum=1, maximum=MAX_THREADS)
    if args.benchmark == "kernel":
        _check_device(args.device)
    if args.json is not None:
        check_output_file("--json", args.json)
    from .bench.common import torch_threads, write_json_atomically

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    threads = args.threads if args.threads is not None else (
        1 if args.benchmark == "capacity" else None)
    with torch_threads(threads):
        if args.benchmark == "kernel":
            from .bench.kernel import format_table, run_kernel_bench

            report = run_kernel_bench(quick=args.quick, device=args.device, log=log)
            table = format_table(report)
        elif args.benchmark == "train":
            from .bench.train import format_train_table, run_train_bench

            report = run_train_bench(quick=args.quick, log=log)
            table = format_train_table(report)
        else:
            from .bench.capacity import format_capacity_table, run_capacity_bench

            report = run_capacity_bench(quick=args.quick, log=log)
            table = format_capacity_table(report)
    print(table)
    if args.json is not None:
        try:
            write_json_atomically(args.json, report)
        except OSError as exc:
            raise HarnessError(f"--json={str(args.json)!r}: cannot write "
                               f"({exc.strerror or exc})") from None
    return EXIT_OK


def _cmd_certify(args: argparse.Namespace) -> int:
    from .certificates import write_certificates
    from .files import ensure_writable_dir

    if args.out.exists() and not args.out.is_dir():
        from core.errors import InvalidArgument

        raise InvalidArgument(f"--out={str(args.out)!r}: is a file; expected a folder")
    ensure_writable_dir("--out", args.out.parent)
    names = write_certificates(args.out, log=lambda line: print(line, file=sys.stderr))
    print(f"wrote {len(names)} files to {args.out}: {', '.join(names)}")
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from core.errors import InvalidArgument

    if not args.dir.is_dir():
        raise InvalidArgument(f"DIR={str(args.dir)!r}: not a folder; expected one that "
                              "'ptlimits certify --out DIR' wrote")
    from ptcheck import check_dir, format_results

    results = check_dir(args.dir)
    print(format_results(results))
    bad = [r for r in results if r.verdict == "refuted" or
           (args.strict and r.verdict == "inconclusive")]
    counts = {v: sum(r.verdict == v for r in results)
              for v in ("proved", "certified", "refuted", "inconclusive")}
    print(", ".join(f"{n} {v}" for v, n in counts.items()))
    return EXIT_FAILED if bad else EXIT_OK


def _cmd_universal(args: argparse.Namespace) -> int:
    from .user_target import run

    return _named_options(lambda: run(args))


_COMMANDS = {"universal": _cmd_universal, "certify": _cmd_certify, "check": _cmd_check,
             "claims": _cmd_claims, "audit": _cmd_audit, "reproduce": _cmd_reproduce,
             "regime": _cmd_regime, "regress": _cmd_regress, "bench": _cmd_bench,
             "check-attention": _cmd_check_attention}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    ``--help`` prints and raises ``SystemExit(0)``, as argparse does; every error prints
    one ``ptlimits: error: ...`` line to stderr and returns 2.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except UsageError as exc:
        return _error(exc)
    from core.errors import HarnessError

    try:
        return _COMMANDS[args.command](args)
    except HarnessError as exc:
        return _error(exc)
    except KeyboardInterrupt:
        print("ptlimits: interrupted; no report was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:   # stdout closed early (``| head``): no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


def _error(exc: Exception) -> int:
    """Print ``exc`` as the one line ``ptlimits: error: ...``; the usage exit status."""
    text = " ".join(line.strip() for line in str(exc).splitlines())
    print(f"ptlimits: error: {text}", file=sys.stderr)
    return EXIT_USAGE
