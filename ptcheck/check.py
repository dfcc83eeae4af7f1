"""The checker (see the package docstring): one function per certificate kind."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "VERDICTS", "Result", "check_dir", "coq_k1_goal", "format_results"]

#: The manifest's format tag.
FORMAT = "ptlimits-certificates-1"

VERDICTS = ("proved", "certified", "refuted", "inconclusive")

#: Most intervals the K1 bisection may evaluate before it gives up (inconclusive).
K1_MAX_INTERVALS = 1 << 16

#: Seconds ``coqc`` may take on one file.
COQC_TIMEOUT = 300


@dataclass(frozen=True)
class Result:
    """One manifest entry re-checked: ``verdict`` in :data:`VERDICTS`, ``detail`` says why."""

    file: str
    kind: str
    verdict: str
    detail: str


class _Refuted(Exception):
    pass


class _Inconclusive(Exception):
    pass


def _rational(name: str, text: object) -> Fraction:
    if not isinstance(text, (str, int)) or isinstance(text, bool):
        raise _Refuted(f"{name}={text!r}: expected a rational written as 'p/q'")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise _Refuted(f"{name}={text!r}: not a rational 'p/q'") from None


def _int(name: str, value: object, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _Refuted(f"{name}={value!r}: expected an integer >= {minimum}")
    return value


# --- K1: the polynomial's sup bound -------------------------------------------------------


def _k1_data(data: dict[str, Any]) -> tuple[list[Fraction], Fraction, Fraction]:
    coeffs = [_rational(f"coefficients[{j}]", c) for j, c in enumerate(data["coefficients"])]
    radius = _rational("radius", data["radius"])
    bound = _rational("bound", data["bound"])
    if not coeffs or radius < 0 or bound <= 0:
        raise _Refuted("need coefficients, radius >= 0 and bound > 0")
    return coeffs, radius, bound


def _check_k1_enclosure(data: dict[str, Any], _dir: Path) -> tuple[str, str]:
    """Bisect ``[−R, R]``; on each ``m ± w``, ``|f| ≤ |f(m)| + |f'(m)|w + |f''(m ± w)|w²/2``
    with ``f = p e^{−x} − 1``, ``f' = (p' − p)e^{−x}``, ``f'' = (p'' − 2p' + p)e^{−x}``."""
    from flint import arb, ctx, fmpq

    coeffs, radius, bound = _k1_data(data)
    d1 = [j * c for j, c in enumerate(coeffs)][1:]
    d2 = [j * c for j, c in enumerate(d1)][1:]

    def horner(cs: list[Fraction], x: Any) -> Any:
        acc = arb(0)
        for c in reversed(cs):
            acc = acc * x + arb(fmpq(c.numerator, c.denominator))
        return acc

    old = ctx.prec
    ctx.prec = 192
    try:
        b = arb(fmpq(bound.numerator, bound.denominator))
        todo = [(-radius, radius)]
        done = 0
        while todo:
            lo, hi = todo.pop()
            done += 1
            if done > K1_MAX_INTERVALS:
                raise _Inconclusive(f"{K1_MAX_INTERVALS} intervals were not enough")
            m, w = (lo + hi) / 2, (hi - lo) / 2
            x = arb(fmpq(m.numerator, m.denominator))
            e = (-x).exp()
            p0 = horner(coeffs, x)
            f0 = p0 * e - 1
            if abs(f0) > b:
                raise _Refuted(f"|p(x)e^-x - 1| > bound at x = {m} (the bound is false)")
            ball = arb(fmpq(m.numerator, m.denominator), fmpq(w.numerator, w.denominator))
            f1 = (horner(d1, x) - p0) * e
            f2 = (horner(d2, ball) - 2 * horner(d1, ball) + horner(coeffs, ball)) * (-ball).exp()
            wa = arb(fmpq(w.numerator, w.denominator))
            upper = abs(f0) + abs(f1) * wa + abs(f2) * wa * wa / 2
            if not upper <= b:
                todo += [(lo, m), (m, hi)]
    finally:
        ctx.prec = old
    return "certified", f"bound {float(bound):.6g} holds on [-R, R], R = {float(radius)!r} " \
                        f"({done} intervals, arb at 192 bits)"


def coq_k1_goal(coeffs: list[Fraction], radius: Fraction, bound: Fraction) -> str:
    """The Coq statement of K1 for exact rationals (what a ``k1-proof`` file must state)."""
    def q(v: Fraction) -> str:
        return f"({v.numerator}/{v.denominator})" if v >= 0 else \
            f"(-({-v.numerator}/{v.denominator}))"

    poly = " + ".join(f"{q(c)} * x ^ {j}" for j, c in enumerate(coeffs))
    return (f"forall x : R, -{q(radius)} <= x <= {q(radius)} -> "
            f"Rabs (({poly}) * exp (- x) - 1) <= {q(bound)}")


def _check_k1_proof(data: dict[str, Any], folder: Path, entry: dict[str, Any]
                    ) -> tuple[str, str]:
    source = entry.get("data")
    if not isinstance(source, str):
        raise _Refuted("manifest entry names no 'data' (the k1-enclosure file it proves)")
    coeffs, radius, bound = _k1_data(_read_json(folder / source))
    text = data["text"]
    goal = coq_k1_goal(coeffs, radius, bound)
    if " ".join(goal.split()) not in " ".join(text.split()):
        raise _Refuted(f"the proof does not state the polynomial, interval and bound of "
                       f"{source}")
    coqc = shutil.which("coqc")
    if coqc is None:
        raise _Inconclusive("coqc not found (install Debian's coq and libcoq-interval)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "K1.v"
        path.write_text(text)
        try:
            run = subprocess.run([coqc, "-q", str(path)], capture_output=True, text=True,
                                 timeout=COQC_TIMEOUT, check=False, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise _Inconclusive(f"coqc took more than {COQC_TIMEOUT} s") from None
    if run.returncode != 0:
        tail = " ".join((run.stderr or run.stdout).split())[-300:]
        raise _Refuted(f"coqc rejected the proof: {tail}")
    version = subprocess.run([coqc, "--version"], capture_output=True, text=True,
                             check=False).stdout.split("\n")[0]
    return "proved", f"{version} accepted the proof of the statement in {source}"


# --- universality: the exact cell sum ------------------------------------------------------


def _check_universal_cells(data: dict[str, Any], _dir: Path) -> tuple[str, str]:
    d, L, K = _int("d", data["d"], 1), _int("L", data["L"], 1), _int("K", data["K"], 1)
    p = _int("p", data["p"], 1)
    eps, eta = _rational("eps", data["eps"]), _rational("eta", data["eta"])
    stated = _rational("dp_power_sum", data["dp_power_sum"])
    cells = data["cells"]
    n = d * L
    if not isinstance(cells, list) or len(cells) != K**n:
        raise _Refuted(f"cells: expected K^(dL) = {K**n} cells")
    total = Fraction(0)
    for c, errors in enumerate(cells):
        if not isinstance(errors, list) or len(errors) != n:
            raise _Refuted(f"cells[{c}]: expected dL = {n} errors")
        vals = [_rational(f"cells[{c}][{k}]", v) for k, v in enumerate(errors)]
        if any(v < 0 for v in vals):
            raise _Refuted(f"cells[{c}]: a negative error bound")
        total += sum((v**p for v in vals), Fraction(0)) / K**n
    if K > 1:
        total += n * (n * (K - 1) * eta)
    if total != stated:
        raise _Refuted(f"the cells sum to {float(total):.17g}, not the stated "
                       f"{float(stated):.17g}")
    if not total < eps**p:
        raise _Refuted(f"d_p^p <= {float(total):.6g} is not below eps^p = {float(eps**p):.6g}")
    return "certified", (f"Σ over {K**n} cells = {float(total):.6g} < eps^p = "
                         f"{float(eps**p):.6g} (exact rationals): d_p < {float(eps)}")


# --- K4: exact rank -------------------------------------------------------------------------


def _check_rank(data: dict[str, Any], _dir: Path) -> tuple[str, str]:
    from flint import fmpz_mat

    s, g = _int("s", data["s"], 1), _int("g", data["g"], 0)
    exps = [tuple(_int("exponent", a) for a in alpha) for alpha in data["exponents"]]
    want = sorted(a for a in itertools.product(range(g + 1), repeat=s) if sum(a) <= g)
    if sorted(exps) != want:
        raise _Refuted(f"exponents are not every multi-index of degree <= {g} once")
    points = [[int(v) for v in pt] for pt in data["points"]]
    if any(len(pt) != s for pt in points):
        raise _Refuted(f"points: expected {s} coordinates each")
    rows = [[math.prod(v**a for v, a in zip(pt, alpha, strict=True)) for alpha in exps]
            for pt in points]
    rank = fmpz_mat(rows).rank() if rows else 0
    expected = math.comb(s + g, g)
    if rank != expected:
        raise _Refuted(f"rank {rank} != C(s+g, g) = {expected}")
    return "certified", f"exact integer rank {rank} = C({s}+{g}, {g}) at {len(points)} points"


# --- LB: the counting inequality -------------------------------------------------------------


def _check_counting(data: dict[str, Any], _dir: Path) -> tuple[str, str]:
    d, L = _int("d", data["d"], 1), _int("L", data["L"], 1)
    C, eps = _rational("C", data["C"]), _rational("eps", data["eps"])
    K, M, Lp = _int("K", data["K"], 2), _int("M", data["M"]), _int("Lp", data["Lp"])
    if C <= 0 or not 0 < eps <= Fraction(1, 2):
        raise _Refuted("need C > 0 and 0 < eps <= 1/2")
    m = math.floor(C / (2 * eps))
    if M != m ** (d * L):
        raise _Refuted(f"M = {M} but the packing has floor(C/(2 eps))^(dL) = {m ** (d * L)} "
                       "cells")
    if M > 10**6:
        raise _Inconclusive(f"M = {M}: 2^M too large to build")
    target = 1 << M
    if K ** (d * Lp) < target:
        raise _Refuted(f"K^(d·Lp) = {K}^{d * Lp} < 2^M: Lp = {Lp} is too short")
    if Lp > 0 and K ** (d * (Lp - 1)) >= target:
        raise _Refuted(f"Lp = {Lp} is not the least: {K}^{d * (Lp - 1)} >= 2^M already")
    return "certified", f"Lp = {Lp} is the least length with {K}^(d·Lp) >= 2^{M}"


# --- the manifest ---------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise _Refuted(f"{path.name}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Refuted(f"{path.name}: not readable JSON ({exc})") from None


_CHECKERS: dict[str, Callable[..., tuple[str, str]]] = {
    "k1-enclosure": _check_k1_enclosure, "universal-cells": _check_universal_cells,
    "rank": _check_rank, "counting": _check_counting}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _check_entry(folder: Path, entry: dict[str, Any]) -> tuple[str, str]:
    name, kind = entry.get("file"), entry.get("kind")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _Refuted(f"manifest: file name {name!r} is not a plain name in the folder")
    path = folder / name
    try:
        raw = path.read_bytes()
    except OSError:
        raise _Refuted("missing") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != entry.get("sha256"):
        raise _Refuted(f"SHA-256 {digest[:16]}… differs from the manifest's "
                       f"{str(entry.get('sha256'))[:16]}…: the file was changed")
    if kind == "k1-proof":
        return _check_k1_proof({"text": raw.decode()}, folder, entry)
    if kind not in _CHECKERS:
        raise _Refuted(f"unknown kind {kind!r}; expected one of "
                       f"{[*_CHECKERS, 'k1-proof']}")
    data = _read_json(path)
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise _Refuted(f"the file's kind {data.get('kind') if isinstance(data, dict) else None!r}"
                       f" is not the manifest's {kind!r}")
    try:
        return _CHECKERS[kind](data, folder)
    except (KeyError, TypeError) as exc:
        raise _Refuted(f"malformed data ({type(exc).__name__}: {exc})") from None


def check_dir(folder: str | Path) -> list[Result]:
    """Re-check every entry of ``folder/manifest.json``; one :class:`Result` per entry
    (a missing or malformed manifest is one refuted result naming it)."""
    folder = Path(folder)
    try:
        manifest = _read_json(folder / "manifest.json")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _Refuted(f"not a {FORMAT} manifest")
        entries = manifest["entries"]
        if not isinstance(entries, list) or not entries:
            raise _Refuted("no entries")
    except (_Refuted, KeyError) as exc:
        return [Result("manifest.json", "manifest", "refuted", str(exc))]
    results = []
    for entry in entries:
        file = str(entry.get("file")) if isinstance(entry, dict) else "?"
        kind = str(entry.get("kind")) if isinstance(entry, dict) else "?"
        try:
            if not isinstance(entry, dict):
                raise _Refuted("manifest entry is not an object")
            verdict, detail = _check_entry(folder, entry)
        except _Refuted as exc:
            verdict, detail = "refuted", str(exc)
        except _Inconclusive as exc:
            verdict, detail = "inconclusive", str(exc)
        results.append(Result(file, kind, verdict, detail))
    return results


def format_results(results: list[Result]) -> str:
    """A plain table: file, kind, verdict, detail."""
    lines = ["| file | kind | verdict | detail |", "|---|---|---|---|"]
    lines += [f"| {r.file} | {r.kind} | {r.verdict} | {r.detail.replace('|', '/')} |"
              for r in results]
    return "\n".join(lines)
