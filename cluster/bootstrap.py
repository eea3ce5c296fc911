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
#: where every server of an embedded Ray listens
LOOPBACK = "127.0.0.1"
_CLUSTERS_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def open_store(settings: Settings) -> Store:
    """Open the store the way every cirahub process does (data dir + secret key)."""
    from cirahub.store.repository import Store
    from cirahub.store.secrets import load_or_create_key

    key = load_or_create_key(settings.data_dir)
    return Store.open(settings.database_url, data_dir=settings.data_dir, secret_key=key)


def init_ray(settings: Settings) -> bool:
    """``ray.init`` unless already initialized; True when this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    common: dict[str, Any] = dict(namespace=settings.namespace, log_to_driver=False,
                                  configure_logging=False)
    if settings.ray_address:
        ray.init(address=settings.ray_address, **common)
    else:
        # address="local": always a Ray of our own, never a cluster someone else started on
        # this machine (`ray start` leaves /tmp/ray/ray_current_cluster, which ray.init would
        # otherwise join, and then refuses our object store size).
        with _loopback_only():
            ray.init(address="local", num_cpus=settings.num_cpus, _node_ip_address=LOOPBACK,
                     object_store_memory=EMBEDDED_OBJECT_STORE, include_dashboard=False,
                     **common)
    return True


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
