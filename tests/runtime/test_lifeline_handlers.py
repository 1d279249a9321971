"""``lifeline.set_handler``: ``signal.signal``'s effect without its enum conversions, which a node
would otherwise run for the first time right after its fork (and so copy their pages)."""

from __future__ import annotations

import _signal
import os
import signal

import pytest

from netsim.runtime import lifeline


@pytest.fixture
def usr1():
    before = signal.getsignal(signal.SIGUSR1)
    yield signal.SIGUSR1
    signal.signal(signal.SIGUSR1, before)


@pytest.mark.parametrize("handler", [signal.SIG_IGN, signal.SIG_DFL])
def test_the_default_and_ignore_handlers_are_set(usr1, handler):
    signal.signal(usr1, lambda *_: None)
    lifeline.set_handler(usr1, handler)
    assert signal.getsignal(usr1) == handler


def test_a_function_is_called_with_the_signal_number(usr1):
    heard: list[int] = []
    lifeline.set_handler(usr1, lambda signum, frame: heard.append(signum))
    os.kill(os.getpid(), usr1)
    assert heard == [int(usr1)]


@pytest.fixture
def stop_signals():
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_no_enum_conversion_runs(usr1, stop_signals):
    def converted(*args):
        raise AssertionError("signal's enum conversion ran")

    originals = signal._int_to_enum, signal._enum_to_int
    signal._int_to_enum = signal._enum_to_int = converted
    try:
        lifeline.set_handler(usr1, signal.SIG_IGN)
        lifeline.set_handler(usr1, lambda *_: None)
        lifeline.stop_on_signals()
        terminating = _signal.getsignal(signal.SIGTERM)
        lifeline.ignore_stop_signals()
    finally:
        signal._int_to_enum, signal._enum_to_int = originals
    assert terminating is lifeline._terminate
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_anything_else_is_refused(usr1):
    with pytest.raises(TypeError):
        lifeline.set_handler(usr1, 7)


def test_a_callable_that_cannot_be_hashed_is_a_handler(usr1):
    class Handler:
        __hash__ = None  # as a dataclass with eq and no frozen

        def __init__(self) -> None:
            self.heard: list[int] = []

        def __call__(self, signum, frame):
            self.heard.append(signum)

    handler = Handler()
    lifeline.set_handler(usr1, handler)
    os.kill(os.getpid(), usr1)
    assert handler.heard == [int(usr1)]
