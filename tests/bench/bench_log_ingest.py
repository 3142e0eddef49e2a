"""Log pane under a flood: 50,000 lines/s for 20 s into the pane of a headless app.

What is measured (``python -m tests.bench.bench_log_ingest [--quick]``):
- event-loop stalls: a probe task sleeps 5 ms in a loop; a stall is how late it wakes.
  Target p99 <= 16.7 ms (one frame at 60 Hz).
- key handling: every 150 ms a key (pause/follow, page up/down, end, next error, next
  match) is posted to the app the way the terminal driver posts it; latency is from
  the post to the key's action having run. Target p99 <= 20 ms. Also shown: from the
  post to the next screen refresh after it (key_to_paint), which adds up to a frame.
- memory: RSS sampled each second; "flat" = growth from the moment the cap is full to
  the end. Target <= 150 MB after 1,000,000 lines (20 s x 50k = 1,000,000).
Lines arrive like the hub sends them: one event per host every 20 ms, three hosts,
timestamps interleaved so the merge has work to do; 1 line in 2,000 is an ERROR.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

from textual import events
from textual.app import App, ComposeResult

from runners.events import LogLines
from tui.widgets.log_view import LogPane, LogView

RATE = 50_000
HOSTS = ("cam-01", "cam-02", "cam-03")
TICK = 0.02  # the hub's coalescing interval


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class TimedLogView(LogView):
    """Records when key actions run, and when the screen refreshed after them."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.key_posted: float | None = None
        self.key_latencies: list[float] = []
        self.key_action_latencies: list[float] = []

    def _key_done(self) -> None:
        if self.key_posted is None:
            return
        posted = self.key_posted
        self.key_posted = None
        self.key_action_latencies.append(time.perf_counter() - posted)
        self.call_after_refresh(lambda: self.key_latencies.append(time.perf_counter() - posted))

    def action_toggle_follow(self) -> None:
        super().action_toggle_follow()
        self._key_done()

    def action_follow(self) -> None:
        super().action_follow()
        self._key_done()

    def action_next_error(self, direction: int) -> None:
        super().action_next_error(direction)
        self._key_done()

    def action_find(self, direction: int) -> None:
        super().action_find(direction)
        self._key_done()

    def action_page_up(self) -> None:
        super().action_page_up()
        self._key_done()

    def action_page_down(self) -> None:
        super().action_page_down()
        self._key_done()


class BenchPane(LogPane):
    def compose(self) -> ComposeResult:
        from textual.widgets import Input, Static

        yield Static("", id="log-status")
        yield TimedLogView(id="log-view", **self._view_args)
        yield Input(id="log-prompt")


class BenchApp(App):
    def __init__(self, gc_freeze: bool = False):
        super().__init__()
        self.gc_freeze = gc_freeze

    def compose(self) -> ComposeResult:
        yield BenchPane(cap=100_000)

    def on_mount(self) -> None:
        if self.gc_freeze:
            # What an App can do once started: its ~45k long-lived objects (widgets, CSS,
            # bindings) leave the collector's view, so full collections stay short.
            import gc

            self.call_after_refresh(gc.freeze)


async def _probe(stalls: list[float], busy: list[float], stop: asyncio.Event) -> None:
    """How late a 5 ms sleep wakes (wall clock), and how much of that lateness this
    process spent computing (thread CPU time): on a shared machine the difference is time
    the OS gave to other processes, which no UI code can prevent."""
    period = 0.005
    while not stop.is_set():
        t, c = time.perf_counter(), time.thread_time()
        await asyncio.sleep(period)
        late = max(0.0, time.perf_counter() - t - period)
        stalls.append(late)
        busy.append(min(late, max(0.0, time.thread_time() - c - 0.0005)))


async def _produce(view: LogView, seconds: float, rate: int, sent: list[int]) -> None:
    per_tick_total = int(round(rate * TICK))
    split = [per_tick_total // len(HOSTS) + (1 if i < per_tick_total % len(HOSTS) else 0) for i in range(len(HOSTS))]
    t0 = time.perf_counter()
    n = 0
    for tick in range(1, int(round(seconds / TICK)) + 1):  # exactly rate x seconds lines
        now = time.time()
        for hi, host in enumerate(HOSTS):
            per_tick = split[hi]
            # hosts' clocks interleave within the tick: the merge inserts near the end
            base = now - 0.05 + hi * 0.003
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(base)) + f",{int(base * 1000) % 1000:03d}"
            lines = tuple(
                f"{stamp} {'ERROR' if (n + i) % 2000 == 0 else 'INFO'} camera_service.api: frame seq={n + i} "
                f"device=camera{hi} bytes=48211 request_id=r{(n + i) % 977}"
                for i in range(per_tick))
            n += per_tick
            view.ingest(LogLines(host=host, source="camera-service", lines=lines))
        sent[0] = n
        await asyncio.sleep(max(0.0, t0 + tick * TICK - time.perf_counter()))


async def _keys(app: App, view: TimedLogView, stop: asyncio.Event) -> None:
    seq = [("f", "f"), ("pageup", None), ("pagedown", None), ("e", "e"), ("n", "n"), ("end", None)]
    i = 0
    while not stop.is_set():
        await asyncio.sleep(0.15)
        key, char = seq[i % len(seq)]
        i += 1
        if view.key_posted is not None:
            continue  # the previous key has not been handled yet (counted via the backlog)
        view.key_posted = time.perf_counter()
        app.post_message(events.Key(key, char))


async def measure(seconds: float, rate: int = RATE, gc_freeze: bool = False) -> dict:
    app = BenchApp(gc_freeze)
    async with app.run_test(size=(160, 50)) as pilot:
        view = app.query_one(TimedLogView)
        view.focus()
        view.set_search("seq=\\d*00 ")  # "n" jumps between frequent matches (set before timing)
        stalls: list[float] = []
        busy: list[float] = []
        stop = asyncio.Event()
        load0 = os.getloadavg()[0]
        cpu0 = time.process_time()
        sent = [0]
        rss: list[tuple[float, float, int]] = []
        t0 = time.perf_counter()
        probe = asyncio.create_task(_probe(stalls, busy, stop))
        keys = asyncio.create_task(_keys(app, view, stop))

        async def sample() -> None:
            while not stop.is_set():
                rss.append((time.perf_counter() - t0, rss_mb(), view.buffer.total))
                await asyncio.sleep(1.0)

        sampler = asyncio.create_task(sample())
        await _produce(view, seconds, rate, sent)
        # drain what is still queued (the pane catches up), then stop the probes
        while view._pending:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        stop.set()
        await asyncio.gather(probe, keys, sampler)
        await pilot.pause()
        rss.append((time.perf_counter() - t0, rss_mb(), view.buffer.total))
        buf = view.buffer
        cap_at = next((r for r in rss if r[2] >= buf.cap), rss[-1])
        return {
            "lines_sent": sent[0],
            "lines_in_buffer": len(buf),
            "lines_dropped_by_cap": buf.evicted + view.dropped_pending,
            "ingest_lines_per_s": round(sent[0] / elapsed),
            "flushes_per_s": round(view.flushes / elapsed, 1),
            "stall_p50_ms": round(statistics.median(stalls) * 1000, 2),
            "stall_p99_ms": round(pct(stalls, 99) * 1000, 2),
            "stall_max_ms": round(max(stalls) * 1000, 2),
            "stall_busy_p99_ms": round(pct(busy, 99) * 1000, 2),
            "process_cpu_pct": round(100 * cpu / elapsed, 1),
            "machine_load_avg": round(max(load0, os.getloadavg()[0]), 2),
            "key_presses": len(view.key_latencies),
            "key_p50_ms": round(statistics.median(view.key_action_latencies) * 1000, 2),
            "key_p99_ms": round(pct(view.key_action_latencies, 99) * 1000, 2),
            "key_to_paint_p99_ms": round(pct(view.key_latencies, 99) * 1000, 2),
            "rss_at_cap_mb": round(cap_at[1], 1),
            "rss_end_mb": round(rss[-1][1], 1),
            "rss_growth_after_cap_mb": round(rss[-1][1] - cap_at[1], 1),
        }


def run(quick: bool = False, gc_freeze: bool = False) -> dict:
    seconds = 5.0 if quick else 20.0
    figures = asyncio.run(measure(seconds, gc_freeze=gc_freeze))
    figures["gc_freeze"] = gc_freeze
    targets = {"stall_p99_ms": "<= 16.7", "key_p99_ms": "<= 20", "rss_end_mb": "<= 150 after 1,000,000 lines",
               "machine_load_avg": f"(informative: {os.cpu_count()} CPUs; above that, other processes compete)",
               "ingest_lines_per_s": f">= {int(RATE * 0.95):,}", "rss_growth_after_cap_mb": "<= 15 (flat)"}
    ok = (figures["stall_p99_ms"] <= 16.7 and figures["key_p99_ms"] <= 20
          and figures["ingest_lines_per_s"] >= RATE * 0.95 and figures["rss_end_mb"] <= 150
          and figures["rss_growth_after_cap_mb"] <= 15 and figures["key_presses"] >= seconds * 3)
    if quick:
        figures["note"] = "quick run: 5 s (250,000 lines); the memory target applies to the full 20 s run"
    return {"name": "log_ingest", "figures": figures, "targets": targets, "ok": ok}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="5 s instead of 20 s")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="call gc.freeze() after the first frame, as an App may (compare with/without)")
    args = ap.parse_args()
    res = run(args.quick, gc_freeze=args.gc_freeze)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    print(f"{res['name']}  (pid {os.getpid()}, {os.cpu_count()} CPUs)")
    for k, v in res["figures"].items():
        t = res["targets"].get(k, "")
        print(f"  {k:28} {v!s:>14}   {('target ' + t) if t else ''}")
    print("PASS" if res["ok"] else "FAIL")


if __name__ == "__main__":
    main()
