"""Mutation score of ``core/`` by module, from a mutmut run.

``mutmut run`` (configured in ``pyproject.toml`` under ``[tool.mutmut]``) leaves one
``mutants/<file>.meta`` JSON per mutated source file, mapping each mutant to the exit code of
the tests that ran against it, and the mutated sources themselves in ``mutants/<file>.py``.
This module turns those into a per-module table:

    score = (killed + timeout) / (mutants − equivalent − not yet checked)

``killed`` means the test selection went red; ``timeout`` means the mutant made the tests
hang (mutmut counts it as killed); a mutant that no test reaches (``no tests``) counts as a
survivor. Mutants judged *equivalent* — no input can tell them from the original — are
listed in :data:`tools.equivalent_mutants.EQUIVALENT`, each with its reason, and leave the
denominator.

An equivalent entry names a mutant by what survives edits of the code around it, not by
mutmut's serial number: the function (mutmut's name without ``__mutmut_N``) and the mutated
line — the line of the mutant's function that differs from the original function
(``…__mutmut_orig``) in ``mutants/<file>.py``, whitespace-normalised (see
:func:`mutation_of`). Where one function has several mutants with the same mutated line
but different original lines, the entry gives the original line too. See
docs/mutation.md.

    python -m tools.mutation_score                      # table
    python -m tools.mutation_score --survivors          # plus every surviving mutant
    python -m tools.mutation_score --min-score 90 --json mutation.json

Exit status 1 if ``--min-score`` is given and a module (or the total) falls below it, or if
an equivalent entry matches no mutant (the list went stale) or needs its original line;
2 if there are no mutmut results.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import HarnessError

from .equivalent_mutants import EQUIVALENT, EntryKey

__all__ = ["EQUIVALENT", "Matching", "ModuleScore", "Mutation", "function_of", "load_statuses",
           "main", "match_equivalent", "mutation_of", "read_mutations", "score_by_module"]

#: mutmut's exit-code convention (``mutmut.stats.status_by_exit_code``), restated so this
#: report does not import mutmut.
_STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
    36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
    37: "caught by type check", -11: "segfault", -9: "segfault", None: "not checked",
}

_SEPARATOR = "__mutmut_"


@dataclass
class ModuleScore:
    """Counts of one module's mutants by status."""

    module: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def scored(self) -> int:
        """Mutants in the denominator: checked, not skipped, not equivalent."""
        return self.total - sum(self.counts[s] for s in ("not checked", "skipped",
                                                          "equivalent"))

    @property
    def killed(self) -> int:
        return sum(self.counts[s] for s in ("killed", "timeout", "caught by type check",
                                            "segfault"))

    @property
    def score(self) -> float | None:
        return 100.0 * self.killed / self.scored if self.scored else None

    @property
    def floor(self) -> float | None:
        """The score if every mutant not yet checked survived: a bound that holds now."""
        scored = self.scored + self.counts["not checked"]
        return 100.0 * self.killed / scored if scored else None


def load_statuses(mutants_dir: Path) -> dict[str, str]:
    """``{mutant name: status}`` from every ``*.meta`` file under ``mutants_dir/core``."""
    metas = sorted((mutants_dir / "core").rglob("*.meta"))
    if not metas:
        raise HarnessError(
            f"mutants_dir={str(mutants_dir)!r}: no mutmut results (*.meta) under core/; run "
            "'mutmut run' first (see docs/mutation.md)")
    statuses: dict[str, str] = {}
    for meta in metas:
        try:
            codes = json.loads(meta.read_text())["exit_code_by_key"]
        except (OSError, ValueError, KeyError) as exc:
            raise HarnessError(f"{meta}: not a mutmut result file ({exc})") from None
        for name, code in codes.items():
            statuses[name] = _STATUS_BY_EXIT_CODE.get(code, "suspicious")
    return statuses


def function_of(mutant: str) -> str:
    """``core.model.xǁPromptTunedTransformerǁforward__mutmut_16`` ->
    ``core.model.xǁPromptTunedTransformerǁforward`` (mutmut's function name)."""
    return mutant.rpartition(_SEPARATOR)[0] or mutant


def _module_of(mutant: str) -> str:
    """``core.kernels.plan.x_f__mutmut_3`` -> ``core.kernels.plan``."""
    return function_of(mutant).rpartition(".")[0]


@dataclass(frozen=True)
class Mutation:
    """What one mutant changes, independent of where in the function it sits.

    ``original`` and ``mutated`` are the differing lines of the original and the mutated
    function, each line stripped, runs of white space made one space, and the lines joined
    by one space. ``mutated`` is ``""`` for a mutant that only deletes lines (an argument on
    a line of its own dropped).
    """

    function: str
    original: str
    mutated: str


def _normalise(lines: Sequence[str]) -> str:
    return " ".join(" ".join(line.split()) for line in lines)


def mutation_of(original: Sequence[str], mutant: Sequence[str], function: str) -> Mutation:
    """The :class:`Mutation` between two versions of one function's source lines (their
    ``def`` lines already naming the function alike): from the first to the last line that
    differs."""
    ops = [op for op in difflib.SequenceMatcher(None, original, mutant, autojunk=False)
           .get_opcodes() if op[0] != "equal"]
    if not ops:
        return Mutation(function, "", "")
    return Mutation(function, _normalise(original[ops[0][1]:ops[-1][2]]),
                    _normalise(mutant[ops[0][3]:ops[-1][4]]))


def _generated_functions(text: str) -> dict[str, tuple[int, int]]:
    """``{generated name: (first line, last line)}`` of every ``…__mutmut_orig`` and
    ``…__mutmut_N`` function of a mutmut-generated module, top level or in a class (lines
    1-based, decorators included)."""
    spans: dict[str, tuple[int, int]] = {}
    for node in ast.parse(text).body:
        for item in [node, *(node.body if isinstance(node, ast.ClassDef) else ())]:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                    _SEPARATOR in item.name:
                first = min([item.lineno, *(d.lineno for d in item.decorator_list)])
                spans[item.name] = (first, item.end_lineno or item.lineno)
    return spans


def _source_of(lines: Sequence[str], spans: Mapping[str, tuple[int, int]], generated: str,
               plain: str) -> list[str] | None:
    """The lines of generated function ``generated``, named ``plain`` instead."""
    if generated not in spans:
        return None
    first, last = spans[generated]
    return [line.replace(generated, plain) for line in lines[first - 1:last]]


def read_mutations(mutants_dir: Path, names: Iterable[str]) -> dict[str, Mutation]:
    """The :class:`Mutation` of each named mutant, read from ``mutants_dir/<module>.py``.

    A mutant whose generated source is missing (or unreadable) is left out.
    """
    by_module: dict[str, list[str]] = defaultdict(list)
    for name in names:
        by_module[_module_of(name)].append(name)
    out: dict[str, Mutation] = {}
    for module, members in sorted(by_module.items()):
        source = mutants_dir / (module.replace(".", "/") + ".py")
        try:
            text = source.read_text(encoding="utf-8")
            spans = _generated_functions(text)
        except (OSError, SyntaxError, ValueError):
            continue
        lines = text.split("\n")
        for name in members:
            function = function_of(name)
            plain = function.rpartition(".")[2]
            original = _source_of(lines, spans, plain + _SEPARATOR + "orig", plain)
            mutant = _source_of(lines, spans, name.rpartition(".")[2], plain)
            if original is not None and mutant is not None:
                out[name] = mutation_of(original, mutant, function)
    return out


@dataclass
class Matching:
    """Which mutants the equivalent list covers, and which of its entries are wrong.

    ``equivalent`` maps each covered mutant to its reason. ``stale`` lists the entries that
    match no mutant; ``ambiguous`` those that give only a mutated line while mutants with
    different original lines share it (the entry must give the original line too).
    """

    equivalent: dict[str, str] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)


def _describe(function: str, key: EntryKey) -> str:
    if isinstance(key, tuple):
        return f"{function}: {key[0]!r} -> {key[1]!r}"
    return f"{function}: {key!r}"


def match_equivalent(mutations: Mapping[str, Mutation],
                     equivalent: Mapping[str, Mapping[EntryKey, str]]) -> Matching:
    """Match every entry of ``equivalent`` against the mutants' :class:`Mutation`.

    An entry ``mutated line: reason`` covers every mutant of its function with that mutated
    line, provided they all have the same original line (the same change at two places of
    the function); ``(original line, mutated line): reason`` covers those with both.
    """
    by_function: dict[str, list[tuple[str, Mutation]]] = defaultdict(list)
    for name, mutation in sorted(mutations.items()):
        by_function[mutation.function].append((name, mutation))
    matching = Matching()
    for function, entries in equivalent.items():
        for key, reason in entries.items():
            if isinstance(key, tuple):
                hits = [(n, m) for n, m in by_function[function]
                        if (m.original, m.mutated) == key]
            else:
                hits = [(n, m) for n, m in by_function[function] if m.mutated == key]
            if not hits:
                matching.stale.append(_describe(function, key))
            elif len({m.original for _, m in hits}) > 1:
                matching.ambiguous.append(
                    _describe(function, key) + " (original lines: "
                    + "; ".join(sorted({repr(m.original) for _, m in hits})) + ")")
            else:
                matching.equivalent.update((n, reason) for n, _ in hits)
    return matching


def score_by_module(statuses: Mapping[str, str],
                    equivalent: Iterable[str] = ()) -> list[ModuleScore]:
    """One :class:`ModuleScore` per module plus a final ``TOTAL`` row; a mutant named in
    ``equivalent`` that survived counts as ``equivalent``."""
    equivalent = set(equivalent)
    rows: dict[str, ModuleScore] = {}
    total = ModuleScore("TOTAL")
    for name, status in sorted(statuses.items()):
        if name in equivalent and status in ("survived", "no tests"):
            status = "equivalent"
        row = rows.setdefault(_module_of(name), ModuleScore(_module_of(name)))
        for r in (row, total):
            r.counts[status] += 1
            if status in ("survived", "no tests", "suspicious"):
                r.survivors.append(name)
    return [*rows.values(), total]


def _table(rows: Sequence[ModuleScore]) -> str:
    head = (f"{'module':<32} {'mutants':>7} {'killed':>6} {'surv':>5} {'equiv':>5} "
            f"{'unchk':>5} {'score':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        score = "—" if r.score is None else f"{r.score:.1f}%"
        lines.append(f"{r.module:<32} {r.total:>7} {r.killed:>6} {len(r.survivors):>5} "
                     f"{r.counts['equivalent']:>5} {r.counts['not checked']:>5} {score:>6}")
    return "\n".join(lines)


def _write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as JSON to ``path`` via a temporary file in the same folder and
    ``os.replace``: a reader sees the old file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation_score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mutants-dir", type=Path, default=Path("mutants"), metavar="DIR",
                        help="mutmut's working directory (default: ./mutants)")
    parser.add_argument("--survivors", action="store_true",
                        help="list surviving mutants, each with its mutated line")
    parser.add_argument("--min-score", type=float, default=None, metavar="PERCENT",
                        help="exit 1 if any module or the total scores below PERCENT")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the table as JSON")
    args = parser.parse_args(argv)
    if args.min_score is not None and not 0 <= args.min_score <= 100:
        parser.error(f"--min-score={args.min_score}: must be a percentage in [0, 100]")
    try:
        statuses = load_statuses(args.mutants_dir)
    except HarnessError as exc:
        print(f"mutation_score: error: {exc}", file=sys.stderr)
        return 2
    listed = set(EQUIVALENT)
    mutations = read_mutations(args.mutants_dir,
                               [n for n in statuses if function_of(n) in listed])
    matching = match_equivalent(mutations, EQUIVALENT)
    rows = score_by_module(statuses, matching.equivalent)
    print(_table(rows))
    total = rows[-1]
    if total.counts["not checked"] and total.floor is not None:
        print(f"{total.counts['not checked']} mutants not yet checked: if all of them "
              f"survived, the total would be {total.floor:.1f}%")
    if args.survivors:
        lines = read_mutations(args.mutants_dir, total.survivors)
        for name in total.survivors:
            line = lines.get(name)
            print(f"  survived: {name}" + (f"  {line.mutated!r}" if line else ""))
    if args.json is not None:
        _write_json_atomically(args.json, {
            "modules": [{"module": r.module, "counts": dict(r.counts), "score": r.score,
                         "survivors": r.survivors} for r in rows],
            "stale_equivalent": matching.stale, "ambiguous_equivalent": matching.ambiguous})
    status = 0
    for kind, entries in (("matches no mutant", matching.stale),
                          ("needs its original line (mutants with different original lines "
                           "share its mutated line)", matching.ambiguous)):
        for entry in entries:
            print(f"mutation_score: equivalent entry {kind}; re-judge it: {entry}",
                  file=sys.stderr)
            status = 1
    if args.min_score is not None:
        low = [r.module for r in rows if r.score is not None and r.score < args.min_score]
        if low:
            print(f"below {args.min_score}%: {', '.join(low)}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
