"""How a `pelapak` command starts: the application is loaded before the collector runs.

Loading the application makes some 150 thousand objects (modules, classes, tables) that
live as long as the process. The garbage collector's full passes over them while they are
made, and its last one at exit, find nothing to free: they cost a short command a tenth of
its CPU. `pause_collector()` (the `pelapak` process only, from bot.cli.main) stops it until
the command says it has loaded what it works with (`started()`); what is loaded then is set
aside for good (gc.freeze, as tests/conftest.py does after collection) and the collector
runs as before. Typer's test runner calls the commands without pausing anything.
"""

from __future__ import annotations

import atexit
import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import App

_paused: list[bool] = []  # one entry while the collector waits for the command to start


def pause_collector() -> None:
    """Until `started()`; and at exit, nothing loaded is walked once more."""
    if gc.isenabled():
        gc.disable()
        _paused.append(True)
    atexit.register(gc.freeze)


def started() -> None:
    """The command has loaded what it works with: set it aside, collect from here on."""
    if _paused:
        _paused.clear()
        gc.freeze()
        gc.enable()


def build_app(*, loaded: bool = True) -> App:
    """The application, wired by bot.app (imported here: `pelapak --help` needs none of it).

    `loaded=False`: the command loads more before it works (the conversations, the web
    server) and calls `started()` itself once it has.
    """
    from bot.app import build_app as build

    built = build()
    if loaded:
        started()
    return built
