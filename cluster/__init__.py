"""cirahub.cluster: Ray bootstrap (embedded or an existing cluster), settings, placement.

The order is control → actors → cluster → store → connectors → core: ``Runtime``
(``cirahub.actors.runtime``) is the entry point for the control plane;
importing this package itself does not import Ray.
"""

from __future__ import annotations
