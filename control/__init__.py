"""The control plane: the gRPC servicer (:mod:`.servicer`, :mod:`.server`), its client
(:mod:`.client`) and the ``cirahubctl`` command line (:mod:`.cli`)."""

from __future__ import annotations
