"""``ptlimits certify`` / ``ptlimits check``: replayable certificates re-checked by ptcheck,
which imports none of the search code; tampering is caught and the file named."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ptcheck import check_dir
from verify.certificates import write_certificates
from verify.cli import main

HAVE_COQC = shutil.which("coqc") is not None


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ptlimits certify --out DIR`` run once, twice (the folder is replaced whole)."""
    out = tmp_path_factory.mktemp("certs") / "certificates"
    assert main(["certify", "--out", str(out)]) == 0
    (out / "stale.txt").write_text("left from an earlier run")
    write_certificates(out)
    assert not (out / "stale.txt").exists()
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _rehash(folder: Path, name: str) -> None:
    """Refresh the manifest's hash of ``name``: the tamper must be caught by the check
    itself, not only by the hash."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["entries"]:
        if entry["file"] == name:
            entry["sha256"] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _edit_json(folder: Path, name: str, change: Callable[[dict], None]) -> None:
    data = json.loads((folder / name).read_text())
    change(data)
    (folder / name).write_text(json.dumps(data))
    _rehash(folder, name)


def _verdicts(folder: Path) -> dict[str, tuple[str, str]]:
    return {r.file: (r.verdict, r.detail) for r in check_dir(folder)}


def test_every_certificate_checks(written: Path) -> None:
    got = _verdicts(written)
    assert set(got) == {"k1-headline.json", "k1-headline.v", "universal-cells.json",
                        "rank.json", "counting.json"}
    assert got["k1-headline.v"][0] == ("proved" if HAVE_COQC else "inconclusive")
    assert all(v == "certified" for f, (v, _) in got.items() if f != "k1-headline.v")


def _lower_bound(d: dict) -> None:
    num, den = d["bound"].split("/")
    d["bound"] = f"{int(num)}/{4 * int(den)}"      # a quarter of the arb bound: below the sup


def _swap_coefficients(folder: Path) -> None:
    path = folder / "k1-headline.v"
    data = json.loads((folder / "k1-headline.json").read_text())
    a, b = data["coefficients"][1], data["coefficients"][2]
    text = path.read_text().replace(f"({a})", "(@A@)").replace(f"({b})", f"({a})")
    path.write_text(text.replace("(@A@)", f"({b})"))
    _rehash(folder, "k1-headline.v")


def _tamper_cells(d: dict) -> None:
    num, den = d["cells"][0][0].split("/")
    d["cells"][0][0] = f"{int(num) + 1}/{den}"


def _tamper_rank(d: dict) -> None:
    d["points"] = [d["points"][0]] * len(d["points"])


def _tamper_counting(d: dict) -> None:
    d["Lp"] -= 1


@pytest.mark.parametrize(("name", "tamper", "message"), [
    ("k1-headline.json", lambda f: _edit_json(f, "k1-headline.json", _lower_bound),
     "the bound is false"),
    ("k1-headline.v", _swap_coefficients, "does not state the polynomial"),
    ("universal-cells.json", lambda f: _edit_json(f, "universal-cells.json", _tamper_cells),
     "not the stated"),
    ("rank.json", lambda f: _edit_json(f, "rank.json", _tamper_rank), "rank 1 != C(s+g, g)"),
    ("counting.json", lambda f: _edit_json(f, "counting.json", _tamper_counting),
     "is too short"),
])
def test_each_kind_of_tamper_is_caught_and_named(written: Path, tmp_path: Path, name: str,
                                                  tamper: Callable[[Path], None],
                                                  message: str) -> None:
    folder = _copy(written, tmp_path / "c")
    tamper(folder)
    got = _verdicts(folder)
    assert got[name][0] == "refuted" and message in got[name][1], got[name]
    others = {f for f, (v, _) in got.items() if v == "refuted"} - {name}
    assert others <= {"k1-headline.v"}        # the proof cites the enclosure's data


def test_a_changed_byte_breaks_the_hash(written: Path, tmp_path: Path) -> None:
    folder = _copy(written, tmp_path / "c")
    path = folder / "counting.json"
    path.write_text(path.read_text().replace('"K": 16', '"K": 17'))
    verdict, detail = _verdicts(folder)["counting.json"]
    assert verdict == "refuted" and "the file was changed" in detail


@pytest.mark.skipif(not HAVE_COQC, reason="coqc not installed (Debian: coq libcoq-interval)")
def test_coqc_rejects_a_bound_below_the_sup(written: Path, tmp_path: Path) -> None:
    """The statement and its data changed together, consistently: only the prover can
    object, and it does."""
    folder = _copy(written, tmp_path / "c")
    data = json.loads((folder / "k1-headline.json").read_text())
    old = data["bound"]
    _edit_json(folder, "k1-headline.json", _lower_bound)
    new = json.loads((folder / "k1-headline.json").read_text())["bound"]
    o, n = (f"({x})" for x in (old, new))
    proof = folder / "k1-headline.v"
    proof.write_text(proof.read_text().replace(f"<= {o}", f"<= {n}"))
    _rehash(folder, "k1-headline.v")
    verdict, detail = _verdicts(folder)["k1-headline.v"]
    assert verdict == "refuted" and "coqc rejected the proof" in detail


def test_the_checker_imports_no_search_code(written: Path) -> None:
    code = ("import sys, json; from ptcheck import check_dir; "
            f"r = check_dir({str(written)!r}); "
            "print(json.dumps([[x.file, x.verdict] for x in r])); "
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('core', 'properties', 'verify', 'torch', 'numpy'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=written.parent)
    verdicts, modules = (json.loads(line) for line in run.stdout.splitlines())
    assert modules == []
    assert all(v in ("proved", "certified", "inconclusive") for _, v in verdicts)


@pytest.mark.cli
def test_cli_check_exit_codes(written: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(written)]) == 0
    assert "0 refuted" in capsys.readouterr().out
    folder = _copy(written, tmp_path / "c")
    _edit_json(folder, "counting.json", _tamper_counting)
    assert main(["check", str(folder)]) == 1
    assert "| counting.json | counting | refuted |" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "missing")]) == 2
    assert "not a folder" in capsys.readouterr().err
    (folder / "manifest.json").write_text("{}")
    assert main(["check", str(folder)]) == 1
