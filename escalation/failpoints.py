"""Failpoints: named places in the escalation code where a test can stop the world.

`FAILPOINT=<name>` in a worker's environment makes the process die there (exit 137, as if
SIGKILLed), so kill-mid-task scenarios are deterministic (RELIABILITY harness). In-process
tests may install a hook (e.g. wait on a threading.Event) with `installed()`. Both are no-ops
in normal runs: one dict lookup and one environment read."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_hooks: dict[str, Callable[[], None]] = {}


def hit(name: str) -> None:
    if os.environ.get("FAILPOINT") == name:
        os._exit(137)
    hook = _hooks.get(name)
    if hook is not None:
        hook()


@contextmanager
def installed(name: str, hook: Callable[[], None]) -> Iterator[None]:
    _hooks[name] = hook
    try:
        yield
    finally:
        _hooks.pop(name, None)
