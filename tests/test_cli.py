"""The command line: claims table, audit files, reproduce, and clean failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from properties.registry import all_claims
from verify.cli import main

pytestmark = pytest.mark.cli


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verify", *args], capture_output=True,
                          text=True, timeout=timeout)


def test_claims_table_lists_every_claim(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claims"]) == 0
    out = capsys.readouterr().out
    for claim in all_claims():
        assert claim.id in out and claim.paper_ref in out


def test_claims_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claims", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [c.id for c in all_claims()]
    assert set(rows[0]) == {"id", "theory_ref", "paper_ref", "evidence", "statement"}


def test_audit_subprocess_writes_both_files(tmp_path: Path) -> None:
    proc = _run("audit", "--quick", "--claims", "MODEL", "--out", str(tmp_path), "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report["header"]["seed"] == 3
    assert (tmp_path / "audit.md").read_text().startswith("# ptlimits audit")
    assert "wrote" in proc.stdout


def test_reproduce_line_from_a_report_runs(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--quick", "--claims", "readout_*", "--out", str(tmp_path)]) == 0
    entry = json.loads((tmp_path / "audit.json").read_text())["claims"][0]
    payload = json.dumps(entry["worst_case"]["instance"])
    capsys.readouterr()
    assert main(["reproduce", entry["id"], payload]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "pass"


@pytest.mark.parametrize("args, fragment", [
    (["audit", "--claims", "no_such_claim"], "claims='no_such_claim'"),
    (["reproduce", "no_such_claim", "{}"], "claim_id='no_such_claim'"),
    (["reproduce", "readout_is_last_l_columns", "{not json"], "not valid JSON"),
    (["reproduce", "readout_is_last_l_columns", '{"seed": 1, "colour": 2}'], "colour"),
    (["reproduce", "readout_is_last_l_columns", '{"seed": 1}'], "instance.d: missing"),
    (["audit", "--draws", "-1", "--claims", "readout_*"], "draws=-1"),
])
def test_cli_errors_are_one_line(args: list[str], fragment: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    if args[0] == "audit":
        args = [*args, "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ptlimits: error:") and fragment in err
    assert "Traceback" not in err


def test_unwritable_out_is_refused_before_work(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["audit", "--quick", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "--out=" in err and "not a writable directory" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [["frobnicate"], ["audit", "--seed", "x"], [],
                                  ["audit", "--hypothesis-profile", "turbo"]])
def test_argparse_usage_errors_exit_2(args: list[str],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ptlimits: error:") and err.count("\n") == 1 and "--help" in err
    assert "usage:" not in err and "Traceback" not in err


def test_help_explains_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["audit", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--quick", "--out", "--claims", "--seed", "--hypothesis-profile", "--jobs",
                 "--executor", "--resume", "--bench-json"):
        assert flag in out


def test_usage_error_from_the_shell_has_no_traceback() -> None:
    proc = _run("audit", "--claims", "no_such_claim", "--out", "/tmp")
    assert proc.returncode == 2 and proc.stderr.startswith("ptlimits: error:")
    assert "Traceback" not in proc.stderr


def test_console_script_runs_the_same_cli() -> None:
    script = Path(sys.executable).with_name("ptlimits")
    if not script.exists():
        pytest.skip("ptlimits console script not installed in this environment")
    proc = subprocess.run([str(script), "claims", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    assert [r["id"] for r in json.loads(proc.stdout)] == [c.id for c in all_claims()]


def test_killed_audit_leaves_previous_report_intact(tmp_path: Path) -> None:
    """SIGKILL at several moments: audit.json is always the old one or a complete new one."""
    assert main(["audit", "--quick", "--claims", "readout_*", "--out", str(tmp_path)]) == 0
    old = (tmp_path / "audit.json").read_text()
    for delay in (0.5, 1.5, 3.0):
        proc = subprocess.Popen([sys.executable, "-m", "verify", "audit", "--quick",
                                 "--out", str(tmp_path), "--seed", "9"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        text = (tmp_path / "audit.json").read_text()
        assert text == old or json.loads(text)["header"]["seed"] == 9
