"""Starting the pieces every cirahub process needs: Ray, the store, Ray's errors translated.

Below the actors (they import this; nothing here imports them).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cirahub.cluster.settings import Settings
from cirahub.core.errors import CirahubError, StoreError

if TYPE_CHECKING:
    from cirahub.store.repository import Store

log = logging.getLogger(__name__)

#: object store of an embedded Ray (Ray's minimum is 75 MB; cirahub passes small values)
EMBEDDED_OBJECT_STORE = 100 * 1024 * 1024
#: CPUs an embedded Ray advertises unless told otherwise (its actors reserve none)
EMBEDDED_NUM_CPUS = 0
#: where every server of an embedded Ray listens
LOOPBACK = "127.0.0.1"
_CLUSTERS_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """Open the store the way every cirahub process does (data dir + secret key).

    ``migrate=False`` is for the actors: the process that starts them (the server, through
    :meth:`~cirahub.actors.runtime.Runtime.start`) has already brought the schema to the
    newest migration, so an actor neither repeats that nor loads the migration tool."""
    from cirahub.store.repository import Store
    from cirahub.store.secrets import load_or_create_key

    key = load_or_create_key(settings.data_dir)
    return Store.open(settings.database_url, data_dir=settings.data_dir, secret_key=key,
                      migrate=migrate)


def embedded_ray_options(settings: Settings) -> dict[str, Any]:
    """The ``ray.init`` options of an embedded Ray (what docs/deploy.md describes).

    - ``address="local"``: always a Ray of our own, never a cluster someone else started on
      this machine (``ray start`` leaves /tmp/ray/ray_current_cluster, which ray.init would
      otherwise join, and then refuses our object store size);
    - every server on loopback (see :func:`_loopback_only` for the rest of that);
    - ``num_cpus=0`` unless ``settings.num_cpus`` says otherwise: cirahub runs actors only,
      and they reserve no CPU; a node with N CPUs prestarts N idle worker processes and keeps
      up to N idle ones (tens of MB each), a node with none keeps none;
    - a small object store (actors pass small values);
    - the dashboard only with ``settings.dashboard`` (then on loopback); without it, Ray's
      head-only helper processes are not started either (:func:`_lean_head`).
    """
    opts: dict[str, Any] = dict(
        address="local", _node_ip_address=LOOPBACK, object_store_memory=EMBEDDED_OBJECT_STORE,
        num_cpus=EMBEDDED_NUM_CPUS if settings.num_cpus is None else settings.num_cpus,
        include_dashboard=settings.dashboard, namespace=settings.namespace,
        log_to_driver=False, configure_logging=False)
    if settings.dashboard:
        opts["dashboard_host"] = LOOPBACK
    return opts


def init_ray(settings: Settings) -> bool:
    """``ray.init`` unless already initialized; True when this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    if settings.ray_address:
        ray.init(address=settings.ray_address, namespace=settings.namespace,
                 log_to_driver=False, configure_logging=False)
    else:
        lean = contextlib.nullcontext() if settings.dashboard else _lean_head()
        with _loopback_only(), lean:
            ray.init(**embedded_ray_options(settings))
    return True


#: RayParams an embedded Ray starts its head with when it has no dashboard
LEAN_HEAD_PARAMS: dict[str, Any] = {"include_log_monitor": False, "no_monitor": True}


@contextlib.contextmanager
def _lean_head() -> Iterator[None]:
    """While an embedded Ray without dashboard starts: leave out the head's helper processes
    that serve nobody there (about 170 MB of PSS together, measured by
    bench/bench_footprint.py):

    - the log monitor, which streams worker output to drivers (``log_to_driver=False``:
      nobody reads it; the workers' files stay in Ray's session folder);
    - the autoscaler monitor (an embedded Ray is one node, nothing to scale);
    - the dashboard API server, which with ``include_dashboard=False`` runs only Ray's
      usage-stats reporter (and ray.init turns usage stats off).

    ``ray.init`` has no options for these (``ray start`` has ``--include-log-monitor`` and
    ``--no-monitor``), so the head node's parameters are set as ``ray start`` would set them.
    If a Ray release renames what is patched here, Ray starts them as before (a warning is
    logged; tests/ray/test_embedded_footprint.py fails)."""
    try:
        from ray._private import node as ray_node
    except ImportError:  # pragma: no cover - depends on the Ray release
        log.warning("cannot start a lean embedded Ray on this Ray release")
        yield
        return
    node_class: Any = ray_node.Node
    if not all(hasattr(node_class, a) for a in ("__init__", "start_api_server")):
        log.warning("cannot start a lean embedded Ray on this Ray release")
        yield
        return
    original_init, original_api = node_class.__init__, node_class.start_api_server

    def init(self: Any, ray_params: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("head", args[0] if args else False):
            ray_params.update(**LEAN_HEAD_PARAMS)
        original_init(self, ray_params, *args, **kwargs)

    def no_api_server(self: Any, *args: Any, **kwargs: Any) -> None:
        log.debug("embedded Ray: no dashboard, so no dashboard API server")

    node_class.__init__, node_class.start_api_server = init, no_api_server
    try:
        yield
    finally:
        node_class.__init__, node_class.start_api_server = original_init, original_api


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """While an embedded Ray starts: make it bind every server, agent and worker to loopback.

    Ray binds its servers to the node's address, but replaces a loopback ``node_ip_address``
    by the machine's outside address unless it believes multi-node clusters are off (its
    macOS/Windows default, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``). An embedded Ray is one
    node, so we say so while it starts (its processes inherit it) and restore the setting
    afterwards, so a later ``--ray-address`` Ray in this process is not affected."""
    from ray._private import ray_constants

    saved_env = os.environ.get(_CLUSTERS_ENV)
    saved = ray_constants.ENABLE_RAY_CLUSTER
    os.environ[_CLUSTERS_ENV] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved
        if saved_env is None:
            os.environ.pop(_CLUSTERS_ENV, None)
        else:
            os.environ[_CLUSTERS_ENV] = saved_env


def get_unwrapped(ref: Any, timeout: float | None = None) -> Any:
    """``ray.get``, re-raising a CirahubError an actor method raised as itself.

    Ray re-raises an actor method's exception as a ``RayTaskError`` carrying the original as
    ``cause``; this is the one place that unwraps it. Ray's own errors (a dead actor, a
    timeout) pass through for the caller to decide (see :func:`ray_get`)."""
    import ray
    from ray.exceptions import RayTaskError

    try:
        return ray.get(ref, timeout=timeout)
    except RayTaskError as exc:
        if isinstance(exc.cause, CirahubError):
            raise exc.cause from None
        raise


def ray_get(ref: Any, timeout: float | None = None) -> Any:
    """``ray.get`` with the project's errors: a CirahubError raised in an actor is re-raised
    as itself; a dead or unreachable actor is a retryable StoreError."""
    from ray.exceptions import GetTimeoutError, RayActorError

    try:
        return get_unwrapped(ref, timeout)
    except (RayActorError, GetTimeoutError) as exc:
        raise StoreError(f"the cirahub runtime did not answer: {type(exc).__name__}",
                         action="runtime") from None
