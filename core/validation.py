"""Argument validation at the public boundary.

Each helper either returns the (possibly converted) value or raises
:class:`~core.errors.InvalidArgument` with a message of the form
``name=value!r: what is allowed``. None returns a bool that a caller could forget to check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .errors import ConstructionTooLarge, InvalidArgument, NonFiniteError

__all__ = [
    "FLOAT_DTYPES",
    "MEMORY_LIMIT_BYTES",
    "check_device",
    "check_dtype",
    "check_finite_tensor",
    "check_fits_in_memory",
    "check_int",
    "check_matrix",
    "check_real",
    "short_repr",
]

#: Floating dtypes the harness computes in.
FLOAT_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64)

#: Default ceiling for a single allocation requested through the public API (4 GiB).
MEMORY_LIMIT_BYTES: int = 4 * 2**30


def short_repr(value: object, limit: int = 80) -> str:
    """``repr`` of ``value``, shortened for error messages (tensors by shape and dtype)."""
    if isinstance(value, torch.Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_int(name: str, value: object, *, minimum: int | None = None,
              maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` within ``[minimum, maximum]``; bools are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name}={short_repr(value)}: expected an int")
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"{name}={value!r}: must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"{name}={value!r}: must be <= {maximum}")
    return value


def check_real(name: str, value: object, *, low: float | None = None,
               high: float | None = None, low_open: bool = False,
               high_open: bool = False) -> float:
    """Return ``value`` as a finite ``float`` in the stated interval.

    ``low_open``/``high_open`` make the corresponding end exclusive.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgument(f"{name}={short_repr(value)}: expected a real number")
    x = float(value)
    if not math.isfinite(x):
        raise NonFiniteError(f"{name}={value!r}: must be finite")
    if low is not None and (x < low or (low_open and x == low)):
        op = ">" if low_open else ">="
        raise InvalidArgument(f"{name}={value!r}: must be {op} {low}")
    if high is not None and (x > high or (high_open and x == high)):
        op = "<" if high_open else "<="
        raise InvalidArgument(f"{name}={value!r}: must be {op} {high}")
    return x


def check_dtype(name: str, dtype: object) -> torch.dtype:
    """Return ``dtype`` if it is float32 or float64."""
    if dtype not in FLOAT_DTYPES:
        raise InvalidArgument(
            f"{name}={dtype!r}: expected one of {[str(d) for d in FLOAT_DTYPES]}")
    assert isinstance(dtype, torch.dtype)
    return dtype


def check_finite_tensor(name: str, value: torch.Tensor, *, step: str | None = None) -> None:
    """Raise :class:`NonFiniteError` naming ``name`` (and ``step``) if ``value`` has NaN/inf.

    The check is a reduction (NaN and inf propagate through ``aminmax``), so it allocates
    nothing the size of ``value``; only a failing tensor is searched for its first bad entry.
    """
    if value.numel() == 0:
        return
    low, high = torch.aminmax(value.detach())
    if bool(torch.isfinite(low)) and bool(torch.isfinite(high)):
        return
    finite = torch.isfinite(value)
    if not bool(finite.all()):
        bad = (~finite).nonzero()[0].tolist()
        where = f" produced by step {step!r}" if step else ""
        raise NonFiniteError(
            f"{name}{where} contains NaN or inf (first at index {tuple(bad)}, "
            f"value {value[tuple(bad)].item()!r}); all entries must be finite")


def check_device(name: str, device: object) -> torch.device:
    """A torch device that exists here: ``"cpu"``, ``"meta"``, ``"cuda"`` / ``"cuda:N"`` with
    that GPU present, or a :class:`torch.device`."""
    try:
        dev = torch.device(device)  # type: ignore[call-overload]
    except (RuntimeError, TypeError):
        raise InvalidArgument(f"{name}={device!r}: not a torch device; expected 'cpu', "
                              "'cuda' or 'cuda:N'") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0 or (dev.index or 0) >= count:
            raise InvalidArgument(f"{name}={device!r}: this machine has {count} CUDA "
                                  "device(s)")
    elif dev.type not in ("cpu", "meta"):
        raise InvalidArgument(f"{name}={device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    return dev


def check_matrix(name: str, value: object, *, rows: int | None = None,
                 cols: int | None = None, dtype: torch.dtype | None = None,
                 min_cols: int = 1, finite: bool = True) -> torch.Tensor:
    """Validate a 2-D floating tensor and return it.

    Args:
        name: argument name for error messages.
        value: the candidate; must already be a ``torch.Tensor``.
        rows, cols: required sizes (``None`` means any).
        dtype: required dtype; ``None`` accepts float32 or float64.
        min_cols: smallest allowed number of columns.
        finite: also check every entry is finite (callers that size their allocations
            first pass ``False`` and call :func:`check_finite_tensor` after, since reading
            a broadcast view of ``n = 10⁹`` columns would itself allocate).
    """
    if not isinstance(value, torch.Tensor):
        raise InvalidArgument(f"{name}={short_repr(value)}: expected a torch.Tensor")
    if value.ndim != 2:
        raise InvalidArgument(
            f"{name}={short_repr(value)}: expected a 2-D matrix, got {value.ndim} dims")
    if value.dtype not in FLOAT_DTYPES:
        raise InvalidArgument(
            f"{name}={short_repr(value)}: dtype must be float32 or float64")
    if dtype is not None and value.dtype != dtype:
        raise InvalidArgument(f"{name}={short_repr(value)}: dtype must be {dtype}")
    r, c = value.shape
    if rows is not None and r != rows:
        raise InvalidArgument(f"{name}={short_repr(value)}: expected {rows} rows, got {r}")
    if cols is not None and c != cols:
        raise InvalidArgument(f"{name}={short_repr(value)}: expected {cols} columns, got {c}")
    if c < min_cols:
        raise InvalidArgument(
            f"{name}={short_repr(value)}: expected at least {min_cols} columns, got {c}")
    if finite:
        check_finite_tensor(name, value)
    return value


def check_fits_in_memory(what: str, shape: Sequence[int], itemsize: int,
                         limit: int = MEMORY_LIMIT_BYTES) -> int:
    """Return the byte size of an array of ``shape`` or raise before allocating it.

    Raises :class:`ConstructionTooLarge` naming the computed size and the limit.
    """
    nbytes = itemsize * math.prod(int(s) for s in shape)
    if nbytes > limit:
        raise ConstructionTooLarge(
            f"{what} of shape {tuple(shape)} needs {nbytes / 2**20:.1f} MiB, over the limit "
            f"of {limit / 2**20:.1f} MiB",
            required=nbytes, limit=limit)
    return nbytes
