"""``ptlimits check-attention MODULE:FUNCTION``: K3-style checks of a user's attention kernel.

``FUNCTION`` is ``fn(Q (n, s), K (m, s), V (m, d_v), beta) -> (n, d_v)`` ≈
``softmax(β Q Kᵀ) V`` on torch tensors. It is run on every input kind of
:data:`properties.attention_check.ATTENTION_KINDS` in the regime ``(--B, --s, --beta)``,
measured against the mpmath oracle at two precisions, and judged against ``--claimed-error``
where given, else against the bound the polynomial-method kernel certifies at ``--delta-f``
(:func:`properties.attention_check.check_attention`). Exit 0 when it passes, 1 with the
failure table when it does not, 2 (one ``ptlimits: error:`` line) for a bad option or a
``MODULE:FUNCTION`` that does not resolve to a callable.

Importing this module imports nothing heavy (``--help`` stays fast); :func:`run` imports
torch and the checks.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "resolve_implementation", "run"]

#: Largest ``--max-n`` (the mpmath oracle is quadratic in it).
MAX_N = 64

#: Largest ``--s``.
MAX_S = 64

#: Most ``--draws`` per input kind.
MAX_DRAWS = 1000

_EXAMPLE = "verify.attention_examples:sdpa_float32"


def _file(text: str) -> Path:
    """An argparse ``type``: a non-empty path."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is empty; expected a file path")
    return Path(text)


def add_parser(sub: Any) -> None:
    """Add the ``check-attention`` command to the subparsers ``sub``."""
    p = sub.add_parser(
        "check-attention", help="check your own attention kernel against mpmath and the "
                                "polynomial kernel's certified bound",
        description="Run MODULE:FUNCTION, a callable fn(Q (n, s), K (m, s), V (m, d_v), beta) "
                    "-> (n, d_v) approximating softmax(beta Q K^T) V on torch tensors, on "
                    "uniform, ±B sign, equal-key, dominant-key, extremal (every score at "
                    "±beta*s*B^2) and prime-length inputs with max norm <= B; measure "
                    "max|out - exact|/max|V| against mpmath at two precisions; judge it "
                    "against --claimed-error where given, else against the error the "
                    "polynomial-method kernel certifies for the same inputs at --delta-f. "
                    "Exit status: 0 pass, 1 fail (with a failure table), 2 bad input.",
        epilog=f"Example: ptlimits check-attention {_EXAMPLE} --claimed-error 1.13e-5. "
               "MODULE is imported with the current folder on sys.path.")
    p.add_argument("implementation", metavar="MODULE:FUNCTION",
                   help="the callable to check, e.g. my_attention:attend or "
                        f"{_EXAMPLE}")
    p.add_argument("--B", type=float, default=0.5,
                   help="max-norm bound of Q and K, > 0 (default 0.5)")
    p.add_argument("--s", type=int, default=4, help=f"head dimension, 1 to {MAX_S} (default 4)")
    p.add_argument("--beta", type=float, default=None,
                   help="score scale, > 0 (default 1/sqrt(s))")
    p.add_argument("--claimed-error", type=float, default=None, metavar="E",
                   help="the implementation's own error claim in units of max|V|, >= 0; "
                        "judged against it instead of the certified bound")
    p.add_argument("--delta-f", type=float, default=1e-6, metavar="F",
                   help="target of the polynomial kernel whose certified bound is shown, in "
                        "(0, 1) (default 1e-6)")
    p.add_argument("--draws", type=int, default=4, metavar="N",
                   help=f"inputs per kind, 1 to {MAX_DRAWS} (default 4)")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the draws, >= 0 (default 0)")
    p.add_argument("--max-n", type=int, default=12, metavar="N",
                   help=f"largest number of queries and keys, 2 to {MAX_N} (default 12)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="dtype of the tensors passed to FUNCTION (default float64)")
    p.add_argument("--json", type=_file, default=None, metavar="FILE",
                   help="also write the report as JSON (atomically; the path is checked "
                        "before the run)")


def resolve_implementation(spec: str) -> Callable[..., Any]:
    """The callable ``spec`` names, ``module:attribute`` (the attribute may be dotted).

    Raises:
        InvalidArgument: no colon, an empty part, the module does not import, the attribute
            is missing, or it is not callable; the message names ``MODULE:FUNCTION``.
    """
    from core.errors import InvalidArgument

    where = f"MODULE:FUNCTION={spec!r}"
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name.strip() or not attribute.strip():
        raise InvalidArgument(f"{where}: expected a module and a callable joined by ':', "
                              f"e.g. {_EXAMPLE!r}")
    if os.getcwd() not in sys.path:          # as `python -m` would: the user's own modules
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidArgument(f"{where}: cannot import module {module_name!r} "
                              f"({type(exc).__name__}: {exc})") from None
    except Exception as exc:                  # the module itself raised while importing
        raise InvalidArgument(f"{where}: importing module {module_name!r} raised "
                              f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise InvalidArgument(f"{where}: module {module_name!r} has no attribute "
                                  f"{attribute!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InvalidArgument(f"{where}: {attribute!r} is not callable (type "
                              f"{type(obj).__name__}); expected fn(Q, K, V, beta)")
    return obj


def run(args: argparse.Namespace) -> int:
    """Run the command: check every option, resolve the implementation, check it, report."""
    from core.errors import HarnessError
    from core.validation import check_int, check_real

    from .files import write_atomically
    from .report.load import check_output_file

    # Every option is checked before the implementation is imported or run.
    check_real("--B", args.B, low=0.0, low_open=True)
    check_int("--s", args.s, minimum=1, maximum=MAX_S)
    if args.beta is not None:
        check_real("--beta", args.beta, low=0.0, low_open=True)
    if args.claimed_error is not None:
        check_real("--claimed-error", args.claimed_error, low=0.0)
    check_real("--delta-f", args.delta_f, low=0.0, high=1.0, low_open=True, high_open=True)
    check_int("--draws", args.draws, minimum=1, maximum=MAX_DRAWS)
    check_int("--seed", args.seed, minimum=0)
    check_int("--max-n", args.max_n, minimum=2, maximum=MAX_N)
    if args.json is not None:
        check_output_file("--json", args.json)
    fn = resolve_implementation(args.implementation)

    from properties.attention_check import check_attention, failure_table

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = _with_option_names(lambda: check_attention(
        fn, B=args.B, s=args.s, beta=args.beta, claimed_error=args.claimed_error,
        delta_F=args.delta_f, draws=args.draws, seed=args.seed, max_n=args.max_n,
        dtype=args.dtype, name=args.implementation, progress=log))
    print(report.table())
    if not report.passed:
        print()
        print(failure_table(report.measurements))
    if args.json is not None:
        try:
            write_atomically(args.json, json.dumps(report.to_json(), indent=2,
                                                   allow_nan=False) + "\n")
        except OSError as exc:
            raise HarnessError(f"--json={str(args.json)!r}: cannot write "
                               f"({exc.strerror or exc})") from None
        print(f"wrote {args.json}")
    return 0 if report.passed else 1


_OPTION_NAMES = {"B": "--B", "beta": "--beta", "claimed_error": "--claimed-error"}


def _with_option_names(build: Callable[[], Any]) -> Any:
    """Run ``build``; an :class:`InvalidArgument` that names a keyword (``B=``) is re-raised
    naming the option (``--B=``)."""
    from core.errors import InvalidArgument

    try:
        return build()
    except InvalidArgument as exc:
        text = str(exc)
        for key, option in _OPTION_NAMES.items():
            if text.startswith(f"{key}="):
                text = option + text[len(key):]
                break
        raise InvalidArgument(text) from None
