"""Generates the Python stubs of the control API from ``cirahub/control/v1/*.proto``.

Run ``python -m cirahub.proto.gen`` (or ``python proto/gen.py``) after editing a .proto; the
generated ``*_pb2.py``, ``*_pb2_grpc.py`` and their ``.pyi`` files are checked in, and a test
regenerates them into a temporary folder and fails when the checked-in ones are stale.

protoc writes absolute imports (``from cirahub.control.v1 import control_pb2``) that would
resolve to our own ``cirahub.control`` package, so they are rewritten to relative imports:
the stubs then work wherever the package is installed (``cirahub.proto.cirahub.control.v1``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

#: the folder that holds ``cirahub/control/v1/*.proto`` (the protoc include root)
PROTO_ROOT = Path(__file__).resolve().parent
PACKAGE_DIR = Path("cirahub", "control", "v1")
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")

_ABSOLUTE_IMPORT = re.compile(r"^from cirahub\.control\.v1 import (\w+_pb2)\b", re.MULTILINE)


def proto_files(root: Path = PROTO_ROOT) -> list[Path]:
    """The .proto files to compile, relative to ``root``, sorted."""
    return sorted(p.relative_to(root) for p in (root / PACKAGE_DIR).glob("*.proto"))


def _plugin(name: str) -> str:
    """Path of a protoc plugin installed beside this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found; install mypy-protobuf (the 'test' extra)")
    return found


def generate(out_root: Path, root: Path = PROTO_ROOT) -> list[Path]:
    """Compiles every .proto under ``root`` into ``out_root`` (same relative layout) and
    returns the generated files. Raises RuntimeError when protoc fails."""
    import grpc_tools
    from grpc_tools import protoc  # test/dev dependency only

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    out_root.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{root}",
        f"-I{well_known}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        *(str(p) for p in proto_files(root)),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed; see the messages above")
    out: list[Path] = []
    for path in sorted((out_root / PACKAGE_DIR).iterdir()):
        if path.name.endswith(GENERATED_SUFFIXES):
            path.write_text(_ABSOLUTE_IMPORT.sub(r"from . import \1", path.read_text()))
            out.append(path)
    return out


def main() -> int:
    """Regenerates the checked-in stubs in place."""
    with tempfile.TemporaryDirectory() as tmp:
        for path in generate(Path(tmp)):
            target = PROTO_ROOT / path.relative_to(tmp)
            shutil.copyfile(path, target)
            print(f"wrote {os.path.relpath(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
