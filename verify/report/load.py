"""Reading and checking every JSON input before any work starts: the audit schema and
validation of an audit report, the files ``audit`` embeds (``--bench-json``,
``--capacity-json``, ``--regime-json``), ``regress --baseline/--current`` and the
``audit --resume`` state in ``DIR/.partial/``; and output paths (``--json FILE``).

Each input goes through :func:`load_json_input`: a regular file of at most
:data:`MAX_INPUT_BYTES`, UTF-8 text, JSON with no ``NaN``/``Infinity`` (nor numbers that
overflow to infinity) and at most :data:`MAX_DEPTH` levels of nesting, matching its JSON
Schema in ``verify/schema/``. Each refusal is one :class:`InvalidArgument`

    OPTION='FILE': FIELD: what is wrong; what is allowed

with ``FIELD`` a JSON path such as ``headline.speedup`` or ``rows[3].n`` (``top level`` for
the whole document), so the command line prints one line naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from core.errors import HarnessError, InvalidArgument

from ..files import make_writable_dir

__all__ = ["MAX_DEPTH", "MAX_INPUT_BYTES", "check_against_schema", "check_output_file",
           "json_path", "load_benchmark", "load_capacity", "load_json_input",
           "load_partial_state", "load_regime_json", "load_schema", "read_json",
           "read_json_option", "schema", "validate_report"]

#: Largest input file read (512 MiB). The largest input is an audit report: at about
#: 950 bytes per measured instance, a ``--draws 10000`` audit (the CLI's ceiling) is about
#: 220 MB.
MAX_INPUT_BYTES = 512 * 2**20

#: Deepest nesting accepted. ptlimits writes at most 6 levels (report → claims → entry →
#: worst_case → detail → a list); 64 leaves room and keeps every recursive reader safe.
MAX_DEPTH = 64

_TYPE_NAMES = {"object": "an object", "array": "a list", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false",
               "null": "null"}


class _NonFinite:
    """What ``NaN``, ``Infinity`` and ``-Infinity`` parse to, so that their field is found."""

    def __init__(self, name: str):
        self.name = name


def _is_integer(_checker: object, value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(_checker: object, value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Draft 2020-12, but ``1.0`` is not an integer (ptlimits writes integers as integers) and,
#: as in the draft, ``true``/``false`` are neither integers nor numbers.
_Validator = jsonschema.validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_integer, "number": _is_number}))


@cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema ``verify/schema/NAME.schema.json``."""
    text = resources.files("verify").joinpath(f"schema/{name}.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def json_path(parts: Sequence[str | int]) -> str:
    """``["rows", 3, "n"]`` → ``rows[3].n``; ``[]`` → ``top level``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "top level"


def _where(option: str, path: Path) -> str:
    return f"{option}={str(path)!r}"


def _short(value: object, limit: int = 40) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    text = json.dumps(value) if isinstance(value, (str, int, float, bool)) or value is None \
        else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a list" if isinstance(value, list) else "an object"


def _walk(data: Any) -> Iterator[tuple[list[str | int], Any, int]]:
    """Every value of ``data`` with its path and depth, without recursion."""
    stack: list[tuple[list[str | int], Any, int]] = [([], data, 1)]
    while stack:
        parts, value, depth = stack.pop()
        yield parts, value, depth
        if isinstance(value, dict):
            stack.extend(([*parts, k], v, depth + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(([*parts, i], v, depth + 1)
                         for i, v in reversed(list(enumerate(value))))


def read_json(option: str, path: Path, *, expected: str = "a JSON file") -> Any:
    """The JSON value in the file ``option`` names, refused in one line if the file cannot be
    read, is not UTF-8, is not JSON, holds NaN or Infinity, or nests past :data:`MAX_DEPTH`.

    ``expected`` says what the option wants (it ends each file-level message).
    """
    where = _where(option, path)
    path = Path(path)
    try:
        if path.is_dir():
            raise InvalidArgument(f"{where}: is a directory; expected {expected}")
        if not path.exists():
            raise InvalidArgument(f"{where}: cannot read (No such file or directory); "
                                  f"expected {expected}")
        if not path.is_file():
            raise InvalidArgument(f"{where}: not a regular file; expected {expected}")
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise InvalidArgument(f"{where}: {size} bytes; at most {MAX_INPUT_BYTES} bytes "
                                  f"({MAX_INPUT_BYTES // 2**20} MiB) are read")
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"{where}: cannot read ({exc.strerror or exc}); expected "
                              f"{expected}") from None
    if not raw.strip():
        raise InvalidArgument(f"{where}: empty file; expected {expected}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            f"expected {expected} (UTF-8 JSON)") from None
    try:
        data = json.loads(text, parse_constant=_NonFinite)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{where}: line {exc.lineno} column {exc.colno}: not valid "
                              f"JSON ({exc.msg}); expected {expected}") from None
    except RecursionError:
        raise InvalidArgument(f"{where}: top level: nested too deeply to parse; at most "
                              f"{MAX_DEPTH} levels allowed") from None
    for parts, value, depth in _walk(data):
        if depth > MAX_DEPTH:
            raise InvalidArgument(f"{where}: {json_path(parts[:MAX_DEPTH])}: nested more "
                                  f"than {MAX_DEPTH} levels deep; at most {MAX_DEPTH} allowed")
        if isinstance(value, _NonFinite):
            raise InvalidArgument(f"{where}: {json_path(parts)}: {value.name} is not a JSON "
                                  "number; expected a finite number (or null where allowed)")
        if isinstance(value, float) and not math.isfinite(value):   # e.g. 1e999
            raise InvalidArgument(f"{where}: {json_path(parts)}: overflows to infinity; "
                                  "expected a finite number (below about 1.8e308)")
    return data


def _problem(error: ValidationError) -> tuple[list[str | int], str]:
    """The field an error is about and ``what is wrong; what is allowed``."""
    parts: list[str | int] = list(error.absolute_path)
    kind, rule, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        kinds = [rule] if isinstance(rule, str) else list(rule)
        allowed = " or ".join(_TYPE_NAMES.get(k, k) for k in kinds)
        note = ""
        if isinstance(value, bool) and ("integer" in kinds or "number" in kinds):
            note = f" (true/false is not {'an integer' if 'integer' in kinds else 'a number'})"
        if isinstance(value, float) and "integer" in kinds and value.is_integer():
            note = " (write it without a decimal point)"
        shown = "" if isinstance(value, (dict, list)) else f"{_short(value)} "
        return parts, f"{shown}is {_json_type(value)}; expected {allowed}{note}"
    if kind == "required":
        missing = [k for k in rule if k not in value]
        names = ", ".join(rule[:8]) + (", ..." if len(rule) > 8 else "")
        return [*parts, missing[0]], f"missing; required here: {names}"
    if kind == "minItems":
        what = "empty list" if not value else f"{len(value)} items"
        return parts, f"{what}; expected at least {rule} item{'s' if rule != 1 else ''}"
    if kind == "maxItems":
        return parts, f"{len(value)} items; expected at most {rule}"
    if kind == "const":
        return parts, f"{_short(value)}; expected {json.dumps(rule)}"
    if kind == "enum":
        return parts, f"{_short(value)}; expected one of {', '.join(map(json.dumps, rule))}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
              "exclusiveMaximum": "<"}[kind]
        return parts, f"{_short(value)} is out of range; expected {op} {rule}"
    if kind == "minLength":
        return parts, f"{_short(value)} is too short; expected at least {rule} character(s)"
    if kind == "pattern":
        return parts, f"{_short(value)}; expected a string matching {rule}"
    if kind == "additionalProperties":
        extra = sorted(set(value) - set(error.schema.get("properties", {})))
        allowed = ", ".join(error.schema.get("properties", {}))
        return [*parts, extra[0] if extra else "?"], f"unknown field; allowed: {allowed}"
    if kind == "minProperties":
        return parts, f"empty object; expected at least {rule} field(s)"
    return parts, f"{error.message}; see the schema"


def _schema_for(name: str) -> dict[str, Any]:
    """``NAME`` or ``NAME#DEF`` (one ``$defs`` entry of ``NAME``, e.g. ``audit#entry``)."""
    if "#" not in name:
        return schema(name)
    base, definition = name.split("#")
    return {"$defs": schema(base)["$defs"], "$ref": f"#/$defs/{definition}"}


def check_against_schema(option: str, path: Path | None, data: Any, schema_name: str) -> None:
    """Refuse ``data`` (read from ``path`` for ``option``) unless it matches the schema
    ``verify/schema/SCHEMA_NAME.schema.json``, naming the first bad field.

    With ``path=None`` (a value passed in Python) the message starts ``option=VALUE``.
    """
    errors = list(_Validator(_schema_for(schema_name)).iter_errors(data))
    if not errors:
        return
    # A wrong discriminator ("kind", "benchmark") says the most: the file is of another
    # kind. Otherwise the shallowest error, as jsonschema ranks them.
    wrong_kind = [e for e in errors if e.validator == "const" and len(e.absolute_path) == 1]
    error = wrong_kind[0] if wrong_kind else best_match(errors)
    parts, problem = _problem(error)
    where = _where(option, path) if path is not None else f"{option}={_short(data)}"
    raise InvalidArgument(f"{where}: {json_path(parts)}: {problem}")


def load_json_input(option: str, path: Path, schema_name: str, *,
                    expected: str = "a JSON file") -> Any:
    """:func:`read_json`, then :func:`check_against_schema`."""
    data = read_json(option, path, expected=expected)
    check_against_schema(option, path, data, schema_name)
    return data


def check_output_file(option: str, path: Path) -> Path:
    """Refuse an output file path that cannot be written, before any work is done: an empty
    name, a directory, or a folder that cannot be created or written. Creates the folder
    (the write would)."""
    where = _where(option, path)
    if str(path) == "" or path.name in ("", ".", ".."):
        raise InvalidArgument(f"{where}: not a file name; expected a path like out/result.json")
    if path.is_dir():
        raise InvalidArgument(f"{where}: is a directory; expected a file path inside it, "
                              f"e.g. {str(path / 'result.json')!r}")
    parent = path.parent
    try:
        make_writable_dir(parent)
    except OSError as exc:
        raise InvalidArgument(f"{where}: cannot write into {str(parent)!r} "
                              f"({exc.strerror or exc}); expected a writable place") from None
    if path.exists() and not os.access(path, os.W_OK) and not os.access(parent, os.W_OK):
        raise InvalidArgument(f"{where}: not writable; expected a writable file")
    return path


def load_partial_state(partial: Path, fingerprint: str, ids: Sequence[str]) -> dict[str, Any]:
    """The saved entries of an interrupted ``audit`` (``DIR/.partial/``) for ``--resume``,
    each checked (``partial.schema.json`` for
    the configuration, the audit schema's ``entry`` for each claim) before any work."""
    config = partial / "config.json"
    if not partial.exists() or (not config.exists() and not any(partial.glob("*.json"))):
        return {}
    recover = (f"delete {str(partial)!r} or run without --resume to start afresh")
    if not config.exists():
        raise InvalidArgument(f"--resume: {str(config)!r}: missing, so the saved results in "
                              f"{str(partial)!r} cannot be matched to a configuration; "
                              f"{recover}")
    where = "--resume"

    def checked(path: Path, schema_name: str) -> Any:
        try:
            data = read_json(where, path, expected="a file 'ptlimits audit' saved")
            check_against_schema(where, path, data, schema_name)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{exc} (the saved state is corrupt: {recover})") from None
        return data

    if checked(config, "partial")["fingerprint"] != fingerprint:
        raise InvalidArgument(
            f"--resume: the partial results in {partial} come from a different configuration "
            "(seed, draws, profile or claim selection); rerun without --resume")
    done = {}
    for claim_id in ids:
        path = partial / f"{claim_id}.json"
        if path.exists():
            entry = checked(path, "audit#entry")
            if entry["id"] != claim_id:
                raise InvalidArgument(
                    f"--resume={str(path)!r}: id: {entry['id']!r}; expected {claim_id!r} "
                    f"(the saved state is corrupt: {recover})")
            done[claim_id] = entry
    return done



@cache
def load_schema() -> dict[str, Any]:
    """The audit report's JSON schema (``verify/schema/audit.schema.json``)."""
    return schema("audit")


def validate_report(report: dict[str, Any]) -> None:
    """Raise :class:`HarnessError` if ``report`` does not match the schema."""
    try:
        jsonschema.validate(report, load_schema())
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path)
        raise HarnessError(f"audit report invalid at {path or '<root>'}: {exc.message}") from None


def read_json_option(option: str, path: Path) -> Any:
    """The JSON in the file an option names, or one ``option='path': why`` error
    (:func:`read_json`: UTF-8, no NaN/Infinity, bounded nesting)."""
    return read_json(option, Path(path))


def load_benchmark(path: Path) -> dict[str, Any]:
    """A kernel benchmark JSON reduced to what a report embeds: the headline's figures at
    top level (``speedup``, ``max_error``, ``bound``, ...), its ``rows``, and the device.

    Checked against ``verify/schema/bench-kernel.schema.json`` first.
    """
    data = load_json_input("--bench-json", Path(path), "bench-kernel",
                           expected="the JSON 'ptlimits bench kernel --json FILE' writes")
    return {**data["headline"], "rows": list(data["rows"]), "device": data["device"],
            "quick": data["quick"], "source": str(path)}


def load_capacity(path: Path) -> dict[str, Any]:
    """An empirical-capacity sweep (``ptlimits bench capacity --json FILE``), checked
    against ``verify/schema/capacity.schema.json``.

    Shape: ``{"kind": "capacity", "label": str, "config": {...}, "rows": [{"d", "L", "N",
    "eps", "target_error", "tried_Lp", "final_errors", "smallest_Lp", "constructive_Lp",
    "lower_bound_Lp"}]}``; ``tried_Lp`` and ``final_errors`` have equal lengths.
    """
    data = load_json_input("--capacity-json", Path(path), "capacity",
                           expected="the JSON 'ptlimits bench capacity --json FILE' writes")
    for k, row in enumerate(data["rows"]):
        if len(row["tried_Lp"]) != len(row["final_errors"]):
            raise InvalidArgument(
                f"--capacity-json={str(path)!r}: rows[{k}].final_errors: "
                f"{len(row['final_errors'])} values for {len(row['tried_Lp'])} tried_Lp "
                "(lengths differ); expected one final error per tried L_p")
    return {**data, "config": dict(data.get("config") or {}), "source": str(path)}


def load_regime_json(path: Path) -> dict[str, Any]:
    """A ``ptlimits regime --json`` file, checked against ``verify/schema/regime.schema.json``
    so that every section of the report can render it."""
    data = load_json_input("--regime-json", Path(path), "regime",
                           expected="the JSON 'ptlimits regime --json FILE' writes")
    return {**data, "source": str(path)}


def load_target_json(path: Path) -> dict[str, Any]:
    """A ``ptlimits universal --json`` file, checked against
    ``verify/schema/universal-target.schema.json``."""
    data = load_json_input("--target-json", Path(path), "universal-target",
                           expected="the JSON 'ptlimits universal --json FILE' writes")
    return {**data, "source": str(path)}
