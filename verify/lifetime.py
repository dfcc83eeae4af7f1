"""Worker processes that never outlive the audit that started them.

A process-pool worker busy in a claim keeps running when its parent is killed with
``kill -9`` (nothing tells it), and would go on using the CPU with no one to report to.
:func:`exit_with_parent` runs in each worker as the pool's initializer:

- on Linux it asks the kernel to send the worker ``SIGKILL`` when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``), which works even while the worker is inside a long C call
  that holds the GIL (ball arithmetic, a large matrix product);
- everywhere, a daemon thread also polls the parent's pid and ends the worker
  (``os._exit``) once it has been re-parented.

The pool's workers are started from the audit's main thread, so the "parent thread" the
kernel watches lives as long as the audit does. A worker whose parent died while it was
still starting exits as soon as its initializer runs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["POLL_SECONDS", "exit_with_parent"]

#: How often the fallback thread checks that the parent is alive.
POLL_SECONDS = 0.5

_PR_SET_PDEATHSIG = 1


def _watch(parent: int, poll: float) -> None:
    while True:
        time.sleep(poll)
        if os.getppid() != parent:            # re-parented: the audit process is gone
            os._exit(1)


def exit_with_parent(parent: int, poll: float = POLL_SECONDS) -> None:
    """Tie this (worker) process's life to that of ``parent``, the pid of the process that
    created the pool (passed in, since a worker whose parent died while it was starting up
    has already been re-parented); returns at once."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass                              # no prctl: the thread below still works
    if os.getppid() != parent:                # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent, poll), daemon=True,
                     name="ptlimits-exit-with-parent").start()
