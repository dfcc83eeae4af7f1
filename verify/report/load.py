"""Reading and checking the report's inputs: the audit schema, validation of an audit report,
and the JSON files ``audit`` embeds (``--bench-json``, ``--capacity-json``, ``--regime-json``).

Every loader names the option and file in its error (``--option='path': why``), so a bad
input is one line on the command line.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from core.errors import HarnessError, InvalidArgument

__all__ = ["load_benchmark", "load_capacity", "load_regime_json", "load_schema",
           "read_json_option", "validate_report"]


@cache
def load_schema() -> dict[str, Any]:
    """The audit report's JSON schema (``verify/schema/audit.schema.json``)."""
    text = resources.files("verify").joinpath("schema/audit.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_report(report: dict[str, Any]) -> None:
    """Raise :class:`HarnessError` if ``report`` does not match the schema."""
    try:
        jsonschema.validate(report, load_schema())
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path)
        raise HarnessError(f"audit report invalid at {path or '<root>'}: {exc.message}") from None


def read_json_option(option: str, path: Path) -> Any:
    """The JSON in the file an option names, or one ``option='path': why`` error."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise InvalidArgument(f"{option}={str(path)!r}: cannot read ({exc.strerror})"
                              ) from None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{option}={str(path)!r}: not valid JSON ({exc})") from None


def load_benchmark(path: Path) -> dict[str, Any]:
    """A kernel benchmark JSON reduced to what a report embeds: the headline's figures at
    top level (``speedup``, ``max_error``, ``bound``, ...), its ``rows``, and the device."""
    data = read_json_option("--bench-json", path)
    try:
        headline = dict(data["headline"])
        rows = list(data["rows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"--bench-json={str(path)!r}: not a 'bench kernel' JSON with "
                              f"'headline' and 'rows' ({exc!r})") from None
    return {**headline, "rows": rows, "device": data.get("device"),
            "quick": bool(data.get("quick")), "source": str(path)}


_CAPACITY_ROW: dict[str, type | tuple[type, ...]] = {
    "d": int, "L": int, "N": int, "eps": (int, float), "target_error": (int, float),
    "tried_Lp": list, "final_errors": list, "smallest_Lp": (int, type(None)),
    "constructive_Lp": (int, type(None)), "lower_bound_Lp": int}


def load_capacity(path: Path) -> dict[str, Any]:
    """An empirical-capacity sweep (``ptlimits bench capacity --json FILE``), checked.

    Shape: ``{"kind": "capacity", "label": str, "config": {...}, "rows": [{"d", "L", "N",
    "eps", "target_error", "tried_Lp", "final_errors", "smallest_Lp", "constructive_Lp",
    "lower_bound_Lp"}]}``; ``tried_Lp`` and ``final_errors`` have equal lengths.
    """
    where = f"--capacity-json={str(path)!r}"
    data = read_json_option("--capacity-json", path)
    if not isinstance(data, dict) or data.get("kind") != "capacity" or not isinstance(
            data.get("rows"), list) or not isinstance(data.get("label"), str):
        raise InvalidArgument(f"{where}: not a 'bench capacity' JSON (expected kind="
                              "'capacity', a label and a list of rows)")
    for k, row in enumerate(data["rows"]):
        if not isinstance(row, dict):
            raise InvalidArgument(f"{where}: rows[{k}] is not an object")
        for key, kind in _CAPACITY_ROW.items():
            value = row.get(key)
            if key not in row or isinstance(value, bool) or not isinstance(value, kind):
                raise InvalidArgument(f"{where}: rows[{k}].{key}={value!r}: expected "
                                      f"{getattr(kind, '__name__', 'a number or null')}")
        if len(row["tried_Lp"]) != len(row["final_errors"]):
            raise InvalidArgument(f"{where}: rows[{k}]: tried_Lp and final_errors differ "
                                  "in length")
    return {**data, "config": dict(data.get("config") or {}), "source": str(path)}


_REGIME_REQUIRED = ("kind", "model", "adapter", "L_p", "L", "n", "delta_F", "heads", "worst",
                    "summary", "threshold_ratio")


def load_regime_json(path: Path) -> dict[str, Any]:
    """A ``ptlimits regime --json`` file, checked enough to embed in a report."""
    where = f"--regime-json={str(path)!r}"
    data = read_json_option("--regime-json", path)
    missing = [k for k in _REGIME_REQUIRED if not isinstance(data, dict) or k not in data]
    if missing or data.get("kind") != "regime" or not isinstance(data.get("heads"), list):
        raise InvalidArgument(f"{where}: not a 'ptlimits regime --json' result (missing or "
                              f"wrong: {missing or ['kind/heads']})")
    return {**data, "source": str(path)}
