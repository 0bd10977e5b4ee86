"""A virtual environment made from requirements.txt alone, as deploy/Dockerfile makes the image:
no dev requirements, so anything the archive imports at run time and only requirements-dev.txt
brings in is missing there. Built once per content of requirements.txt (and Python version) under
~/.cache/gdi-archive/prod-venv-<sha256>; pip uses its normal cache."""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "requirements.txt"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gdi-archive"


def _base_python() -> str:
    """The interpreter the test venv was made from, never the test venv itself."""
    return getattr(sys, "_base_executable", None) or sys.executable


def production_venv(requirements: Path = REQUIREMENTS) -> Path:
    """The folder of the environment (its python is bin/python); built if not yet cached."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(f"{sys.version_info[0]}.{sys.version_info[1]}".encode())
    folder = CACHE / f"prod-venv-{digest.hexdigest()[:16]}"
    done = folder / ".complete"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs wait for one build
        if done.exists():
            return folder
        shutil.rmtree(folder, ignore_errors=True)  # a build that was interrupted
        subprocess.run([_base_python(), "-m", "venv", str(folder)], check=True, timeout=300)
        result = subprocess.run(
            [str(folder / "bin" / "python"), "-m", "pip", "install", "--no-input", "-r", str(requirements)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if result.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(
                f"pip install -r {requirements.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        done.write_text(requirements.read_text())
    return folder
