"""Progress reporting: callbacks in the API, a bar or log lines on the CLI.

Long-running functions take ``progress: Callable[[float, str], None] | None``; they call it with
the fraction done in ``[0, 1]`` and a short message. The CLI passes :func:`bar`'s callback: a tqdm
bar on a terminal, and plain lines (at least one every ``interval`` seconds, also while a step
reports nothing) when stderr is a log file or a CI pipe.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

ProgressCallback = Callable[[float, str], None]


class LineProgress:
    """Progress as log lines for output that is not a terminal (logs, CI).

    A line is written at the first report, when the step changes (the message other than its
    numbers; at most one line a second), when
    ``interval`` seconds have passed since the last line, and by a heartbeat thread when a step
    stays silent for ``interval`` seconds, so a log never goes quiet for longer than that while
    work goes on. A failed run writes no closing line (its error message says what happened).

    Parameters
    ----------
    desc : str
        What is running, at the start of each line.
    stream : file, optional
        Where to write (default ``sys.stderr``).
    interval : float
        Longest silence between two lines, seconds.
    """

    def __init__(self, desc: str, stream: TextIO | None = None, interval: float = 5.0) -> None:
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.interval = float(interval)
        self.fraction = 0.0
        self.message = ""
        self.lines = 0
        self._t0 = time.monotonic()
        self._last = self._t0  # time of the last line (the start counts for the heartbeat)
        self._printed_message: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _line(self, suffix: str = "") -> None:
        elapsed = time.monotonic() - self._t0
        msg = f" {self.message}" if self.message else ""
        with contextlib.suppress(ValueError, OSError):  # a closed stream must not break the work
            self.stream.write(f"{self.desc}: {self.fraction * 100:3.0f}%{msg} [{elapsed:.0f} s]{suffix}\n")
            self.stream.flush()
        self._last = time.monotonic()
        self._printed_message = self.message
        self.lines += 1

    def __call__(self, fraction: float, message: str = "") -> None:
        with self._lock:
            self.fraction = max(0.0, min(1.0, float(fraction)))
            if message:
                self.message = message
            since = time.monotonic() - self._last
            if (self.lines == 0 or since >= self.interval
                    or (_kind(self.message) != _kind(self._printed_message) and since >= 1.0)):
                self._line()

    def _beat(self) -> None:
        while not self._stop.wait(min(1.0, self.interval / 4)):
            with self._lock:
                if time.monotonic() - self._last >= self.interval:
                    self._line(" working")

    def start(self) -> LineProgress:
        """Start the heartbeat thread."""
        self._thread = threading.Thread(target=self._beat, name=f"progress:{self.desc}", daemon=True)
        self._thread.start()
        return self

    def close(self, ok: bool = True) -> None:
        """Stop the heartbeat; after a run that wrote lines, write the closing ``done`` line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if ok and self.lines:
                self.fraction = 1.0
                self._line(" done")


def _kind(message: str | None) -> str | None:
    """A message without its numbers: "HPSS 4/53 s" and "HPSS 7/53 s" are one step, not two."""
    return None if message is None else re.sub(r"[-+]?\d[\d.,:/%]*", "#", message)


@contextlib.contextmanager
def bar(
    desc: str,
    *,
    enabled: bool | None = None,
    stream: TextIO | None = None,
    interval: float = 5.0,
) -> Iterator[ProgressCallback]:
    """Progress on stderr as a progress callback.

    Parameters
    ----------
    desc : str
        What is running.
    enabled : bool, optional
        ``None`` (default): a tqdm bar on a terminal, :class:`LineProgress` lines otherwise;
        ``True``: always the bar; ``False``: nothing (``--quiet``).
    stream : file, optional
        Where to write (default ``sys.stderr``).
    interval : float
        Without a terminal: the longest silence between two lines, seconds.
    """
    out = stream if stream is not None else sys.stderr
    if enabled is False:
        yield lambda fraction, message="": None
        return
    if enabled is None and not _isatty(out):
        lines = LineProgress(desc, out, interval).start()
        ok = False
        try:
            yield lines
            ok = True
        finally:
            lines.close(ok)
        return
    from tqdm import tqdm

    with tqdm(total=1000, desc=desc, unit="‰", leave=False, file=out,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}") as t:

        def callback(fraction: float, message: str = "") -> None:
            t.n = int(max(0.0, min(1.0, fraction)) * 1000)
            if message:
                t.set_postfix_str(message, refresh=False)
            t.refresh()

        yield callback


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def scaled(callback: ProgressCallback | None, start: float, end: float) -> ProgressCallback | None:
    """Map a sub-task's ``[0, 1]`` progress onto ``[start, end]`` of the parent's."""
    if callback is None:
        return None

    def inner(fraction: float, message: str = "") -> None:
        callback(start + (end - start) * fraction, message)

    return inner
