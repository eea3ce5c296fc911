"""The checked-in generated stubs match control.proto."""

from __future__ import annotations

import re
from pathlib import Path

from cirahub.proto import gen

#: lines that only name tool versions (a newer grpcio-tools must not make the stubs "stale")
_VERSION_LINES = re.compile(
    r"^(# Protobuf Python Version:.*|GRPC_GENERATED_VERSION = .*|    \d+,)$", re.MULTILINE)


def _normalized(path: Path) -> str:
    return _VERSION_LINES.sub("", path.read_text())


def test_checked_in_stubs_are_fresh(tmp_path: Path) -> None:
    generated = gen.generate(tmp_path)
    assert {p.name for p in generated} == {
        "control_pb2.py", "control_pb2.pyi", "control_pb2_grpc.py", "control_pb2_grpc.pyi"}
    for path in generated:
        checked_in = gen.PROTO_ROOT / path.relative_to(tmp_path)
        assert checked_in.exists(), f"{checked_in} is missing: run python -m cirahub.proto.gen"
        assert _normalized(checked_in) == _normalized(path), (
            f"{checked_in.name} is stale: run python -m cirahub.proto.gen")


def test_stub_imports_are_package_relative() -> None:
    for path in (gen.PROTO_ROOT / gen.PACKAGE_DIR).glob("*_pb2*.py*"):
        assert "from cirahub.control.v1 import" not in path.read_text(), path.name
