"""Starting the pieces every cirahub process needs: Ray, the store, Ray's errors translated.

Below the actors (they import this; nothing here imports them).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cirahub.cluster.settings import Settings
from cirahub.core.errors import CirahubError, StoreError

if TYPE_CHECKING:
    from cirahub.store.repository import Store

log = logging.getLogger(__name__)

#: object store of an embedded Ray (Ray's minimum is 75 MB; cirahub passes small values)
EMBEDDED_OBJECT_STORE = 100 * 1024 * 1024


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
        ray.init(address="local", num_cpus=settings.num_cpus,
                 object_store_memory=EMBEDDED_OBJECT_STORE, include_dashboard=False, **common)
    return True


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
