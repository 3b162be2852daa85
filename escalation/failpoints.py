"""Failpoints: named places in the escalation code where a test can stop the world.

Off unless `settings.FAILPOINTS_ENABLED` (the environment variable of the same name, false by
default, set only by the tests that start real workers): then `FAILPOINT=<name>` in a
worker's environment makes the process die there (exit 137, as if SIGKILLed), so
kill-mid-task scenarios are deterministic (RELIABILITY harness), and
`FAILPOINT_SLEEP=<name>:<seconds>` makes it pause there instead, e.g. to make a tick slower
than the beat interval, so two ticks surely overlap (T18). In-process tests install a hook
(e.g. wait on a threading.Event) with `installed()`, with the setting on. Disabled, `hit` is
one settings read."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings

_hooks: dict[str, Callable[[], None]] = {}


def _sleeps(raw: str) -> dict[str, float]:
    name, _, seconds = raw.partition(":")
    return {name: float(seconds)} if name and seconds else {}


# Read once: a process's environment does not change under it.
_SLEEPS = _sleeps(os.environ.get("FAILPOINT_SLEEP", ""))


def hit(name: str) -> None:
    if not settings.FAILPOINTS_ENABLED:
        return
    if os.environ.get("FAILPOINT") == name:
        os._exit(137)
    pause = _SLEEPS.get(name)
    if pause:
        time.sleep(pause)
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
