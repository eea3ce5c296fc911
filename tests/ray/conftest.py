"""Fixtures for the Ray runtime tests: one real Ray runtime per module (start-up is paid once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from cirahub.actors.runtime import Runtime
from cirahub.cluster.settings import Settings

pytestmark = pytest.mark.ray


def start_runtime(data_dir: Path, **settings: object) -> Runtime:
    assert not ray.is_initialized(), "another test module left Ray running"
    values: dict[str, object] = dict(data_dir=data_dir, num_cpus=2, reconcile_seconds=1.0,
                                     ping_timeout=5.0)
    values.update(settings)
    return Runtime.start(Settings(**values))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    rt = start_runtime(tmp_path_factory.mktemp("cirahub"))
    yield rt
    rt.shutdown(stop_actors=True)
