"""The distribution builds as a wheel that installs into a clean virtualenv on its own."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: files a working installation cannot do without (code, migrations, proto, entry point)
REQUIRED = (
    "cirahub/__init__.py",
    "cirahub/core/plan.py",
    "cirahub/core/push.py",
    "cirahub/store/repository.py",
    "cirahub/store/migrations/env.py",
    "cirahub/store/migrations/script.py.mako",
    "cirahub/store/migrations/versions/0001_initial.py",
    "cirahub/connectors/vdir.py",
    "cirahub/connectors/caldav/__init__.py",
    "cirahub/connectors/ews/__init__.py",
    "cirahub/actors/cycle.py",
    "cirahub/actors/runtime.py",
    "cirahub/control/cli.py",
    "cirahub/proto/cirahub/control/v1/control.proto",
    "cirahub/proto/cirahub/control/v1/control_pb2.py",
)


@pytest.mark.slow
def test_wheel_builds_and_installs_into_a_clean_venv(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(dist), str(ROOT)],
        check=True, cwd=tmp_path,
    )
    (wheel,) = dist.glob("cirahub-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "cirahubctl = cirahub.control.cli:main" in zf.read(entry_points).decode()
    missing = [f for f in REQUIRED if f not in names]
    assert not missing, f"wheel lacks {missing}"
    assert not any(n.startswith(("tests/", "cirahub/tests/")) for n in names)

    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, cwd=tmp_path)
    out = subprocess.run(
        [str(python), "-c", "import cirahub.core, cirahub; print(cirahub.core.__file__)"],
        check=True, cwd=tmp_path, capture_output=True, text=True,
    )
    # imported from the clean venv, not from the source tree
    assert str(env) in out.stdout


#: top-level folders that are not part of the installed package
NOT_PACKAGED = {"tests", "bench", "docker", "docs", "cirahub"}


def test_every_top_level_package_folder_is_linked_into_cirahub():
    """`cirahub/<folder>` is a relative symlink to `<folder>/` for every top-level package, so
    the plain layout static tools and the wheel see is the user's folders (a new folder that
    is not linked would be missing from the wheel and unresolvable as `cirahub.<folder>`)."""
    folders = sorted(p.name for p in ROOT.iterdir()
                     if (p / "__init__.py").is_file() and p.name not in NOT_PACKAGED)
    assert "core" in folders
    for name in folders:
        link = ROOT / "cirahub" / name
        assert link.is_symlink(), f"cirahub/{name} is not a symlink to ../{name}"
        assert str(link.readlink()) == f"../{name}"


def test_regression_cli_does_not_load_the_store_engine():
    """Every `cirahubctl` command is a client of the server: importing the CLI must not pull in
    SQLAlchemy/Alembic or Ray (that cost ~1 s per command once the control plane typed its
    answers with the store's records, whose package imported the repository eagerly)."""
    code = ("import sys, cirahub.control.cli\n"
            "heavy = sorted(m for m in ('sqlalchemy', 'alembic', 'ray') if m in sys.modules)\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the CLI imports {out.stdout.strip()}"


def test_regression_cli_does_not_load_msal():
    """msal (Microsoft sign-in, through connectors.oauth) was a third of every `cirahubctl`
    command's start-up, loaded for `login` alone; it is imported by that command now."""
    code = ("import sys, cirahub.control.cli\n"
            "print(','.join(m for m in ('msal', 'cirahub.connectors.oauth') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the CLI imports {out.stdout.strip()}"


def test_regression_cli_start_up_loads_no_yaml_convert_or_store():
    """Every `cirahubctl` command pays the CLI's imports (under load, most of a no-change
    `sync`): YAML (for `apply`), the API converters (for option tables and the server's run
    log) and the store package are loaded by the functions that use them."""
    code = ("import sys, cirahub.control.cli\n"
            "heavy = ('yaml', 'cirahub.control.convert', 'cirahub.store')\n"
            "print(','.join(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the CLI imports {out.stdout.strip()}"
