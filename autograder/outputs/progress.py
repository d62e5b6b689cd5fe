"""A dependency-free progress line for long grading runs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 100  # columns a redrawn line may use
BAR = 20  # characters in the bar


def format_duration(seconds: float) -> str:
    """``m:ss`` below an hour, ``h:mm:ss`` above."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Reports progress through ``total`` items.

    On a terminal one line is redrawn in place (bar, count, percent, elapsed time, ETA, note);
    otherwise one plain line is printed per finished item, which reads well in logs.

    Args:
        total: Number of items.
        stream: Where to write (``sys.stderr`` when None).
        label: Printed first on every line.
        clock: Seconds as a float; injectable for tests.
    """

    def __init__(self, total: int, stream: TextIO | None = None, label: str = "grading",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.clock = clock
        self.done = 0
        self.start = clock()
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self._drawn = 0  # length of the line on screen, to blank leftovers when redrawing
        if self.tty:
            self._draw("")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def eta(self) -> float | None:
        """Seconds left at the average time per finished item, or None before the first."""
        if not self.done:
            return None
        elapsed = self.clock() - self.start
        return elapsed / self.done * max(self.total - self.done, 0)

    def _figures(self) -> str:
        percent = 100 * self.done // self.total if self.total else 100
        eta = self.eta()
        return (f"{percent}% elapsed {format_duration(self.clock() - self.start)} "
                f"ETA {'--' if eta is None else format_duration(eta)}")

    def status(self, note: str = "") -> str:
        """The plain status line: ``grading [3/100] 3% elapsed 0:05 ETA 2:40 note``."""
        parts = [self.label, f"[{self.done}/{self.total}]", self._figures(), note]
        return " ".join(p for p in parts if p)

    def advance(self, note: str = "") -> None:
        """Counts one finished item and reports it.

        Args:
            note: What just finished (for example the student id).
        """
        self.done += 1
        if self.tty:
            self._draw(note)
        else:
            self.stream.write(self.status(note) + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Ends the redrawn line (a no-op when not on a terminal or already closed)."""
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0

    def _draw(self, note: str) -> None:
        filled = min(BAR * self.done // self.total if self.total else BAR, BAR)
        bar = "[" + "#" * filled + "." * (BAR - filled) + "]"
        parts = [self.label, bar, f"{self.done}/{self.total}", self._figures()]
        line = " ".join(p for p in parts if p)
        room = WIDTH - len(line) - 1
        if note and room > 0:
            line += " " + (note if len(note) <= room else note[: max(room - 3, 0)] + "...")
        line = line[:WIDTH]
        self.stream.write("\r" + line.ljust(self._drawn))
        self.stream.flush()
        self._drawn = len(line)
