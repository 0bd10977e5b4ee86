"""Production runs as shipped (issue 10, item 1): an environment made from requirements.txt alone
(tests/deploy/prod_venv.py, as deploy/Dockerfile does) runs gunicorn, a Celery worker started the
way deploy/ starts it (no -Q) and beat, on Redis and PostgreSQL with local object stores; a file
is uploaded, ingested by that worker and downloaded. Anything the archive imports at run time
that only requirements-dev.txt brings in fails here. Until a worker runs, the operator sees the
ingest queue has no consumer: /health/ready says degraded, /metrics has gdi_queue_consumers 0 and
the inbox entry says it waits for a worker.

The first run builds the environment (a minute or so, pip's cache helps); later runs reuse it."""

import os
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.client.conftest import Persona, publish_and_grant, wait_until_ready
from tests.deploy.prod_venv import production_venv
from tests.stack.test_production_stack import PASSWORD, REPO, Stack

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.timeout(1800)]

# Every module of the archive imports, and every name any of them imports (also the ones imported
# inside a function, which a start-up does not reach) is installed.
IMPORT_EVERYTHING = """
import ast, importlib, importlib.util, pathlib, pkgutil, sys, django
django.setup()
import gdi_archive
failed = []
for module in pkgutil.walk_packages(gdi_archive.__path__, "gdi_archive."):
    try:
        importlib.import_module(module.name)
    except Exception as exc:
        failed.append(f"{module.name}: {exc.__class__.__name__}: {exc}")
for path in sorted(pathlib.Path("gdi_archive").rglob("*.py")):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top != "gdi_archive" and top not in sys.modules and importlib.util.find_spec(top) is None:
                failed.append(f"{path}: imports {name}, which is not installed")
print("\\n".join(failed))
raise SystemExit(1 if failed else 0)
"""


@pytest.fixture(scope="module")
def python() -> str:
    return str(production_venv() / "bin" / "python")


@pytest.fixture
def stack(tmp_path, python):
    stack = Stack(tmp_path, None, python=python)
    try:
        yield stack
    finally:
        stack.down()


def test_the_environment_has_no_dev_requirements(python):
    for dev_only in ("pytest", "jwt", "schemathesis", "gdi_archive_client"):
        found = subprocess.run([python, "-c", f"import {dev_only}"], capture_output=True, timeout=60)
        assert found.returncode != 0, f"{dev_only} is in the production environment: not made from requirements.txt"


def consumers(stack) -> dict[str, float]:
    text = requests.get(
        stack.url + "/metrics", headers={"Authorization": f"Bearer {stack.metrics_token}"}, timeout=20
    ).text
    family = next(f for f in text_string_to_metric_families(text) if f.name == "gdi_queue_consumers")
    return {sample.labels["queue"]: sample.value for sample in family.samples}


def test_production_install_runs_web_worker_and_beat_and_serves_a_file(stack, python, tmp_path):
    # Every module of the archive imports in the shipped environment.
    imported = subprocess.run(
        [python, "-c", IMPORT_EVERYTHING], cwd=REPO, env=stack.env, capture_output=True, text=True, timeout=180
    )
    assert imported.returncode == 0, (
        f"modules that do not import from requirements.txt alone:\n{imported.stdout}{imported.stderr[-3000:]}"
    )

    stack.up(start_worker=False)

    def person(name):
        persona = Persona(name, stack.url, tmp_path / name)
        persona.env = lambda _env=persona.env, **extra: _env(GDI_ARCHIVE_PASSWORD=PASSWORD, **extra)
        return persona.login()

    operator, carol, alice = person("root"), person("carol"), person("alice")

    # No worker yet: the upload waits, and every place an operator looks says why.
    source = tmp_path / "genome.bin"
    source.write_bytes(os.urandom(2 * 1024 * 1024 + 777))
    encrypted = operator.home / "genome.bin.c4gh"
    operator.run("encrypt", str(source), "-o", str(encrypted), "--archive")
    operator.run("upload", str(encrypted))
    [entry] = [e for e in operator.json("inbox") if e["name"] == "genome.bin.c4gh"]
    assert entry["status"] == "uploaded" and entry["waiting_for_worker"] is True, entry
    ready = requests.get(stack.url + "/health/ready", timeout=20).json()
    assert ready["status"] == "degraded" and "ingest" in ready["unconsumed_queues"], ready
    assert consumers(stack)["ingest"] == 0

    # The worker as deploy/ starts it: `celery -A gdi_archive worker`, no -Q.
    stack.start_worker(queues=None)
    stack.wait_worker()
    entry = wait_until_ready(operator, "genome.bin.c4gh", timeout=120)
    assert "ingest_file" in stack.log("worker")
    assert entry["waiting_for_worker"] is False
    ready = requests.get(stack.url + "/health/ready", timeout=20).json()
    assert ready["status"] == "ok", ready
    assert consumers(stack) == {"default": 1, "exports": 1, "ingest": 1}

    # Publish, grant, download, decrypt, compare.
    dac = operator.api("POST", "/api/dacs", 201, json={"name": "Install DAC", "contact_email": "dac@example.org"})
    operator.api("POST", f"/api/dacs/{dac['accession']}/members", 201, json={"username": "carol"})
    carol.login()
    publish_and_grant(
        steward=operator, member=carol, applicant=alice, dac_accession=dac["accession"], files=[entry["accession"]]
    )
    sk, pk = str(alice.home / "me.sec"), str(alice.home / "me.pub")
    alice.run("keygen", "--sk", sk, "--pk", pk)
    out = alice.home / "genome.bin"
    alice.run("download", entry["accession"], "-o", str(out), "--decrypt", "--sk", sk)
    assert out.read_bytes() == source.read_bytes()

    # Beat runs from the same environment and is still up; nothing died on an import.
    assert stack.processes["beat"].poll() is None, stack.log("beat")[-3000:]
    assert "beat: Starting" in stack.log("beat")
    for name in ("web", "worker", "beat"):
        assert "ModuleNotFoundError" not in stack.log(name), stack.log(name)[-3000:]
    assert stack.processes["worker"].poll() is None, stack.log("worker")[-3000:]
