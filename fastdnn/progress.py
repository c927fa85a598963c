"""Training progress on stderr: epoch (and step), percentage, current cost, speed, ETA.

On a terminal it is one line rewritten in place (carriage return); into a
file or pipe it prints a plain line every ``interval`` seconds (and at the
end), so logs stay readable.
"""
from __future__ import annotations

import sys
import time

__all__ = ["Progress", "format_seconds"]


def format_seconds(s):
    """'4.2s', '3m07s', '1h02m'."""
    if s != s or s < 0:  # nan
        return "?"
    if s < 60:
        return f"{s:.1f}s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m}m{sec:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class Progress:
    """Report training progress from ``start`` to ``total`` iterations.

    ``update(iteration, cost)`` after each chunk of work; ``message(text)``
    prints a line of its own without garbling the progress line;
    ``close()`` finishes the line.  The ETA is the remaining iterations
    times the mean time per iteration since the first update after the
    start (so one-off setup in the first iterations does not inflate it).
    """

    def __init__(self, start, total, stream=None, interval=None, enabled=True,
                 steps_per_epoch=1):
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.1 if self.tty else 5.0)
        self.start = int(start)
        self.total = int(total)
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self._last = -float("inf")
        self._shown = False
        self.iteration = self.start
        self.cost = None
        self._base = None           # (time, iteration) of the first update past start
        self.steps_per_epoch = int(steps_per_epoch)

    def _line(self):
        now = time.perf_counter()
        elapsed = now - self.t0
        pct = 100.0 * self.iteration / self.total if self.total else 100.0
        parts = [f"epoch {self.iteration}/{self.total}", f"{pct:3.0f}%"]
        if self.steps_per_epoch > 1:
            parts.append(f"step {self.iteration * self.steps_per_epoch}/"
                         f"{self.total * self.steps_per_epoch}")
        if self.cost is not None:
            parts.append(f"cost {self.cost:.6f}")
        if self._base is not None and self.iteration > self._base[1]:
            per = (now - self._base[0]) / (self.iteration - self._base[1])
            parts.append(f"{per * 1e3:.2f} ms/epoch")
            parts.append(f"ETA {format_seconds(per * (self.total - self.iteration))}")
        parts.append(f"elapsed {format_seconds(elapsed)}")
        return "  ".join(parts)

    def _write(self, text):
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._shown = True

    def update(self, iteration, cost=None, force=False):
        self.iteration = int(iteration)
        if self._base is None and self.iteration > self.start:
            self._base = (time.perf_counter(), self.iteration)
        if cost is not None:
            self.cost = float(cost)
        if not self.enabled:
            return
        now = time.perf_counter()
        if force or now - self._last >= self.interval:
            self._last = now
            self._write(self._line())

    def message(self, text, stream=None):
        """Print ``text`` on its own line (to ``stream``, default stdout)."""
        out = sys.stdout if stream is None else stream
        if self.enabled and self.tty and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        print(text, file=out, flush=True)
        if self.enabled and self.tty and self._shown:
            self._write(self._line())

    def close(self):
        if not self.enabled:
            return
        self.update(self.iteration, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
