"""A table of bad command lines: each exits 2 with exactly one ``ptlimits: error:`` line that
names the option, the file and the field, and prints no traceback.

Every JSON input the CLI reads (``audit --bench-json/--regime-json/--capacity-json``,
``regress --baseline/--current``, the ``audit --resume`` state) is damaged in the ways a
file gets damaged: not UTF-8, binary junk, nested 10^5 deep, NaN or Infinity inside a
number, wrong types, booleans for integers, empty or missing sections. Options are checked
before any work (``--claims``, ``--out``, ``--draws``, ``--jobs``, ``--executor``,
``--device``, ``--json``, ``--threads``, the regress thresholds), and ``reproduce`` checks
the instance field by field. Cases run in-process through :func:`verify.cli.main`; a few
run in a subprocess to prove that no traceback reaches the terminal.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from verify.cli import main

pytestmark = pytest.mark.cli

#: Audit options that make a wrongly accepted case finish at once instead of running long.
FAST = ["--claims", "readout_*", "--draws", "0", "--jobs", "1", "--no-html"]

BENCH: dict[str, Any] = {
    "benchmark": "kernel", "quick": True, "device": "cpu: x86_64, 2 cores",
    "headline": {"n": 2048, "d": 8, "s": 8, "B": 0.5, "beta": 0.125, "delta_F": 1e-6,
                 "degree": 5, "rank": 1287, "speedup": 2.6, "max_error": 2.3e-10,
                 "bound": 5.4e-8, "peak_mib_fast": None},
    "rows": [{"n": 512, "B": 0.5, "method": "polynomial", "seconds": 0.06,
              "max_error": 3.6e-10, "degree": 5, "rank": 1287, "bound": 5.4e-8},
             {"n": 512, "B": 0.5, "method": "exact_reference", "seconds": 0.02,
              "max_error": 0.0},
             {"n": 1024, "B": 0.5, "method": "polynomial", "seconds": 0.1,
              "max_error": 3.0e-10}],
}

CAPACITY: dict[str, Any] = {
    "kind": "capacity", "label": "empirical: Adam, 3 seeds", "config": {"steps": 200},
    "rows": [{"d": 1, "L": 1, "N": 4, "eps": 0.25, "target_error": 0.05,
              "tried_Lp": [1, 2, 4], "final_errors": [0.3, 0.04, 0.01], "smallest_Lp": 2,
              "constructive_Lp": 9, "lower_bound_Lp": 1},
             {"d": 2, "L": 1, "N": 16, "eps": 0.125, "target_error": 0.05,
              "tried_Lp": [1, 2], "final_errors": [0.4, None], "smallest_Lp": None,
              "constructive_Lp": None, "lower_bound_Lp": 3}],
}


def _head(layer: int, head: int) -> dict[str, Any]:
    return {"layer": layer, "head": head, "s": 8, "beta": 0.35, "Q_max": 0.1, "K_max": 0.05,
            "B": 0.1, "R": 0.03, "ratio": 0.06, "applies": True, "degree": 1, "rank": 9}


REGIME: dict[str, Any] = {
    "kind": "regime", "model": {"path": "/models/tiny", "model_type": "gpt2"},
    "adapter": None, "L_p": 0, "L": 16, "n": 16, "delta_F": 0.06, "eps": 0.03,
    "threshold_ratio": 0.2, "heads": [_head(0, 0), _head(0, 1), _head(1, 0)],
    "worst": {"layer": 0, "head": 1, "B": 0.1, "ratio": 0.06, "R": 0.03},
    "summary": {"heads": 3, "applies": 3, "verdict": "applies to 3 of 3 heads"},
}

_DELETE = object()


def edit(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``path`` (``a.b[2].c``) set to ``value`` (or deleted)."""
    out = copy.deepcopy(base)
    parts: list[str | int] = [int(p) if p.isdigit() else p
                              for p in re.findall(r"[^.\[\]]+", path)]
    node: Any = out
    for part in parts[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return out


def with_raw(base: dict[str, Any], path: str, raw: str) -> str:
    """``base`` as JSON text with the value at ``path`` replaced by the literal ``raw``
    (``NaN``, ``Infinity``, ``1e999``: what ``json.dumps`` cannot write)."""
    marker = "__RAW_MARKER__"
    return json.dumps(edit(base, path, marker)).replace(f'"{marker}"', raw)


def deep(levels: int, inner: str = "1") -> str:
    return "[" * levels + inner + "]" * levels


def deep_objects(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


def junk(n: int = 512, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(n))


@dataclass(frozen=True)
class Case:
    """``argv`` ({tmp} is the test's folder) with ``files`` created first; the single stderr
    line must match ``pattern``."""

    name: str
    argv: tuple[str, ...]
    pattern: str
    files: dict[str, Any] = field(default_factory=dict)
    code: int = 2


def bench(name: str, content: Any, pattern: str) -> Case:
    return Case(f"bench-json {name}", ("audit", *FAST, "--out", "{tmp}/out",
                                       "--bench-json", "{tmp}/b.json"),
                r"--bench-json='[^']*b\.json': " + pattern, {"b.json": content})


def regime(name: str, content: Any, pattern: str) -> Case:
    return Case(f"regime-json {name}", ("audit", *FAST, "--out", "{tmp}/out",
                                        "--regime-json", "{tmp}/r.json"),
                r"--regime-json='[^']*r\.json': " + pattern, {"r.json": content})


def capacity(name: str, content: Any, pattern: str) -> Case:
    return Case(f"capacity-json {name}", ("audit", *FAST, "--out", "{tmp}/out",
                                          "--capacity-json", "{tmp}/c.json"),
                r"--capacity-json='[^']*c\.json': " + pattern, {"c.json": content})


H = "headline"
CASES: list[Case] = [
    # --- --bench-json: bytes and syntax ---------------------------------------------------
    bench("non-UTF-8 bytes", b"\xff\xfe{}", r"not UTF-8 text \(byte 0xff at offset 0\)"),
    bench("latin-1 text", '{"device": "café"}'.encode("latin-1"),
          r"not UTF-8 text \(byte 0xe9 at offset 15\)"),
    bench("binary junk", junk(), r"not UTF-8 text|line \d+ column \d+: not valid JSON"),
    bench("NUL bytes", b"\x00\x00\x00", r"line 1 column 1: not valid JSON"),
    bench("empty file", b"", r"empty file; expected the JSON 'ptlimits bench kernel"),
    bench("whitespace only", b" \n\t\n", r"empty file"),
    bench("nested 10^5 lists", deep(10**5), r"top level: nested too deeply to parse"),
    bench("nested 10^5 objects", deep_objects(10**5), r"top level: nested too deeply to parse"),
    bench("nested 100 under headline", with_raw(BENCH, "headline.extra", deep(100)),
          r"headline\.extra(\[0\])+: nested more than 64 levels deep"),
    bench("truncated", json.dumps(BENCH)[:-20], r"line 1 column \d+: not valid JSON"),
    bench("trailing garbage", json.dumps(BENCH) + " x",
          r"line 1 column \d+: not valid JSON \(Extra data\)"),
    bench("single quotes", "{'benchmark': 'kernel'}", r"line 1 column 2: not valid JSON"),
    bench("UTF-8 BOM", "\ufeff" + json.dumps(BENCH),
          r"line 1 column 1: not valid JSON \(Unexpected UTF-8 BOM"),
    # --- --bench-json: non-finite numbers ---------------------------------------------------
    bench("NaN speedup", with_raw(BENCH, "headline.speedup", "NaN"),
          r"headline\.speedup: NaN is not a JSON number; expected a finite number"),
    bench("Infinity seconds in a row", with_raw(BENCH, "rows[2].seconds", "Infinity"),
          r"rows\[2\]\.seconds: Infinity is not a JSON number"),
    bench("-Infinity bound", with_raw(BENCH, "headline.bound", "-Infinity"),
          r"headline\.bound: -Infinity is not a JSON number"),
    bench("1e999 overflows", with_raw(BENCH, "headline.max_error", "1e999"),
          r"headline\.max_error: overflows to infinity; expected a finite number"),
    bench("NaN in an unchecked field", with_raw(BENCH, "headline.peak_mib_fast", "NaN"),
          r"headline\.peak_mib_fast: NaN is not a JSON number"),
    # --- --bench-json: types ----------------------------------------------------------------
    bench("speedup a string", edit(BENCH, "headline.speedup", "fast"),
          r'headline\.speedup: "fast" is a string; expected a number'),
    bench("speedup true", edit(BENCH, "headline.speedup", True),
          r"headline\.speedup: true is a boolean; expected a number \(true/false is not a"),
    bench("n true", edit(BENCH, "headline.n", True),
          r"headline\.n: true is a boolean; expected an integer \(true/false is not an "
          r"integer\)"),
    bench("n 2048.0", edit(BENCH, "headline.n", 2048.0),
          r"headline\.n: 2048\.0 is a number; expected an integer \(write it without"),
    bench("n null", edit(BENCH, "headline.n", None), r"headline\.n: null is null; expected an"),
    bench("row n false", edit(BENCH, "rows[1].n", False),
          r"rows\[1\]\.n: false is a boolean; expected an integer"),
    bench("row method a number", edit(BENCH, "rows[0].method", 5),
          r"rows\[0\]\.method: 5 is an integer; expected a string"),
    bench("row is a number", edit(BENCH, "rows[0]", 7),
          r"rows\[0\]: 7 is an integer; expected an object"),
    bench("rows an object", edit(BENCH, "rows", {"n": 1}),
          r"rows: is an object; expected a list"),
    bench("headline a list", edit(BENCH, "headline", [1, 2]),
          r"headline: is a list; expected an object"),
    bench("quick a string", edit(BENCH, "quick", "yes"),
          r'quick: "yes" is a string; expected true or false'),
    bench("degree a float", edit(BENCH, "headline.degree", 5.5),
          r"headline\.degree: 5\.5 is a number; expected an integer"),
    # --- --bench-json: shape and ranges -----------------------------------------------------
    bench("no headline", edit(BENCH, "headline", _DELETE), r"headline: missing; required"),
    bench("empty headline", edit(BENCH, "headline", {}), r"headline\.n: missing; required"),
    bench("headline without speedup", edit(BENCH, "headline.speedup", _DELETE),
          r"headline\.speedup: missing"),
    bench("no rows", edit(BENCH, "rows", _DELETE), r"rows: missing"),
    bench("empty rows", edit(BENCH, "rows", []),
          r"rows: empty list; expected at least 1 item"),
    bench("row without n", edit(BENCH, "rows[2].n", _DELETE), r"rows\[2\]\.n: missing"),
    bench("row n zero", edit(BENCH, "rows[1].n", 0),
          r"rows\[1\]\.n: 0 is out of range; expected >= 1"),
    bench("negative seconds", edit(BENCH, "rows[0].seconds", -1.0),
          r"rows\[0\]\.seconds: -1\.0 is out of range; expected >= 0"),
    bench("speedup zero", edit(BENCH, "headline.speedup", 0),
          r"headline\.speedup: 0 is out of range; expected > 0"),
    bench("negative max_error", edit(BENCH, "headline.max_error", -1e-9),
          r"headline\.max_error: -1e-09 is out of range; expected >= 0"),
    bench("negative degree", edit(BENCH, "headline.degree", -1), r"headline\.degree: -1 is"),
    bench("a train benchmark", edit(BENCH, "benchmark", "train"),
          r'benchmark: "train"; expected "kernel"'),
    bench("no benchmark field", edit(BENCH, "benchmark", _DELETE), r"benchmark: missing"),
    bench("empty device", edit(BENCH, "device", ""), r'device: "" is too short'),
    bench("top level a list", "[1, 2]", r"top level: is a list; expected an object"),
    bench("top level a string", '"hello"', r'top level: "hello" is a string; expected an'),
    bench("top level null", "null", r"top level: null is null; expected an object"),
    Case("bench-json a directory", ("audit", *FAST, "--out", "{tmp}/out", "--bench-json",
                                    "{tmp}"), r"--bench-json='[^']*': is a directory"),
    Case("bench-json /dev/null", ("audit", *FAST, "--out", "{tmp}/out", "--bench-json",
                                  "/dev/null"), r"--bench-json='/dev/null': not a regular file"),
    Case("bench-json empty path", ("audit", *FAST, "--out", "{tmp}/out", "--bench-json", ""),
         r"argument --bench-json: '' is empty; expected a file or folder path"),
    # --- --regime-json ------------------------------------------------------------------------
    regime("a capacity file", edit(REGIME, "kind", "capacity"),
           r'kind: "capacity"; expected "regime"'),
    regime("no heads", edit(REGIME, "heads", []), r"heads: empty list; expected at least 1"),
    regime("applies a string", edit(REGIME, "heads[1].applies", "yes"),
           r'heads\[1\]\.applies: "yes" is a string; expected true or false'),
    regime("layer a float", edit(REGIME, "heads[0].layer", 1.5),
           r"heads\[0\]\.layer: 1\.5 is a number; expected an integer"),
    regime("head a boolean", edit(REGIME, "heads[2].head", True),
           r"heads\[2\]\.head: true is a boolean; expected an integer"),
    regime("no n", edit(REGIME, "n", _DELETE), r"n: missing"),
    regime("worst without layer", edit(REGIME, "worst.layer", _DELETE),
           r"worst\.layer: missing"),
    regime("model without path", edit(REGIME, "model.path", _DELETE), r"model\.path: missing"),
    regime("verdict a number", edit(REGIME, "summary.verdict", 3),
           r"summary\.verdict: 3 is an integer; expected a string"),
    regime("negative L_p", edit(REGIME, "L_p", -1), r"L_p: -1 is out of range; expected >= 0"),
    regime("NaN B", with_raw(REGIME, "heads[2].B", "NaN"), r"heads\[2\]\.B: NaN is not a JSON"),
    regime("adapter a string", edit(REGIME, "adapter", "x"),
           r'adapter: "x" is a string; expected an object or null'),
    regime("non-UTF-8", b'{"kind": "regime\x80"}', r"not UTF-8 text \(byte 0x80"),
    regime("nested 10^5", deep_objects(10**5), r"top level: nested too deeply"),
    regime("top level a list", json.dumps([REGIME]), r"top level: is a list; expected an"),
    Case("regime-json second file bad", ("audit", *FAST, "--out", "{tmp}/out",
                                         "--regime-json", "{tmp}/good.json", "{tmp}/bad.json"),
         r"--regime-json='[^']*bad\.json': heads: missing",
         {"good.json": REGIME, "bad.json": edit(REGIME, "heads", _DELETE)}),
    # --- --capacity-json ----------------------------------------------------------------------
    capacity("no rows", edit(CAPACITY, "rows", []), r"rows: empty list"),
    capacity("empty label", edit(CAPACITY, "label", ""), r'label: "" is too short'),
    capacity("no kind", edit(CAPACITY, "kind", _DELETE), r"kind: missing"),
    capacity("tried L_p zero", edit(CAPACITY, "rows[0].tried_Lp", [0, 1, 2]),
             r"rows\[0\]\.tried_Lp\[0\]: 0 is out of range; expected >= 1"),
    capacity("final error a string", edit(CAPACITY, "rows[0].final_errors", ["x", 1, 2]),
             r'rows\[0\]\.final_errors\[0\]: "x" is a string; expected a number or null'),
    capacity("smallest L_p true", edit(CAPACITY, "rows[1].smallest_Lp", True),
             r"rows\[1\]\.smallest_Lp: true is a boolean"),
    capacity("lengths differ", edit(CAPACITY, "rows[1].final_errors", [0.4]),
             r"rows\[1\]\.final_errors: 1 values for 2 tried_Lp \(lengths differ\)"),
    capacity("eps zero", edit(CAPACITY, "rows[0].eps", 0),
             r"rows\[0\]\.eps: 0 is out of range; expected > 0"),
    capacity("config a string", edit(CAPACITY, "config", "x"),
             r'config: "x" is a string; expected an object'),
    capacity("Infinity final error", with_raw(CAPACITY, "rows[0].final_errors[1]", "Infinity"),
             r"rows\[0\]\.final_errors\[1\]: Infinity is not a JSON number"),
    capacity("d a boolean", edit(CAPACITY, "rows[0].d", False),
             r"rows\[0\]\.d: false is a boolean; expected an integer"),
    capacity("a regime file", REGIME, r'kind: "regime"; expected "capacity"'),
    capacity("binary junk", junk(300, 3), r"not UTF-8 text|line \d+ column \d+: not valid"),
]


def _audit(report: dict[str, Any], path: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda good: edit(good, path, value)


def _audit_raw(path: str, raw: str) -> Callable[[dict[str, Any]], Any]:
    return lambda good: with_raw(good, path, raw)


def regress(name: str, which: str, content: Any, pattern: str) -> Case:
    other = "--current" if which == "--baseline" else "--baseline"
    return Case(f"regress {which} {name}", ("regress", which, "{tmp}/x.json", other,
                                            "{tmp}/good.json"),
                rf"{which}='[^']*x\.json': " + pattern,
                {"x.json": content, "good.json": lambda good: good})


CASES += [
    # --- regress --baseline / --current -------------------------------------------------------
    regress("non-UTF-8", "--baseline", b"\xc3\x28", r"not UTF-8 text \(byte 0xc3 at offset 0\)"),
    regress("NaN max_error", "--baseline", _audit_raw("claims[0].max_error", "NaN"),
            r"claims\[0\]\.max_error: NaN is not a JSON number"),
    regress("nested 10^5", "--current", deep(10**5), r"top level: nested too deeply"),
    regress("no summary", "--baseline", _audit({}, "summary", _DELETE), r"summary: missing"),
    regress("unknown status", "--current", _audit({}, "claims[0].status", "ok"),
            r'claims\[0\]\.status: "ok"; expected one of "pass", "fail"'),
    regress("schema version 2", "--baseline", _audit({}, "schema_version", 2),
            r"schema_version: 2; expected 1"),
    regress("n_checked true", "--current", _audit({}, "claims[0].n_checked", True),
            r"claims\[0\]\.n_checked: true is a boolean; expected an integer"),
    regress("seed a float", "--baseline", _audit({}, "header.seed", 1.5),
            r"header\.seed: 1\.5 is a number; expected an integer"),
    regress("claims an object", "--current", _audit({}, "claims", {}),
            r"claims: is an object; expected a list"),
    regress("bad claim id", "--baseline", _audit({}, "claims[0].id", "Bad-ID"),
            r'claims\[0\]\.id: "Bad-ID"; expected a string matching'),
    regress("a bench JSON", "--current", BENCH, r"schema_version: missing"),
    regress("empty file", "--baseline", b"", r"empty file; expected an audit\.json"),
    regress("evidence unknown", "--current", _audit({}, "claims[0].evidence", "proof"),
            r'claims\[0\]\.evidence: "proof"; expected one of "sampled"'),
    Case("regress --current a directory", ("regress", "--baseline", "{tmp}/good.json",
                                           "--current", "{tmp}"),
         r"--current='[^']*': is a directory", {"good.json": lambda good: good}),
    Case("regress --baseline empty path", ("regress", "--baseline", ""),
         r"argument --baseline: '' is empty"),
    Case("regress margin above 1", ("regress", "--baseline", "{tmp}/g.json",
                                    "--margin-threshold", "1.5"),
         r"--margin-threshold=1\.5: must be < 1\.0"),
    Case("regress margin zero", ("regress", "--baseline", "{tmp}/g.json",
                                 "--margin-threshold", "0"), r"--margin-threshold=0\.0: must be >"),
    Case("regress margin NaN", ("regress", "--baseline", "{tmp}/g.json",
                                "--margin-threshold", "nan"),
         r"--margin-threshold=nan: must be finite"),
    Case("regress bench noise negative", ("regress", "--baseline", "{tmp}/g.json",
                                          "--bench-noise", "-0.1"),
         r"--bench-noise=-0\.1: must be >= 0\.0"),
    Case("regress bench noise one", ("regress", "--baseline", "{tmp}/g.json",
                                     "--bench-noise", "1"), r"--bench-noise=1\.0: must be < 1"),
]


def resume(name: str, files: dict[str, Any], pattern: str) -> Case:
    return Case(f"resume {name}", ("audit", *FAST, "--out", "{tmp}/out", "--resume"),
                r"--resume(=|: )" + pattern + r".*(delete '[^']*\.partial' or run without "
                r"--resume|rerun without --resume)",
                {f"out/.partial/{k}": v for k, v in files.items()})


_CONFIG = {"config.json": "FINGERPRINT"}
_ENTRY = "readout_is_last_l_columns.json"
CASES += [
    # --- audit --resume: the saved state --------------------------------------------------------
    resume("config not UTF-8", {"config.json": b"\xff"}, r"'[^']*config\.json': not UTF-8"),
    resume("config not JSON", {"config.json": "{"}, r"'[^']*config\.json': line 1 column 2"),
    resume("config fingerprint an int", {"config.json": {"fingerprint": 5}},
           r"'[^']*config\.json': fingerprint: 5 is an integer; expected a string"),
    resume("config fingerprint malformed", {"config.json": {"fingerprint": "zz"}},
           r"'[^']*config\.json': fingerprint: \"zz\"; expected a string matching"),
    resume("config a list", {"config.json": [1]}, r"'[^']*config\.json': top level: is a list"),
    resume("config missing, results there", {_ENTRY: {"id": "x"}},
           r"'[^']*config\.json': missing"),
    resume("entry not JSON", {**_CONFIG, _ENTRY: "{oops"},
           r"'[^']*readout_is_last_l_columns\.json': line 1 column 2: not valid JSON"),
    resume("entry missing fields", {**_CONFIG, _ENTRY: {"id": "readout_is_last_l_columns"}},
           r"'[^']*readout_is_last_l_columns\.json': theory_ref: missing"),
    resume("entry NaN", {**_CONFIG, _ENTRY: "ENTRY:seconds=NaN"},
           r"'[^']*readout_is_last_l_columns\.json': seconds: NaN is not a JSON number"),
    resume("entry of another claim", {**_CONFIG, _ENTRY: "ENTRY:id=model_matches_mp_twin"},
           r"'[^']*readout_is_last_l_columns\.json': id: 'model_matches_mp_twin'; expected "
           r"'readout_is_last_l_columns'"),
    resume("entry nested 10^5", {**_CONFIG, _ENTRY: deep(10**5)},
           r"'[^']*\.json': top level: nested too deeply"),
    resume("other configuration", {"config.json": {"fingerprint": "0123456789abcdef"}},
           r"the partial results in .* come from a different configuration"),
]

_SEED = '"seed": 1, "d": 2, "s": 2, "L": 3, "Lp": 2'
R = "readout_is_last_l_columns"
CASES += [
    # --- options, checked before any work -------------------------------------------------------
    Case("claims empty", ("audit", "--claims", "", "--out", "{tmp}/o"),
         r"--claims='': empty; expected comma-separated globs"),
    Case("claims blank", ("audit", "--claims", "  ", "--out", "{tmp}/o"), r"--claims='  ': empty"),
    Case("claims empty item", ("audit", "--claims", "readout_*,,K3", "--out", "{tmp}/o"),
         r"--claims='readout_\*,,K3': item 2 is empty"),
    Case("claims only a comma", ("audit", "--claims", ",", "--out", "{tmp}/o"),
         r"--claims=',': item 1 is empty"),
    Case("claims typo names the nearest", ("audit", "--claims", "readot_*", "--out", "{tmp}/o"),
         r"--claims='readot_\*': glob 'readot_\*' matches no claim .*nearest: "
         r"readout_is_last_l_columns"),
    Case("claims second glob unmatched", ("audit", "--claims", "readout_*,atention_*",
                                          "--out", "{tmp}/o"),
         r"glob 'atention_\*' matches no claim id or theory_ref; nearest: attention_"),
    Case("claims lower-case heading", ("audit", "--claims", "k3", "--out", "{tmp}/o"),
         r"glob 'k3' matches no claim .*nearest: .*K3"),
    Case("claims unknown heading", ("audit", "--claims", "MODEL,K99", "--out", "{tmp}/o"),
         r"glob 'K99' matches no claim"),
    Case("out empty", ("audit", "--out", ""), r"argument --out: '' is empty"),
    Case("out an existing file", ("audit", *FAST, "--out", "{tmp}/f"),
         r"--out='[^']*f': not a writable directory", {"f": "x"}),
    Case("draws above the ceiling", ("audit", *FAST[:2], "--draws", "10001", "--out", "{tmp}/o"),
         r"--draws=10001: must be <= 10000"),
    Case("draws a billion", ("audit", "--draws", "1000000000", "--out", "{tmp}/o"),
         r"--draws=1000000000: must be <= 10000"),
    Case("draws not an int", ("audit", "--draws", "1.5"),
         r"argument --draws: invalid int value: '1\.5'"),
    Case("jobs negative", ("audit", "--jobs", "-3", "--out", "{tmp}/o"),
         r"--jobs=-3: must be >= 1"),
    Case("jobs too many", ("audit", "--jobs", "257", "--out", "{tmp}/o"),
         r"--jobs=257: must be <= 256"),
    Case("seed a float", ("audit", "--seed", "1.5"), r"argument --seed: invalid int value"),
    Case("executor port zero", ("audit", "--executor", "dask://h:0", "--out", "{tmp}/o"),
         r"--executor='dask://h:0': port '0' is not in 1-65535"),
    Case("executor port 65536", ("audit", "--executor", "dask://h:65536", "--out", "{tmp}/o"),
         r"port '65536' is not in 1-65535"),
    Case("executor huge port", ("audit", "--executor", "dask://h:99999999999",
                                "--out", "{tmp}/o"), r"port '99999999999' is not in"),
    Case("executor port not a number", ("audit", "--executor", "dask://h:http",
                                        "--out", "{tmp}/o"), r"port 'http' is not in 1-65535"),
    Case("executor no host", ("audit", "--executor", "dask://:8786", "--out", "{tmp}/o"),
         r"--executor='dask://:8786': no HOST:PORT after dask://"),
    Case("executor no port", ("audit", "--executor", "dask://scheduler", "--out", "{tmp}/o"),
         r"no HOST:PORT after dask://"),
    Case("executor host with a space", ("audit", "--executor", "dask://bad host:1",
                                        "--out", "{tmp}/o"),
         r"host 'bad host' is not a host name or IP address"),
    Case("executor tcp scheme", ("audit", "--executor", "tcp://h:1", "--out", "{tmp}/o"),
         r"--executor='tcp://h:1': unknown scheme 'tcp'; expected 'local' or dask://"),
    Case("executor empty", ("audit", "--executor", "", "--out", "{tmp}/o"),
         r"--executor='': not a known executor"),
    Case("executor LOCAL", ("audit", "--executor", "LOCAL", "--out", "{tmp}/o"),
         r"--executor='LOCAL': not a known executor"),
    Case("profile unknown", ("audit", "--hypothesis-profile", "fast"),
         r"argument --hypothesis-profile: invalid choice: 'fast'"),
    Case("bench device tpu", ("bench", "kernel", "--device", "tpu"),
         r"--device='tpu': unknown device; expected cpu, cuda or cuda:N"),
    Case("bench device CUDA upper-case", ("bench", "kernel", "--device", "CUDA"),
         r"--device='CUDA': unknown device"),
    Case("bench device cpu:0", ("bench", "kernel", "--device", "cpu:0"),
         r"--device='cpu:0': unknown device"),
    Case("bench device empty", ("bench", "kernel", "--device", ""), r"--device='': unknown"),
    Case("bench device cuda:99", ("bench", "kernel", "--device", "cuda:99"),
         r"--device='cuda:99': (CUDA is not available|has only \d+ CUDA device)"),
    Case("bench kernel json a directory", ("bench", "kernel", "--quick", "--json", "{tmp}"),
         r"--json='[^']*': is a directory; expected a file path inside it"),
    Case("bench train json a directory", ("bench", "train", "--quick", "--json", "{tmp}"),
         r"--json='[^']*': is a directory"),
    Case("bench capacity json unwritable", ("bench", "capacity", "--quick", "--json",
                                            "/proc/no-such-dir/x.json"),
         r"--json='/proc/no-such-dir/x\.json': cannot write into '/proc/no-such-dir'"),
    Case("bench json below a file", ("bench", "kernel", "--json", "{tmp}/f/x.json"),
         r"--json='[^']*f/x\.json': cannot write into", {"f": "x"}),
    Case("bench json empty", ("bench", "kernel", "--json", ""), r"argument --json: '' is empty"),
    Case("bench json dot", ("bench", "kernel", "--json", "."), r"--json='\.': not a file name"),
    Case("bench threads zero", ("bench", "kernel", "--threads", "0"), r"--threads=0: must be >= 1"),
    Case("bench threads negative", ("bench", "train", "--threads", "-2"),
         r"--threads=-2: must be >= 1"),
    Case("bench threads too many", ("bench", "capacity", "--threads", "5000"),
         r"--threads=5000: must be <= 1024"),
    Case("bench unknown", ("bench", "gpu"), r"argument BENCHMARK: invalid choice: 'gpu'"),
    # --- reproduce ID 'JSON' ---------------------------------------------------------------------
    Case("reproduce a list", ("reproduce", R, "[1]"),
         r'instance="\[1\]": is a list; expected a JSON object with the fields of ModelInstance'),
    Case("reproduce a string", ("reproduce", R, '"x"'), r"instance=.*: is a string; expected"),
    Case("reproduce null", ("reproduce", R, "null"), r"instance=\"null\": is null; expected"),
    Case("reproduce a number", ("reproduce", R, "5"), r"instance=\"5\": is an integer; expected"),
    Case("reproduce JSON with a hole", ("reproduce", R, '{"seed": }'),
         r"instance=.*: not valid JSON \(Expecting value at column 10\)"),
    Case("reproduce NaN", ("reproduce", R, "NaN"), r"instance=NaN: NaN and Infinity are not"),
    Case("reproduce NaN field", ("reproduce", R, "{" + _SEED + ', "beta": NaN}'),
         r"instance=NaN: NaN and Infinity are not JSON numbers"),
    Case("reproduce nested 10^5", ("reproduce", R, deep(10**5)),
         r"instance: nested too deeply; expected a flat JSON object"),
    Case("reproduce unknown field", ("reproduce", "kernel_polynomial_certified",
                                     '{"method": "taylor", "radius": 1.0, "eps": 0.5, "k": 1}'),
         r"instance\.k: unknown field for claim 'kernel_polynomial_certified'; allowed: "
         r"method, radius, eps"),
    Case("reproduce missing field", ("reproduce", "kernel_polynomial_certified",
                                     '{"method": "taylor"}'),
         r"instance\.radius: missing; required fields of claim .*: radius, eps"),
    Case("reproduce seed true", ("reproduce", R, '{"seed": true, "d": 2, "s": 2, "L": 3, '
                                 '"Lp": 2}'), r"instance\.seed=true: is a boolean; expected an"),
    Case("reproduce d a float", ("reproduce", R, '{"seed": 1, "d": 2.5, "s": 2, "L": 3, '
                                 '"Lp": 2}'), r"instance\.d=2\.5: is a number; expected an int"),
    Case("reproduce d a string", ("reproduce", R, '{"seed": 1, "d": "2", "s": 2, "L": 3, '
                                  '"Lp": 2}'), r'instance\.d="2": is a string; expected an int'),
    Case("reproduce beta a string", ("reproduce", R, "{" + _SEED + ', "beta": "x"}'),
         r'instance\.beta="x": is a string; expected a number'),
    Case("reproduce beta overflows", ("reproduce", R, "{" + _SEED + ', "beta": 1e400}'),
         r"instance\.beta=Infinity: not finite; expected a finite number"),
    Case("reproduce positional 1", ("reproduce", R, "{" + _SEED + ', "positional": 1}'),
         r"instance\.positional=1: is an integer; expected true or false"),
    Case("reproduce dtype a number", ("reproduce", R, "{" + _SEED + ', "dtype": 5}'),
         r"instance\.dtype=5: is an integer; expected a string"),
    Case("reproduce dtype float16", ("reproduce", R, "{" + _SEED + ', "dtype": "float16"}'),
         r"instance\.dtype=\"float16\": outside the claim's domain; .*dtype in "
         r"\{'float32', 'float64'\}"),
    Case("reproduce negative d", ("reproduce", R, '{"seed": 1, "d": -2, "s": 2, "L": 3, '
                                  '"Lp": 2}'),
         r"instance\.d=-2: outside the claim's domain; its reference points and draws use d "
         r"in \[1, \d+\]"),
    Case("reproduce L far too large", ("reproduce", R, '{"seed": 1, "d": 2, "s": 2, '
                                       '"L": 3000000, "Lp": 2}'),
         r"instance\.L=3000000: too large to measure safely"),
    Case("reproduce eps outside (0, 1)", ("reproduce", "kernel_error_within_lemma_bound",
                                          '{"seed": 0, "s": 1, "d_v": 1, "n": 1, "m": 1, '
                                          '"B": 0.0, "beta": 1.0, "eps": 2.0, "method": '
                                          '"chebyshev", "pattern": "uniform", "last": 0, '
                                          '"dtype": "float64"}'),
         r"instance\.eps=2\.0: outside the claim's domain.*eps=2\.0: must be < 1"),
    Case("reproduce method unknown", ("reproduce", "kernel_polynomial_certified",
                                      '{"method": "pade", "radius": 1.0, "eps": 0.5}'),
         r"instance\.method=\"pade\": outside the claim's domain"),
    Case("reproduce negative radius", ("reproduce", "kernel_polynomial_certified",
                                       '{"method": "taylor", "radius": -1.0, "eps": 0.5}'),
         r"instance\.radius=-1\.0: outside the claim's domain"),
    Case("reproduce claim id empty", ("reproduce", "", "{}"), r"claim_id='': no such claim"),
]


def _materialise(content: Any, good_report: dict[str, Any], fingerprint: str) -> bytes:
    if callable(content):
        content = content(good_report)
    if isinstance(content, str) and content == "FINGERPRINT":
        content = {"fingerprint": fingerprint}
    if isinstance(content, str) and content.startswith("ENTRY:"):
        key, value = content[len("ENTRY:"):].split("=")
        entry = good_report["claims"][0]
        content = with_raw(entry, key, value) if value == "NaN" else edit(entry, key, value)
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    return content if isinstance(content, bytes) else content.encode("utf-8")


@pytest.fixture(scope="module")
def good_report() -> dict[str, Any]:
    from properties.registry import get_claim
    from verify.audit import AuditOptions, run_audit

    return run_audit([get_claim(R)], AuditOptions(seed=0, draws=0, jobs=1))


def _prepare(case: Case, tmp_path: Path, good: dict[str, Any]) -> list[str]:
    from verify.audit import AuditOptions

    fingerprint = AuditOptions(draws=0, jobs=1, pattern="readout_*").fingerprint([R])
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_materialise(content, good, fingerprint))
    return [a.replace("{tmp}", str(tmp_path)) for a in case.argv]


def _one_error_line(err: str, out: str, pattern: str) -> None:
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("ptlimits: error: "), lines[0]
    assert re.search(pattern, lines[0]), (pattern, lines[0])


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 120
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_command_line_is_one_error_line(case: Case, tmp_path: Path,
                                            good_report: dict[str, Any],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = _prepare(case, tmp_path, good_report)
    capsys.readouterr()
    assert main(argv) == case.code
    captured = capsys.readouterr()
    _one_error_line(captured.err, captured.out, case.pattern)
    assert not (tmp_path / "out" / "audit.json").exists()   # refused before any work


SUBPROCESS = ("bench-json nested 10^5 lists", "bench-json non-UTF-8 bytes",
              "bench-json NaN speedup", "resume entry not JSON", "reproduce a list",
              "executor port zero", "bench device tpu", "regress --baseline non-UTF-8")


@pytest.mark.parametrize("name", SUBPROCESS)
def test_no_traceback_reaches_the_terminal(name: str, tmp_path: Path,
                                           good_report: dict[str, Any]) -> None:
    case = next(c for c in CASES if c.name == name)
    argv = _prepare(case, tmp_path, good_report)
    proc = subprocess.run([sys.executable, "-m", "verify", *argv], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": ""})
    assert proc.returncode == case.code, proc.stderr
    _one_error_line(proc.stderr, proc.stdout, case.pattern)


def test_draws_ceiling_in_help_matches_the_audit() -> None:
    """``--help`` states the figure without importing the audit; the two must agree."""
    from verify import cli
    from verify.audit import MAX_DRAWS
    from verify.executors import MAX_JOBS

    assert cli.MAX_DRAWS == MAX_DRAWS and cli.MAX_JOBS == MAX_JOBS


def test_good_inputs_are_accepted(tmp_path: Path, good_report: dict[str, Any],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The valid payloads every case above damages are embedded without complaint."""
    for name, payload in (("b.json", BENCH), ("r.json", REGIME), ("c.json", CAPACITY)):
        (tmp_path / name).write_text(json.dumps(payload))
    code = main(["audit", *FAST, "--out", str(tmp_path / "out"), "--bench-json",
                 str(tmp_path / "b.json"), "--regime-json", str(tmp_path / "r.json"),
                 "--capacity-json", str(tmp_path / "c.json")])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert report["benchmarks"]["speedup"] == 2.6 and report["real_models"][0]["n"] == 16


# --- reproduce: a bad input exits 2, a claim that fails or crashes on a good one exits 1 ----

_GOOD_INSTANCE = '{"seed": 1, "d": 2, "s": 2, "L": 3, "Lp": 2}'


def _reproduce_with(monkeypatch: pytest.MonkeyPatch, measure: Callable[[Any], Any]) -> int:
    import dataclasses

    from properties import registry

    claim = dataclasses.replace(registry.get_claim(R), measure=measure)
    monkeypatch.setattr(registry, "get_claim", lambda claim_id: claim)
    return main(["reproduce", R, _GOOD_INSTANCE])


def test_reproduce_claim_failure_exits_1(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from properties.claim import Outcome

    assert _reproduce_with(monkeypatch, lambda _: Outcome(2.0, 1.0)) == 1
    assert json.loads(capsys.readouterr().out)["status"] == "fail"


def test_reproduce_crash_inside_the_domain_exits_1(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def crash(_: Any) -> Any:
        raise RuntimeError("a bug in the claim")

    assert _reproduce_with(monkeypatch, crash) == 1
    entry = json.loads(capsys.readouterr().out)
    assert entry["status"] == "error" and "a bug in the claim" in entry["reason"]


def test_reproduce_refusal_naming_a_field_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from core.errors import InvalidArgument

    def refuse(_: Any) -> Any:
        raise InvalidArgument("L=3: too short for this check")

    assert _reproduce_with(monkeypatch, refuse) == 2
    captured = capsys.readouterr()
    _one_error_line(captured.err, captured.out,
                    r"instance\.L=3: claim 'readout_is_last_l_columns' cannot measure it "
                    r"\(InvalidArgument: L=3: too short")


def test_benchmark_json_has_no_nan(tmp_path: Path) -> None:
    """``bench ... --json`` writes NaN and infinities as null, so that ``audit
    --bench-json`` (which refuses them) reads every file a benchmark writes."""
    from verify.bench.common import write_json_atomically

    target = tmp_path / "b.json"
    write_json_atomically(target, {"a": math.nan, "b": [math.inf, 1.0], "c": {"d": -math.inf}})
    assert json.loads(target.read_text()) == {"a": None, "b": [None, 1.0], "c": {"d": None}}
