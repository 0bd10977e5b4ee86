"""The client stands alone: pip-installable from ./client, no Django and no server code inside."""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[2] / "client"


def test_client_depends_only_on_http_and_crypt4gh():
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("<")[0].split("=")[0].strip().lower() for dep in project["dependencies"]}
    assert names == {"requests", "crypt4gh"}
    assert project["scripts"]["gdi-archive"] == "gdi_archive_client.cli:main"


def test_running_the_client_loads_neither_django_nor_the_server():
    code = (
        "import sys, gdi_archive_client.cli as cli, gdi_archive_client.transfer, gdi_archive_client.c4gh\n"
        "cli.build_parser()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'gdi_archive', 'rest_framework')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=CLIENT.parent / "client", timeout=60)


def test_the_wheel_holds_only_the_client(tmp_path):
    source = tmp_path / "client"  # a copy: building leaves build/ behind in the source folder
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(source)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("gdi_archive_client-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name == "gdi_archive_client/cli.py" for name in names)
    assert all(name.startswith(("gdi_archive_client/", "gdi_archive_client-")) for name in names), names
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "gdi-archive = gdi_archive_client.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
