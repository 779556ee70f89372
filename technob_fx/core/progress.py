"""Progress reporting: callbacks in the API, bars on the CLI.

Long-running functions take ``progress: Callable[[float, str], None] | None``; they call it with
the fraction done in ``[0, 1]`` and a short message. The CLI passes :func:`bar`'s callback.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

ProgressCallback = Callable[[float, str], None]


@contextlib.contextmanager
def bar(desc: str, *, enabled: bool | None = None) -> Iterator[ProgressCallback]:
    """A tqdm progress bar on stderr as a progress callback (disabled when not a TTY)."""
    from tqdm import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    with tqdm(total=1000, desc=desc, disable=not enabled, unit="‰", leave=False,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}") as t:

        def callback(fraction: float, message: str = "") -> None:
            t.n = int(max(0.0, min(1.0, fraction)) * 1000)
            if message:
                t.set_postfix_str(message, refresh=False)
            t.refresh()

        yield callback


def scaled(callback: ProgressCallback | None, start: float, end: float) -> ProgressCallback | None:
    """Map a sub-task's ``[0, 1]`` progress onto ``[start, end]`` of the parent's."""
    if callback is None:
        return None

    def inner(fraction: float, message: str = "") -> None:
        callback(start + (end - start) * fraction, message)

    return inner
