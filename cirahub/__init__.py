"""cirahub: hub-and-spoke two-way calendar synchronization.

The code lives in the top-level folders of the repository (`core/`, `store/`, `connectors/`,
`actors/`, `cluster/`, `control/`, `proto/`), installed as the subpackages `cirahub.<folder>`.
"""

from __future__ import annotations

__version__ = "0.1.0"
