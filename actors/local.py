"""A spoke actor inside the supervisor's process (``Settings.spokes_in_supervisor``).

An embedded server is one machine whose Ray lives and dies with it: a spoke actor process of
its own there costs ~85 MiB (a Python process with Ray's and cirahub's libraries) and buys no
isolation the supervisor's process does not have. So the embedded node's first spoke actor
is a :class:`~cirahub.actors.spoke.SpokeActor` object on the supervisor's event loop, driven
through :class:`LocalHandle`, which answers the calls a Ray actor handle answers
(``handle.method.remote(...)`` → a reference whose ``future()`` the supervisor awaits), so the
placement and the supervisor treat it as any other spoke actor. Its merges go to the
supervisor's own hub writers (:class:`LoopMerger`, no round trip through Ray) and its events
straight to the supervisor's ring. More spoke actors, when the spokes exceed
``max_spokes_per_actor``, are processes of their own as before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine, Sequence
from typing import Any

from cirahub.core.ops import HubOp
from cirahub.store.records import MergeResult

#: the name of the spoke actor inside the supervisor (the prefix of every spoke actor's name)
LOCAL_SUFFIX = "in-supervisor"


class _Ref:
    def __init__(self, future: concurrent.futures.Future[Any]) -> None:
        self._future = future

    def future(self) -> concurrent.futures.Future[Any]:
        return self._future


class _Method:
    def __init__(self, target: Any, name: str, loop: asyncio.AbstractEventLoop) -> None:
        self._target, self._name, self._loop = target, name, loop

    def remote(self, *args: Any, **kwargs: Any) -> _Ref:
        call: Coroutine[Any, Any, Any] = getattr(self._target, self._name)(*args, **kwargs)
        return _Ref(asyncio.run_coroutine_threadsafe(call, self._loop))


class LocalHandle:
    """``handle.method.remote(*args)`` on an object of this process whose methods are
    coroutines: the call runs on ``loop`` (from any thread); a reference's ``future()`` is
    a ``concurrent.futures.Future`` of its result, as a Ray ObjectRef's."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.target, self._loop = target, loop

    def __getattr__(self, name: str) -> _Method:
        return _Method(self.target, name, self._loop)


class LoopMerger:
    """The :class:`~cirahub.actors.merger.Merger` of a spoke actor inside the supervisor:
    the supervisor's own hub writers (``Supervisor.merge``), called from a run's thread."""

    def __init__(self, supervisor: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._supervisor, self._loop = supervisor, loop

    def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> MergeResult:
        call = self._supervisor.merge(hub_id, spoke_id, ops)
        result: MergeResult = asyncio.run_coroutine_threadsafe(call, self._loop).result()
        return result
