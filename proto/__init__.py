"""The control API's .proto files and their generated, checked-in Python stubs.

Import the stubs as ``from cirahub.proto.cirahub.control.v1 import control_pb2,
control_pb2_grpc``; regenerate them with ``python -m cirahub.proto.gen``.
"""

from __future__ import annotations
