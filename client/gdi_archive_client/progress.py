"""A small progress bar on stderr (only when stderr is a terminal, unless forced)."""

import os
import sys
import threading
import time


def human_size(n: float | None) -> str:
    """Bytes as people read them, the way the archive's web pages show them (1 KB = 1024 bytes)."""
    if n is None:
        return ""
    n = float(n)
    if abs(n) < 1024:
        return "1 byte" if int(n) == 1 else f"{int(n)} bytes"
    for unit in ("KB", "MB", "GB", "TB"):
        n /= 1024
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.1f} {unit}"
    return f"{n:.1f} TB"  # not reached


class Progress:
    def __init__(self, total: int | None, label: str, done: int = 0):
        self.total = total
        self.label = label
        self.done = done
        self.started = time.monotonic()
        self.first = done
        self.enabled = sys.stderr.isatty() or os.environ.get("GDI_ARCHIVE_PROGRESS") == "1"
        self._lock = threading.Lock()
        self._last = 0.0

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if self.enabled and now - self._last > 0.2:
                self._last = now
                self._draw(now)

    def _draw(self, now: float) -> None:
        rate = (self.done - self.first) / max(now - self.started, 1e-6)
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            text = f"\r{self.label} [{bar:<30}] {share * 100:5.1f}% {human_size(self.done)}/{human_size(self.total)} {human_size(rate)}/s"
        else:
            text = f"\r{self.label} {human_size(self.done)} {human_size(rate)}/s"
        sys.stderr.write(text)
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()
