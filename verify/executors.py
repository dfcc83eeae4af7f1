"""Where audit work runs: in-process, a local process pool, or a Dask cluster; and the one
instance ``ptlimits reproduce ID 'JSON'`` measures in this process.

Every executor is a :class:`concurrent.futures.Executor`; a Dask ``Client`` provides one
through ``client.get_executor()``, so the audit's scheduling code is the same for all three.

``reproduce``: the JSON must be an object whose fields are the claim's instance fields, each
of the type its dataclass annotation gives (``int``, ``float``, ``bool``, ``str``: a bool is
not an int, a float must be finite, an int may stand for a float); refusals name the field,
``instance.FIELD=VALUE: what is wrong; what is allowed``. A value of the right type can still
lie outside what the claim can measure. When measuring raises, the exception is an input
error (exit 2, the field named) if it is an :class:`~core.errors.InvalidArgument` or if a
field lies outside the claim's *observed domain* (the values its reference points and a
fixed batch of Hypothesis draws take); it is a genuine ``error`` of the claim (exit 1) only
for an instance inside that domain. A failing measurement is always a claim failure (exit 1).
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import re
import typing
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from core.errors import ClaimViolation, InvalidArgument
from core.validation import check_int
from properties.claim import Claim, Outcome

from .lifetime import exit_with_parent

__all__ = ["DOMAIN_DRAWS", "MAX_JOBS", "SerialExecutor", "describe_executor",
           "domain_violations", "observed_domain", "open_executor", "parse_executor",
           "parse_instance", "reproduce_entry"]

#: Most local worker processes: each spawned worker imports torch (about 300 MB resident),
#: so 256 of them already need some 75 GB before measuring anything.
MAX_JOBS = 256

_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)$")


def parse_executor(spec: object) -> tuple[str, int] | None:
    """Check an executor spec before anything waits on it: ``"local"`` gives ``None``;
    ``"dask://HOST:PORT"`` gives ``(HOST, PORT)``, with a host name, IPv4 or ``[IPv6]``
    address and a port in 1-65535.

    Raises:
        InvalidArgument: ``executor='spec': what is wrong; what is allowed``.
    """
    usage = "expected 'local' or dask://HOST:PORT (PORT in 1-65535)"
    if not isinstance(spec, str):
        raise InvalidArgument(f"executor={spec!r}: not a string; {usage}")
    if spec == "local":
        return None
    if not spec.startswith("dask://"):
        scheme = spec.split("://")[0] if "://" in spec else None
        what = f"unknown scheme {scheme!r}" if scheme else "not a known executor"
        raise InvalidArgument(f"executor={spec!r}: {what}; {usage}")
    address = spec[len("dask://"):]
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        raise InvalidArgument(f"executor={spec!r}: no HOST:PORT after dask://; {usage}")
    if not _HOST.match(host):
        raise InvalidArgument(f"executor={spec!r}: host {host!r} is not a host name or IP "
                              f"address; {usage}")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InvalidArgument(f"executor={spec!r}: port {port!r} is not in 1-65535; {usage}")
    return host, int(port)


class SerialExecutor(Executor):
    """Runs each task immediately in this process (``--jobs 1``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future, like a pool would
            future.set_exception(exc)
        return future


def describe_executor(spec: str, jobs: int | None) -> str:
    """A one-line description for the report header."""
    if spec.startswith("dask://"):
        return spec
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    return "serial" if workers == 1 else f"process pool ({workers} workers)"


@contextmanager
def open_executor(spec: str = "local", jobs: int | None = None) -> Iterator[Executor]:
    """Yield an executor for ``spec``: ``"local"`` or ``"dask://HOST:PORT"``.

    ``jobs`` is the number of local worker processes (default: the CPU count); ``1`` runs
    everything in this process. Worker processes are started with ``spawn`` (safe with
    torch's thread pools).
    """
    if jobs is not None:
        check_int("jobs", jobs, minimum=1, maximum=MAX_JOBS)
    parsed = parse_executor(spec)
    if parsed is not None:
        address = f"{parsed[0]}:{parsed[1]}"
        try:
            from distributed import Client
        except ImportError:
            raise InvalidArgument(
                f"executor={spec!r}: needs the 'distributed' package "
                "(pip install 'ptlimits[dask]')") from None
        try:
            client = Client(f"tcp://{address}", timeout=10)
        except OSError as exc:
            raise InvalidArgument(
                f"executor={spec!r}: cannot reach a Dask scheduler ({exc})") from None
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers == 1:
        yield SerialExecutor()
        return
    pool = ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=exit_with_parent, initargs=(os.getpid(),))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- reproduce: one instance, checked, measured in this process ---------------------------

#: Hypothesis draws (seed 0) that, with the reference points, make a claim's observed domain.
DOMAIN_DRAWS = 50

#: An int field (other than a seed) more than this factor past the largest value its claim
#: ever uses is refused before measuring: sizes grow arrays, and such a size could exhaust
#: memory or time before any check inside the measurement fires.
SIZE_SLACK = 64

_TYPE_WORDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _reject_constant(name: str) -> float:
    raise InvalidArgument(f"instance={name}: NaN and Infinity are not JSON numbers; expected "
                          "finite numbers")


def _short(value: object) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    for kind, word in ((int, "an integer"), (float, "a number"), (str, "a string"),
                       (list, "a list"), (dict, "an object")):
        if isinstance(value, kind):
            return word
    return "null"


def _check_type(name: str, value: Any, kind: Any) -> Any:
    """``value`` converted to the annotation ``kind`` (int → float), or a refusal."""
    word = _TYPE_WORDS.get(kind, str(kind))
    wrong = InvalidArgument(f"instance.{name}={_short(value)}: is {_json_kind(value)}; "
                            f"expected {word}")
    if kind is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        if not math.isfinite(float(value)):
            raise InvalidArgument(f"instance.{name}={_short(value)}: not finite; expected a "
                                  "finite number")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise wrong
        return value
    return tuple(value) if isinstance(value, list) else value


def parse_instance(claim: Claim, text: str, draw: Draw) -> Any:
    """The instance of ``claim`` that ``text`` (JSON) describes, or :class:`InvalidArgument`
    naming the first bad field and what it allows."""
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"instance={_short(text)}: not valid JSON ({exc.msg} at column "
                              f"{exc.colno}); expected an object such as the 'reproduce' "
                              "line of a report prints") from None
    except RecursionError:
        raise InvalidArgument("instance: nested too deeply; expected a flat JSON object"
                              ) from None
    fields = {f.name: f for f in dataclasses.fields(claim.instance_type)}
    hints = typing.get_type_hints(claim.instance_type)
    allowed = ", ".join(fields)
    if not isinstance(data, dict):
        raise InvalidArgument(f"instance={_short(text)}: is {_json_kind(data)}; expected a "
                              f"JSON object with the fields of "
                              f"{claim.instance_type.__name__}: {allowed}")
    for name in data:
        if name not in fields:
            raise InvalidArgument(f"instance.{name}: unknown field for claim {claim.id!r}; "
                                  f"allowed: {allowed}")
    missing = [n for n, f in fields.items() if n not in data
               and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise InvalidArgument(f"instance.{missing[0]}: missing; required fields of claim "
                              f"{claim.id!r}: {', '.join(missing)}")
    values = {n: _check_type(n, v, hints.get(n)) for n, v in data.items()}
    too_large = [v for v in domain_violations(claim, values, draw, sizes_only=True)]
    if too_large:
        raise InvalidArgument(too_large[0])
    try:
        return claim.instance_type(**values)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"instance: {exc}; allowed fields: {allowed}") from None


Draw = Callable[[Claim, int, int], list[Any]]
EntryOf = Callable[[Claim, list[Any], Callable[[Any], Outcome]], dict[str, Any]]


def observed_domain(claim: Claim, draw: Draw) -> dict[str, tuple[Any, ...]]:
    """For each field: ``(low, high)`` over the reference points and :data:`DOMAIN_DRAWS`
    draws ``draw(claim, count, seed=0)`` (the audit's :func:`verify.audit.draw_instances`)
    for numbers, the sorted set of values for strings and bools."""
    samples = [dataclasses.asdict(i) for i in (*claim.reference_points(),
                                                *draw(claim, DOMAIN_DRAWS, 0))]
    domain: dict[str, tuple[Any, ...]] = {}
    for f in dataclasses.fields(claim.instance_type):
        seen = [s[f.name] for s in samples if f.name in s]
        if not seen:
            continue
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in seen):
            domain[f.name] = (min(seen), max(seen))
        else:
            domain[f.name] = tuple(sorted({repr(v) for v in seen}))
    return domain


def _describe(name: str, span: tuple[Any, ...]) -> str:
    if len(span) == 2 and all(isinstance(v, (int, float)) for v in span):
        return f"its reference points and draws use {name} in [{span[0]}, {span[1]}]"
    return f"its reference points and draws use {name} in {{{', '.join(span)}}}"


def domain_violations(claim: Claim, values: dict[str, Any], draw: Draw, *,
                      sizes_only: bool = False) -> list[str]:
    """A message per field of ``values`` outside ``claim``'s observed domain (with
    ``sizes_only``: only int fields far past the largest value used, :data:`SIZE_SLACK`)."""
    domain = observed_domain(claim, draw)
    out = []
    for name, value in values.items():
        span = domain.get(name)
        if span is None:
            continue
        numeric = len(span) == 2 and all(isinstance(v, (int, float)) for v in span)
        if sizes_only:
            if (numeric and isinstance(value, int) and not isinstance(value, bool)
                    and "seed" not in name and value > max(abs(span[1]), 1) * SIZE_SLACK):
                out.append(f"instance.{name}={value}: too large to measure safely; "
                           f"{_describe(name, span)} (at most {SIZE_SLACK}× the largest)")
            continue
        if numeric:
            if isinstance(value, (int, float)) and not span[0] <= value <= span[1]:
                out.append(f"instance.{name}={_short(value)}: outside the claim's domain; "
                           f"{_describe(name, span)}")
        elif repr(value) not in span:
            out.append(f"instance.{name}={_short(value)}: outside the claim's domain; "
                       f"{_describe(name, span)}")
    return out


def reproduce_entry(claim: Claim, instance: Any, entry_of: EntryOf,
                    draw: Draw) -> dict[str, Any]:
    """Measure ``instance`` as the audit would, ``entry_of(claim, [instance], measure)``
    (:func:`verify.audit.claim_entry`), but raise :class:`InvalidArgument` naming the field
    when the measurement raised because of an input outside the claim's domain (see the
    module docstring)."""
    raised: list[BaseException] = []

    def measure(item: Any) -> Outcome:
        try:
            return claim.measure(item)
        except Exception as exc:
            raised.append(exc)
            raise

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        entry = entry_of(claim, [instance], measure)
    if not raised:
        for w in caught:   # only an instance the claim accepts shows its warnings
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return entry
    exc = raised[0]
    if isinstance(exc, ClaimViolation):   # a failed check (e.g. a contradicted assumption)
        return entry
    values = dataclasses.asdict(instance)
    outside = domain_violations(claim, values, draw)
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    named_first = [m for m in outside
                   if isinstance(exc, InvalidArgument) and str(exc).startswith(
                       m.split(".", 1)[1].split("=", 1)[0] + "=")]
    outside = named_first + [m for m in outside if m not in named_first]
    if outside:
        raise InvalidArgument(f"{outside[0]} (measuring it raised {text})") from None
    if isinstance(exc, InvalidArgument):
        named = next((n for n in values if str(exc).startswith(f"{n}=")), None)
        field = f"instance.{named}={_short(values[named])}" if named else "instance"
        raise InvalidArgument(f"{field}: claim {claim.id!r} cannot measure it ({text}); "
                              "use values like those its reference points take") from None
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return entry
