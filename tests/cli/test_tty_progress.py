"""Long-running tools show progress on a terminal and stay quiet in a pipe."""

import io

from kafkalite.cli.common import RateCounter, TtyProgress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_quiet_in_a_pipe():
    out = io.StringIO()
    now = [0.0]
    p = TtyProgress(out, every_s=5, clock=lambda: now[0])
    for t in range(0, 30):
        now[0] = float(t)
        p.tick(lambda: "status")
    p.close()
    assert out.getvalue() == ""


def test_rewrites_one_line_on_a_terminal_every_interval():
    out = Terminal()
    now = [0.0]
    rendered = []
    p = TtyProgress(out, every_s=5, clock=lambda: now[0])
    for t in range(0, 12):
        now[0] = float(t)
        p.tick(lambda: rendered.append(t) or f"at {t}")
    p.close()
    assert rendered == [5, 10]  # rendered only when shown
    assert out.getvalue() == "\rat 5\x1b[K\rat 10\x1b[K\n"


def test_rate_since_the_previous_reading():
    now = [0.0]
    c = RateCounter(clock=lambda: now[0])
    c.count = 50
    now[0] = 5.0
    assert c.rate() == 10.0
    c.count = 60
    now[0] = 10.0
    assert c.rate() == 2.0
