"""Bounded load for the reliability rows: requests released together by a barrier, and a
paced stream (N requests per second for S seconds) whose every answer is recorded.

Every loop here ends: a fixed number of requests, client timeouts, bounded joins."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

CLIENT_TIMEOUT = 10.0


@dataclass
class Answer:
    """One request as the client saw it."""

    index: int
    sent_at: float  # seconds since the load started
    seconds: float
    status: int | None  # None: no HTTP answer (connection refused, timeout)
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    error: str = ""


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def _json_or_none(response: httpx.Response) -> dict | None:
    try:
        value = response.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def send(client: httpx.Client, index: int, started: float, request: Callable[[httpx.Client, int], httpx.Response]) -> Answer:
    began = time.monotonic()
    try:
        response = request(client, index)
    except httpx.HTTPError as exc:
        return Answer(index, began - started, time.monotonic() - began, None, error=repr(exc))
    return Answer(
        index, began - started, time.monotonic() - began, response.status_code,
        _json_or_none(response), dict(response.headers),
    )


def fire_together(base_url: str, count: int, request: Callable[[httpx.Client, int], httpx.Response]) -> list[Answer]:
    """`count` threads, one connection each, released at once by a barrier."""
    clients = [httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) for _ in range(count)]
    try:
        for client in clients:
            # Open every connection first: the barrier then releases requests, not handshakes.
            client.get("/healthz")
        barrier = threading.Barrier(count)
        answers: list[Answer | None] = [None] * count
        started = time.monotonic()

        def worker(i: int) -> None:
            barrier.wait(timeout=15)
            answers[i] = send(clients[i], i, started, request)

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT + 20)
        assert all(a is not None for a in answers), "a request thread did not finish"
        return answers  # type: ignore[return-value]
    finally:
        for client in clients:
            client.close()


def fire_burst(
    base_url: str, count: int, request: Callable[[httpx.Client, int], httpx.Response], *, connections: int = 8
) -> list[Answer]:
    """`count` requests over `connections` keep-alive connections, released at once by a
    barrier: each connection then sends its share back to back, so the server sees as many
    requests in flight as it has connections, for the whole burst."""
    clients = [httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) for _ in range(connections)]
    try:
        for client in clients:
            client.get("/healthz")
        barrier = threading.Barrier(connections)
        answers: list[Answer | None] = [None] * count
        started = time.monotonic()

        def worker(c: int) -> None:
            barrier.wait(timeout=15)
            for i in range(c, count, connections):
                answers[i] = send(clients[c], i, started, request)

        threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in range(connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT * 2 + 20)
        assert all(a is not None for a in answers), "a request thread did not finish"
        return answers  # type: ignore[return-value]
    finally:
        for client in clients:
            client.close()


def run_together(calls: list[Callable[[], object]], *, timeout: float = CLIENT_TIMEOUT + 20) -> list:
    """Call each function in its own thread, released at once by a barrier; return their
    results in order, or raise the first exception one of them raised."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    failures: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=15)
            results[i] = calls[i]()
        except BaseException as exc:  # re-raised by the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if failures:
        raise failures[0]
    assert not any(t.is_alive() for t in threads), "a racing call did not finish"
    return results


def paced(
    base_url: str,
    request: Callable[[httpx.Client, int], httpx.Response],
    *,
    rate: float,
    seconds: float,
    concurrency: int = 8,
    during: Callable[[float], None] | None = None,
) -> list[Answer]:
    """Send `rate` requests per second for `seconds` (request i is due at i / rate) from
    `concurrency` connections. `during(elapsed)` is called about every 50 ms from the
    main thread, so a test can inject a fault at a chosen second."""
    total = int(rate * seconds)
    next_index = itertools.count()
    lock = threading.Lock()
    answers: list[Answer] = []
    started = time.monotonic()

    def worker() -> None:
        with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) as client:
            while True:
                with lock:
                    i = next(next_index)
                if i >= total:
                    return
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                answer = send(client, i, started, request)
                with lock:
                    answers.append(answer)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    deadline = started + seconds + CLIENT_TIMEOUT + 30
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        if during is not None:
            during(time.monotonic() - started)
        time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "the load did not finish in time"
    return sorted(answers, key=lambda a: a.index)


def latency_summary(answers: list[Answer]) -> str:
    seconds = [a.seconds for a in answers]
    return (
        f"{len(answers)} requests, p50 {percentile(seconds, 50) * 1000:.0f} ms, "
        f"p99 {percentile(seconds, 99) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms"
    )
