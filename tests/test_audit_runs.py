"""Audit runs end to end: reproducible per seed, resumable after kill -9, the same on every
executor (in-process, process pool, Dask on loopback)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import InvalidArgument
from properties.registry import select_claims
from verify.audit import AuditOptions, run_audit
from verify.regress import comparable

SMALL = "readout_*,softmax_*,attention_permutation*,lower_bound_*"


def _audit(tmp: Path, **kw: object) -> dict:  # type: ignore[type-arg]
    options = AuditOptions(seed=5, quick=True, pattern=SMALL, **kw)  # type: ignore[arg-type]
    return run_audit(select_claims(SMALL), options, out_dir=tmp)


def test_same_seed_gives_identical_reports(tmp_path: Path) -> None:
    a = _audit(tmp_path / "a", jobs=1)
    b = _audit(tmp_path / "b", jobs=1)
    assert comparable(a) == comparable(b)
    c = run_audit(select_claims(SMALL), AuditOptions(seed=6, quick=True, jobs=1))
    assert comparable(c) != comparable(a)


def test_process_pool_matches_in_process(tmp_path: Path) -> None:
    assert comparable(_audit(tmp_path / "pool", jobs=2)) == \
        comparable(_audit(tmp_path / "serial", jobs=1))


def test_dask_on_loopback_matches_local(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        remote = _audit(tmp_path / "dask", executor=f"dask://{address}")
    assert remote["header"]["executor"].startswith("dask://127.0.0.1:")
    assert comparable(remote) == comparable(_audit(tmp_path / "local", jobs=1))


@pytest.mark.parametrize("spec", ["dask://", "dask://nohostport", "ray://x:1", "local2"])
def test_bad_executor_specs(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="executor="):
        run_audit(select_claims("readout_*"), AuditOptions(quick=True, executor=spec))


def test_resume_after_kill_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    """kill -9 mid-audit, then --resume: the report equals an uninterrupted run's."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "verify", "audit", "--quick", "--seed", "5", "--jobs", "1",
           "--claims", SMALL, "--out", str(out), "--no-html"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = out / ".partial"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if partial.exists() and len(list(partial.glob("*_*.json"))) >= 2:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = len(list(partial.glob("*_*.json"))) if partial.exists() else 0
    if (out / "audit.json").exists():      # killed after the final write: it is complete
        json.loads((out / "audit.json").read_text())
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((out / "audit.json").read_text())
    assert report["header"]["resumed_claims"] == saved
    fresh = _audit(tmp_path / "fresh", jobs=1)
    assert comparable(report) == comparable(fresh)
    assert not partial.exists()


def test_resume_refuses_a_different_configuration(tmp_path: Path) -> None:
    _audit(tmp_path, jobs=1)   # leaves .partial (no write_audit)
    with pytest.raises(InvalidArgument, match="different configuration"):
        run_audit(select_claims(SMALL), AuditOptions(seed=99, quick=True, pattern=SMALL,
                                                     jobs=1), out_dir=tmp_path, resume=True)
