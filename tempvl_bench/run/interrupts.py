"""Ctrl-C ends a command with exit 130 and one line, wherever it lands; ``--resume`` continues a run.

Four things could otherwise go wrong; this module prevents each (:func:`handling_interrupts`
is installed by the command line around every command):

- The terminal sends SIGINT to the whole process group, DataLoader workers included. A worker
  that dies of it (e.g. while it starts) makes the main process raise "DataLoader worker exited
  unexpectedly" instead of the interrupt. Workers are forked from this process and inherit its
  handler, which ignores the signal outside the process that installed it: the main process
  stops its workers itself.
- The ``KeyboardInterrupt`` can land where Python only prints and ignores exceptions (a
  ``__del__``, a finalizer), and the run would go on. The handler records the interrupt, and
  :func:`check` (called at every training step and batch, and before results are written)
  raises it again.
- A ``KeyboardInterrupt`` inside a constructor leaves a half-built object whose ``__del__``
  prints a traceback at exit (a DataLoader iterator interrupted while it starts its workers).
  Such code runs under :func:`deferred`: the interrupt is raised when it is done.
- Another error raised after the interrupt (a worker gone, a half-written file) would be
  reported in its place: :func:`received` tells the command line that the run was interrupted.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from typing import Iterator

_state = {"pid": None, "received": False, "deferred": 0}


def _on_sigint(signum, frame) -> None:
    if os.getpid() != _state["pid"]:  # a forked worker: the process that forked it ends the run
        return
    _state["received"] = True
    if not _state["deferred"]:
        raise KeyboardInterrupt


@contextmanager
def handling_interrupts() -> Iterator[None]:
    """Install the SIGINT handler for the duration of one command (main thread only)."""
    try:
        previous = signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread (e.g. an embedding application): leave its handler be
        yield
        return
    _state.update(pid=os.getpid(), received=False, deferred=0)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _state["pid"] = None


def received() -> bool:
    """Whether SIGINT reached this command (even if its ``KeyboardInterrupt`` was swallowed)."""
    return bool(_state["received"]) and _state["pid"] == os.getpid()


def check() -> None:
    """Raise ``KeyboardInterrupt`` again if an interrupt was received: a run never goes on after one."""
    if received():
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Hold an interrupt received in the block until the block is done, then raise it."""
    _state["deferred"] += 1
    try:
        yield
    finally:
        _state["deferred"] -= 1
    check()
