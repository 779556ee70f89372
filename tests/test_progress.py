"""Progress without a terminal: log lines, at least one every ``interval`` seconds, also while a
step reports nothing; a bar on a terminal; nothing with ``enabled=False``."""

from __future__ import annotations

import io
import threading
import time

import pytest

from technob_fx.core.progress import bar


class Log(io.StringIO):
    """A log file: not a terminal; thread-safe enough for reading lines back."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, s: str) -> int:
        with self.lock:
            return super().write(s)

    def lines(self) -> list[str]:
        with self.lock:
            return self.getvalue().splitlines()


def _wait_for(pred, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_log_lines_keep_coming_while_a_step_is_silent():
    log = Log()
    with bar("analyze x.wav", stream=log, interval=0.2) as cb:
        cb(0.1, "beats")
        assert log.lines() == ["analyze x.wav:  10% beats [0 s]"]
        cb(0.12, "beats")  # the same step again within the interval: no new line
        assert len(log.lines()) == 1
        # a step that reports nothing for a while: the heartbeat writes for it
        assert _wait_for(lambda: len(log.lines()) >= 3)
        assert all(line.endswith("working") for line in log.lines()[1:3])
    assert log.lines()[-1].startswith("analyze x.wav: 100% beats") and log.lines()[-1].endswith("done")


def test_numbers_in_a_message_do_not_make_a_new_step():
    log = Log()
    with bar("hpss", stream=log, interval=60.0) as cb:
        for i in range(50):
            cb(i / 50, f"HPSS {i}/50 s")
        cb(0.99, "writing")
        assert len(log.lines()) == 1  # a new step, but within a second of the last line
        time.sleep(1.05)
        cb(1.0, "writing files")
    assert [line.split("%")[1].split("[")[0].strip() for line in log.lines()] == [
        "HPSS 0/50 s", "writing files", "writing files"]


def test_a_failed_run_adds_no_closing_line_and_quiet_writes_nothing():
    log = Log()
    with pytest.raises(RuntimeError), bar("render", stream=log, interval=60.0) as cb:
        cb(0.5, "half")
        raise RuntimeError("boom")
    assert len(log.lines()) == 1
    quiet = Log()
    with bar("render", stream=quiet, enabled=False) as cb:
        cb(0.5, "half")
    assert quiet.getvalue() == ""


def test_a_terminal_gets_a_bar():
    class Tty(Log):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    with bar("render", stream=tty) as cb:
        cb(0.5, "half")
    assert "50%|" in tty.getvalue()
