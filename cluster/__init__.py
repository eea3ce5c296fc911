"""cirahub.cluster: Ray bootstrap (embedded or an existing cluster), settings, placement.

``from cirahub.cluster.runtime import Runtime`` is the entry point for the control plane;
importing this package itself does not import Ray.
"""

from __future__ import annotations
