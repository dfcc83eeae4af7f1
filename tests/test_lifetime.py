"""``kill -9`` of an audit leaves no worker process behind (verify.lifetime)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil", reason="psutil (installed with the test extra's "
                                              "distributed) finds the worker processes")

pytestmark = pytest.mark.cli


def _workers(parent: psutil.Process) -> list[psutil.Process]:
    return [c for c in parent.children(recursive=True)
            if "multiprocessing.spawn" in " ".join(c.cmdline())]


def test_kill_9_of_an_audit_takes_its_workers_with_it(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "verify", "audit", "--quick", "--no-html", "--jobs", "2",
         "--out", str(tmp_path / "audit")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "CI": "true"})
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    partial = tmp_path / "audit" / ".partial"
    while time.monotonic() < deadline and proc.poll() is None and not (
            len(workers) == 2 and any(p.name != "config.json" for p in partial.glob("*.json"))):
        workers = _workers(parent)                  # both started, one claim already done
        time.sleep(0.1)
    everyone = parent.children(recursive=True)      # workers and the resource tracker
    assert len(workers) == 2, "the audit should have started two pool workers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # A worker still starting when its parent dies exits as its initializer runs: allow a
    # loaded machine that long.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(everyone):
        time.sleep(0.1)
    alive = _running(everyone)
    for p in alive:
        p.kill()
    assert not alive, [p.pid for p in alive]


def _running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (an exited process left unreaped, a zombie, has ended)."""
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out
