"""Planted bugs (semantic mutants): realistic mistakes that the test suite must catch.

Each :class:`Mutant` is a literal text replacement in one source file. :func:`run_mutant`
copies the working tree to a temporary directory, applies the mutant there (the checkout is
never touched), runs pytest on the copy and reports whether the suite went red.

    python -m tools.mutants                 # every mutant, default tier, stop at first failure
    python -m tools.mutants --only beta_applied_twice --pytest-args "-x -q tests/test_claims.py"
    python -m tools.mutants --sample 3 --seed 20261126   # what CI runs (seed: the date)

Exit status 1 if any mutant survives (the suite stayed green), else 0.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidArgument

__all__ = ["MUTANTS", "Mutant", "MutantResult", "main", "run_mutant"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    """Replace ``old`` by ``new`` (exactly once) in ``path`` (relative to the repo root)."""

    name: str
    path: str
    old: str
    new: str
    description: str


MUTANTS: tuple[Mutant, ...] = (
    Mutant("softmax_wrong_axis", "core/attention.py",
           "shifted = scores - scores.amax(dim=-2, keepdim=True)\n"
           "    weights = torch.exp(shifted)\n"
           "    return weights / weights.sum(dim=-2, keepdim=True)",
           "shifted = scores - scores.amax(dim=-1, keepdim=True)\n"
           "    weights = torch.exp(shifted)\n"
           "    return weights / weights.sum(dim=-1, keepdim=True)",
           "softmax normalised over queries instead of keys"),
    Mutant("residual_dropped", "core/model.py",
           "out = inputs.queries + attention_block(inputs.Q, inputs.K, inputs.V, self.beta)",
           "out = attention_block(inputs.Q, inputs.K, inputs.V, self.beta)",
           "attention layer without its residual connection"),
    Mutant("first_l_columns_read", "core/model.py",
           "inputs = AttentionInputs(Z=z, queries=z[..., lp:], Q=(self.w_q @ z)[..., lp:],",
           "inputs = AttentionInputs(Z=z, queries=z[..., :z.shape[-1] - lp],"
           " Q=(self.w_q @ z)[..., :z.shape[-1] - lp],",
           "readout takes the first L columns instead of the last L"),
    Mutant("beta_applied_twice", "core/attention.py",
           "scores = beta * (k.transpose(-1, -2) @ q)",
           "scores = beta * beta * (k.transpose(-1, -2) @ q)",
           "score scale applied twice"),
    Mutant("mp_precision_leaks", "core/mp_twin.py",
           "    with mpmath.workdps(dps):\n        if exact is None:",
           "    mpmath.mp.dps = dps\n    if True:\n        if exact is None:",
           "the mpmath twin sets global precision instead of using workdps"),
    Mutant("lower_bound_exponent_d_plus_l", "core/bounds.py",
           "return cells_per_coordinate(C, eps) ** (d * L)",
           "return cells_per_coordinate(C, eps) ** (d + L)",
           "capacity lower bound with exponent d+L instead of d·L"),
    Mutant("prompt_appended", "core/model.py",
           "z = torch.cat([P.expand(*X.shape[:-2], *P.shape), X], dim=-1)",
           "z = torch.cat([X, P.expand(*X.shape[:-2], *P.shape)], dim=-1)",
           "soft prompt appended after the input instead of prepended"),
    Mutant("taylor_factorial_off_by_one", "core/kernels/polynomial.py",
           "coeffs = [_inverse_factorial(k) for k in range(g + 1)]",
           "coeffs = [_inverse_factorial(k + 1) for k in range(g + 1)]",
           "Taylor coefficients 1/(k+1)! instead of 1/k!"),
    Mutant("monomial_multiplicity_dropped", "core/kernels/features.py",
           "[float(math.factorial(int(d)) // math.prod(math.factorial(int(a)) for a in row))",
           "[1.0 + 0.0 * float(math.prod(math.factorial(int(a)) for a in row))",
           "symmetric monomial features without their multinomial weights"),
    Mutant("rank_formula_off_by_one", "core/kernels/features.py",
           "return math.comb(s + g, g)",
           "return math.comb(s + g - 1, g)",
           "feature rank C(s+g-1, g) instead of C(s+g, g)"),
    Mutant("normaliser_dropped", "core/kernels/fast_attention.py",
           "        torch.div(num_den[:-1], num_den[-1], out=out)\n",
           "        out.copy_(num_den[:-1])\n",
           "fast attention output not divided by its normaliser"),
    Mutant("lemma_constant_below_tight", "core/kernels/regime.py",
           "    return 2.0 * e / (1.0 + math.sqrt((1.0 - e) * (1.0 + e))) * v * _LEMMA_ROUNDING\n",
           "    return 1.9 * e / (1.0 + math.sqrt((1.0 - e) * (1.0 + e))) * v * _LEMMA_ROUNDING\n",
           "error lemma constant 1.9 instead of the tight 2 (a bound the two-key case refutes)"),
    Mutant("demonstration_judges_the_certificate", "properties/claims_universal.py",
           "    error = inst.eps if cert.holds else math.inf\n",
           "    error = cert.dp_upper if cert.holds else math.inf\n",
           "non-vacuity judged by the certified d_p instead of ε (weaker than the claim)"),
    Mutant("lipschitz_in_wrong_norm", "core/lipschitz.py",
           "num = float(np.max(np.abs(np.asarray(f_a) - np.asarray(f_b))))",
           "num = float(np.linalg.norm(np.asarray(f_a) - np.asarray(f_b)))",
           "Lipschitz quotient measured with the Euclidean norm of outputs"),
    Mutant("route_a_prompt_share_dropped", "core/constructions/route_a.py",
           "            share = arb(lp)\n",
           "            share = arb(0)\n",
           "route A's FF_post undoes a normaliser without the prompt's share"),
    Mutant("route_a_ball_normaliser_dropped", "core/constructions/balls.py",
           "for wi, cj in zip(w, cols, strict=True)), arb(0)) / z",
           "for wi, cj in zip(w, cols, strict=True)), arb(0))",
           "the softmax enclosure forgets to divide by the normaliser"),
)


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    caught: bool
    returncode: int
    seconds: float
    summary: str


def _copy_tree(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\n")
    for rel in filter(None, files):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def apply_mutant(tree: Path, mutant: Mutant) -> None:
    """Apply ``mutant`` inside ``tree``; refuse if its text is not found exactly once."""
    target = tree / mutant.path
    text = target.read_text()
    if text.count(mutant.old) != 1:
        raise InvalidArgument(
            f"mutant {mutant.name!r}: expected its text exactly once in {mutant.path}, "
            f"found {text.count(mutant.old)} times (the code changed; update the mutant)")
    target.write_text(text.replace(mutant.old, mutant.new))


def run_mutant(mutant: Mutant, pytest_args: Sequence[str]) -> MutantResult:
    """Run pytest on a mutated copy of the tree; ``caught`` iff pytest failed (exit 1)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"ptlimits-mutant-{mutant.name}-") as tmp:
        tree = Path(tmp)
        _copy_tree(tree)
        apply_mutant(tree, mutant)
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args],
            cwd=tree, capture_output=True, text=True,
            env={**_clean_env(), "PYTHONPATH": str(tree)})
    tail = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = tail[-1] if tail else proc.stderr.strip()[-200:]
    # pytest exits 1 on failures; 2 when -x/--maxfail stops an xdist run after a failure.
    caught = proc.returncode == 1 or (proc.returncode == 2 and
                                      re.search(r"\b\d+ failed\b", summary) is not None)
    return MutantResult(mutant=mutant, caught=caught,
                        returncode=proc.returncode, seconds=time.perf_counter() - started,
                        summary=summary)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this mutant (repeatable)")
    parser.add_argument("--pytest-args", default="-x -q tests",
                        help="arguments for pytest (default: '-x -q tests')")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--sample", type=int, default=None, metavar="N",
                        help="run N mutants chosen by --seed (CI runs a rotating sample)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --sample (default 0)")
    args = parser.parse_args(argv)
    known = {m.name: m for m in MUTANTS}
    if args.list:
        name_width = max(len(m.name) for m in MUTANTS)
        path_width = max(len(m.path) for m in MUTANTS)
        for m in MUTANTS:
            print(f"{m.name:<{name_width}} {m.path:<{path_width}} {m.description}")
        return 0
    unknown = sorted(set(args.only or ()) - set(known))
    if unknown:
        print(f"tools.mutants: error: --only={unknown}: unknown; known: {sorted(known)}",
              file=sys.stderr)
        return 2
    chosen = [known[n] for n in args.only] if args.only else list(MUTANTS)
    if args.sample is not None:
        if not 1 <= args.sample <= len(chosen):
            print(f"tools.mutants: error: --sample={args.sample}: must be in 1..{len(chosen)}",
                  file=sys.stderr)
            return 2
        chosen = random.Random(args.seed).sample(chosen, args.sample)
    survivors = 0
    for mutant in chosen:
        result = run_mutant(mutant, shlex.split(args.pytest_args))
        verdict = "caught" if result.caught else f"SURVIVED (pytest exit {result.returncode})"
        survivors += not result.caught
        print(f"{mutant.name:<24} {verdict:<28} {result.seconds:6.1f} s  {result.summary}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
