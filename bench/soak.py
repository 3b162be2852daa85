"""Memory soak (`bench/run.py --only soak`): 100,000 ingest requests through nginx -> gunicorn,
with a celery worker and beat running as the Procfile runs them, while the resident memory of
every gunicorn process and every celery process is sampled.

The load is a mix, run in chunks of a few seconds by three wrk processes at once (8 clients in
all): new triggers (`ingest.lua new`, 2 clients), repeats of one hot key (`ingest.lua dup`, 2
clients) and trigger / acknowledge / resolve cycles (`bench/lua/mixed.lua`, 4 clients). wrk is
duration-based, so chunks run until the request count is reached; every process is sampled
after each chunk (RSS from /proc/<pid>/status, USS = private pages from
/proc/<pid>/smaps_rollup). The first 5,000 requests are a warm-up (imports, caches, pymalloc
arenas, the first plans) and are not counted.

Per process: RSS and USS at the start and the end, the maximum, and the slope of a least-squares
line through the samples in KiB per 10,000 requests, over the whole run and over its second
half (growth that levels off shows in the first, not in the second). A process grows when its
RSS slope over the whole run exceeds GROWTH_KIB_PER_10K: 256 KiB per 10k requests is about 26
bytes per request, less than one leaked Python object per request (an empty dict is 64 bytes),
and more than the few pages that arena reuse moves either way."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.page import _celery
from bench.stack import children, floor_dir, run_wrk
from tests.reliability.harness import REPO, _stop_process, wait_until

LUA = REPO / "bench" / "lua"
GROWTH_KIB_PER_10K = 256
CHUNK_SECONDS = 5
# (name, script, clients, args after the key: the prefix is appended per chunk unless fixed)
MIX = (("new", "ingest", 2), ("dup", "ingest", 2), ("mixed", "mixed", 4))


def memory_kib(pid: int) -> tuple[int, int] | None:
    """(RSS, USS) in KiB, None when the process is gone. USS is what the process alone holds:
    private clean + private dirty pages (a forked worker shares its parent's pages until it
    writes them, so RSS counts those twice across workers; USS does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    uss = sum(int(line.split()[1]) for line in rollup.splitlines()
              if line.startswith(("Private_Clean:", "Private_Dirty:")))
    return rss, uss


def slope_per_10k(points: list[tuple[int, int]]) -> float | None:
    """Least-squares slope of KiB over requests, in KiB per 10,000 requests."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return round(cov / var * 10_000, 1)


@dataclass
class Series:
    """The samples of one process: (requests so far, RSS KiB, USS KiB)."""

    label: str
    pid: int
    samples: list[tuple[int, int, int]] = field(default_factory=list)

    def summary(self) -> dict:
        rss = [(n, r) for n, r, _ in self.samples]
        uss = [(n, u) for n, _, u in self.samples]
        half = self.samples[-1][0] / 2 if self.samples else 0
        slope = slope_per_10k(rss)
        return {
            "process": self.label, "pid": self.pid, "samples": len(self.samples),
            "rss_start_kib": rss[0][1], "rss_end_kib": rss[-1][1], "rss_max_kib": max(r for _, r in rss),
            "uss_start_kib": uss[0][1], "uss_end_kib": uss[-1][1], "uss_max_kib": max(u for _, u in uss),
            "rss_slope_kib_per_10k": slope,
            "rss_slope_second_half_kib_per_10k": slope_per_10k([p for p in rss if p[0] >= half]),
            "uss_slope_kib_per_10k": slope_per_10k(uss),
            "grows": slope is not None and slope > GROWTH_KIB_PER_10K,
        }


class Sampler:
    """Finds the processes to watch once (after the warm-up) and samples them on demand.
    A process that disappears (a worker killed and replaced) is reported, not hidden."""

    def __init__(self, roots: dict[str, int]):
        self.series: list[Series] = []
        for name, root in roots.items():
            self.series.append(Series(f"{name} main", root))
            for pid in sorted(children(root)):
                self.series.append(Series(f"{name} child", pid))
        self.roots = roots
        self.replaced: list[str] = []

    def sample(self, requests: int) -> None:
        for series in self.series:
            got = memory_kib(series.pid)
            if got is None:
                if series.label not in self.replaced:
                    self.replaced.append(f"{series.label} {series.pid}")
                continue
            series.samples.append((requests, *got))

    def children_now(self) -> dict[str, list[int]]:
        return {name: sorted(children(root)) for name, root in self.roots.items()}


def _chunk(base_url: str, key: str, run: str, chunk: int) -> dict:
    """One chunk: the three wrk processes of MIX at once; their summed counts."""
    scripts = {"ingest": floor_dir() / "ingest.lua", "mixed": LUA / "mixed.lua"}
    results: dict[str, dict] = {}

    def one(name: str, script: str, clients: int) -> None:
        # dup keeps one key for the whole soak (a repeat); new and mixed get fresh keys per chunk.
        prefix = f"{run}soak" if name == "dup" else f"{run}s{chunk}"
        args = [key, prefix] if script == "mixed" else ["pd", name, key, prefix]
        results[name] = run_wrk(base_url + "/v2/enqueue", scripts[script], args, clients=clients,
                                seconds=CHUNK_SECONDS)

    threads = [threading.Thread(target=one, args=spec) for spec in MIX]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(results) != len(MIX):
        raise RuntimeError("a wrk run of the soak failed")
    errors = sum(r["non2xx"] + r["sock_connect"] + r["sock_read"] + r["sock_write"] + r["sock_timeout"]
                 for r in results.values())
    return {"requests": sum(r["requests"] for r in results.values()), "errors": errors,
            "by_scenario": {name: r["requests"] for name, r in results.items()}}


def soak(env: dict, base_url: str, gunicorn_pid: int, key: str, workdir: Path, *, run: str,
         requests: int = 100_000, warm_up: int = 5_000, max_seconds: float = 900) -> dict:
    """Run the soak; return its summary (one dict per process under "processes")."""
    worker = _celery(["worker", "--loglevel=INFO", "--concurrency=2"], env, workdir / "soak-worker.log")
    beat = _celery(["beat", "--loglevel=INFO", "--schedule", str(workdir / "soak-beat-schedule")], env,
                   workdir / "soak-beat.log")
    chunk = 0
    warmed = errors = 0
    by_scenario = {name: 0 for name, _, _ in MIX}
    try:
        # The pool's children fork once the worker has booted: forking moves the parent's pages
        # from private to shared, so sampling before it would show the parent shrinking.
        wait_until(lambda: len(children(worker.pid)) >= 2, timeout=120, what="celery worker pool", interval=0.5)
        while warmed < warm_up:
            chunk += 1
            got = _chunk(base_url, key, run, chunk)
            warmed += got["requests"]
            errors += got["errors"]
        sampler = Sampler({"gunicorn": gunicorn_pid, "celery worker": worker.pid, "celery beat": beat.pid})
        before = sampler.children_now()
        sampler.sample(0)
        done = 0
        started = time.monotonic()
        load_averages = [round(os.getloadavg()[0], 2)]
        while done < requests and time.monotonic() - started < max_seconds:
            chunk += 1
            got = _chunk(base_url, key, run, chunk)
            done += got["requests"]
            errors += got["errors"]
            for name, count in got["by_scenario"].items():
                by_scenario[name] += count
            sampler.sample(done)
            if chunk % 10 == 0:
                load_averages.append(round(os.getloadavg()[0], 2))
                print(f"    soak: {done:,} requests, {time.monotonic() - started:.0f} s, load average "
                      f"{load_averages[-1]}", flush=True)
        elapsed = time.monotonic() - started
        after = sampler.children_now()
    finally:
        _stop_process(beat)
        _stop_process(worker)
    processes = [s.summary() for s in sampler.series if s.samples]
    return {
        "requests": done, "warm_up_requests": warmed, "seconds": round(elapsed, 1),
        "rps": round(done / max(elapsed, 0.001), 1), "errors": errors, "by_scenario": by_scenario,
        "complete": done >= requests, "growth_threshold_kib_per_10k": GROWTH_KIB_PER_10K,
        "load_average": {"start": load_averages[0], "max": max(load_averages), "end": load_averages[-1]},
        "processes_replaced": sampler.replaced + [f"{name}: {before[name]} -> {after[name]}"
                                                  for name in before if before[name] != after[name]],
        "processes": processes, "grows": [p["process"] + f" {p['pid']}" for p in processes if p["grows"]],
    }


def print_soak(result: dict) -> None:
    head = (f"{'process':22} {'pid':>7} {'RSS start':>10} {'end':>8} {'max':>8} {'slope/10k':>10} "
            f"{'2nd half':>9} {'USS start':>10} {'end':>8} {'slope/10k':>10}  grows")
    print(f"\nsoak: {result['requests']:,} requests after {result['warm_up_requests']:,} warm-up, "
          f"{result['seconds']} s ({result['rps']} req/s), errors {result['errors']}, mix {result['by_scenario']}, "
          f"load average {result['load_average']}; KiB, slopes in KiB per 10k requests, growth flagged over "
          f"{result['growth_threshold_kib_per_10k']}")
    print(head + "\n" + "-" * len(head))
    for p in result["processes"]:
        print(f"{p['process']:22} {p['pid']:>7} {p['rss_start_kib']:>10} {p['rss_end_kib']:>8} {p['rss_max_kib']:>8} "
              f"{p['rss_slope_kib_per_10k']!s:>10} {p['rss_slope_second_half_kib_per_10k']!s:>9} "
              f"{p['uss_start_kib']:>10} {p['uss_end_kib']:>8} {p['uss_slope_kib_per_10k']!s:>10}  "
              f"{'YES' if p['grows'] else 'no'}")
    if result["processes_replaced"]:
        print(f"processes replaced during the soak: {result['processes_replaced']}")
