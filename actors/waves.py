"""The spoke actor's push waves, read ahead for the spokes still waiting for a push thread.

The fan-out of one edit to 1,000 spokes runs ``push_threads`` push runs at once; each run
that ends starts the next due spoke, whose inputs (its record, the changed hub items, its
links, its plan, its pending writes noted: :func:`~cirahub.actors.push_wave.prepare_wave`)
were read by a wave of the few spokes that started together — fifty waves per edit, one
after the other on the one read thread, the push threads waiting for them. So a wave also
prepares, in a job of its own after the asked spokes' one, every spoke that is *due* and not
running (up to ``limit``); a push run that finds its spoke's inputs prepared starts at once.

Prepared inputs are used only while they are as good as a read at the run's start:

- a spoke is prepared only while no run of it is under way (the last one's end committed);
  any other run of it that starts later (a poll, ``sync``) drops them (:meth:`Waves.forget`),
  also while they are still being read;
- they cover every version noticed before the push run starts (the prepared hub version is
  at least the spoke's highest notice; otherwise the run reads again, so a burst of merges
  still costs one push run per spoke, not one per merge);
- they are at most ``max_age`` seconds old (the record, the runtime lease's epoch).

Unused inputs cost nothing but their read: a pending write noted for a write never sent
is never matched by anything but the same content (see :mod:`cirahub.actors.pushing`).

A caller that knows which push runs come now (a ``sync``'s push phase, which starts one per
spoke behind at once) says so first (:meth:`Waves.expect`): the wave is read as soon as the
last of them asked, not ``window`` seconds after the first (the window was pure waiting
there: nobody else was coming). Expected ids last until the next wave is read, so one that
never asks delays the others by the window at most, as before.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor

from cirahub.actors.idle import deliver
from cirahub.actors.push_wave import WaveInput

Prepare = Callable[[list[str]], list[WaveInput | BaseException]]


class Waves:
    """``await waves(spoke_id, wanted)``: the spoke's inputs for a push run that must cover
    hub version ``wanted``; calls within ``window`` seconds share one ``prepare`` call in
    ``executor`` (a spoke gone or unreadable: its exception is raised to its caller alone).
    ``ahead()`` (on the event loop, at each wave) names the spokes to prepare ahead. Used
    from one event loop."""

    def __init__(self, prepare: Prepare, executor: Executor, ahead: Callable[[], Iterable[str]],
                 *, window: float, limit: int, max_age: float = 5.0) -> None:
        self._prepare, self._executor, self._ahead_of = prepare, executor, ahead
        self._window, self._limit, self._max_age = window, limit, max_age
        self._loop = asyncio.get_running_loop()
        self._asked: dict[str, asyncio.Future[WaveInput]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._ready: dict[str, tuple[float, WaveInput]] = {}  # prepared ahead, when
        self._reading: dict[str, asyncio.Future[None]] = {}  # being prepared ahead
        self._void: set[str] = set()  # forgotten while being prepared
        self._expected: set[str] = set()  # announced push runs that did not ask yet

    def expect(self, spoke_ids: Iterable[str]) -> None:
        """Push runs of these spokes start now: the wave asked meanwhile is read once the
        last of them asked (see the module docstring)."""
        self._expected.update(i for i in spoke_ids if i not in self._asked)

    async def __call__(self, spoke_id: str, wanted: int) -> WaveInput:
        last = spoke_id in self._expected
        self._expected.discard(spoke_id)
        reading = self._reading.get(spoke_id)
        if reading is not None:
            await asyncio.shield(reading)
        ready = self._ready.pop(spoke_id, None)
        if ready is not None and self._usable(*ready, wanted):
            if last and not self._expected and self._asked:
                self._flush()  # the others expected asked already: nobody else is coming
            return ready[1]
        future = self._asked.get(spoke_id)
        if future is None:
            future = self._asked[spoke_id] = self._loop.create_future()
        if len(self._asked) >= self._limit or (last and not self._expected):
            self._flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(self._window, self._flush)
        return await future

    def _usable(self, at: float, wave: WaveInput, wanted: int) -> bool:
        return (wave.basis is not None and wave.basis.hub_version >= wanted
                and time.monotonic() - at <= self._max_age)

    def forget(self, spoke_id: str) -> None:
        """Another run of the spoke starts: what was prepared for it is stale."""
        self._ready.pop(spoke_id, None)
        if spoke_id in self._reading:
            self._void.add(spoke_id)

    @property
    def prepared(self) -> int:
        """Spokes whose inputs are prepared ahead (diagnostics, tests)."""
        return len(self._ready)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        asked, self._asked = self._asked, {}
        self._expected.clear()  # a spoke announced that never asked waits no longer
        if asked:
            done = self._loop.run_in_executor(self._executor, self._prepare, list(asked))
            done.add_done_callback(functools.partial(deliver, list(asked.values())))
        now = time.monotonic()
        for spoke_id in [i for i, (at, _) in self._ready.items() if now - at > self._max_age]:
            del self._ready[spoke_id]
        extra = [i for i in self._ahead_of() if i not in asked and i not in self._ready
                 and i not in self._reading][:self._limit]
        if extra:
            reading: asyncio.Future[None] = self._loop.create_future()
            self._reading.update((i, reading) for i in extra)
            done = self._loop.run_in_executor(self._executor, self._prepare, extra)
            done.add_done_callback(functools.partial(self._keep, extra, now, reading))

    def _keep(self, extra: list[str], at: float, reading: asyncio.Future[None],
              done: asyncio.Future[list[WaveInput | BaseException]]) -> None:
        results = ([] if done.cancelled() or done.exception() is not None
                   else done.result())
        for spoke_id, result in zip(extra, results, strict=False):
            if isinstance(result, WaveInput) and spoke_id not in self._void:
                self._ready[spoke_id] = (at, result)
        for spoke_id in extra:
            self._reading.pop(spoke_id, None)
            self._void.discard(spoke_id)
        reading.set_result(None)
