"""Sweep progress: a tqdm bar (runs done / total, ETA) when the stream is a terminal, else one plain log
line per finished run (for batch jobs and CI logs), or nothing."""

from __future__ import annotations

import sys
import time


def _fmt_seconds(s: float) -> str:
    if s != s or s == float("inf"):
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


class Progress:
    """mode: "bar", "log" or "off"; None picks "bar" on a terminal, else "log"."""

    def __init__(self, total: int, done: int, *, mode: str | None = None, stream=None, desc: str = "sweep"):
        self.stream = sys.stderr if stream is None else stream
        if mode is None:
            isatty = getattr(self.stream, "isatty", None)
            mode = "bar" if callable(isatty) and isatty() else "log"
        if mode not in ("bar", "log", "off"):
            raise ValueError(f"progress: unknown mode {mode!r}; expected 'bar', 'log' or 'off'")
        self.mode, self.total, self.done = mode, total, done
        self.start_done, self.t0 = done, time.perf_counter()
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=done, desc=desc, unit="run", file=self.stream, dynamic_ncols=True, smoothing=0.1
            )

    def message(self, text: str) -> None:
        if self.mode == "off":
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def update(self, run_id: str, status: str, wall_time: float, note: str = "") -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            if status != "done":
                self.bar.set_postfix_str(f"last {status}: {run_id}", refresh=False)
            return
        if self.mode == "log":
            ran = self.done - self.start_done
            elapsed = time.perf_counter() - self.t0
            eta = elapsed / ran * (self.total - self.done) if ran else float("nan")
            width = len(str(self.total))
            print(
                f"[{self.done:>{width}}/{self.total}] {run_id} {status:<8} {wall_time:7.2f}s  "
                f"eta {_fmt_seconds(eta)}" + (f"  {note}" if note else ""),
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
