"""Test settings: the real settings module, pointed at PostgreSQL, Redis and a scratch folder.

Everything is set through the environment (not by overriding Django settings) so that a
Celery worker process started by a test sees exactly the same configuration.
"""

import os
import tempfile
import uuid

_run = uuid.uuid4().hex[:8]
# Processes a test starts (Celery workers, servers) inherit these names through the environment.
# So does each pytest-xdist worker from the controller, and it must not share them: its scratch
# folder, key prefixes and queues are its own.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if os.environ.get("GDI_TEST_WORKER", _worker) != _worker:
    for _name in ("DATA_DIR", "CELERY_KEY_PREFIX", "CACHE_KEY_PREFIX"):
        os.environ.pop(_name, None)
os.environ["GDI_TEST_WORKER"] = _worker
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix=f"gdi-test-{_run}-"))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("CELERY_KEY_PREFIX", f"gdi-test-{_run}:")
os.environ.setdefault("CACHE_KEY_PREFIX", f"gdi-test-{_run}")
os.environ.setdefault("C4GH_PASSPHRASE", "test-archive-passphrase")
os.environ.setdefault("BASE_URL", "http://testserver")
if "FDP_SHAPES_DIR" not in os.environ:  # the GDI shapes from the shared standards folder, where it is
    from tests.shared import gdi_shapes_dir

    if gdi_shapes_dir():
        os.environ["FDP_SHAPES_DIR"] = str(gdi_shapes_dir())

from gdi_archive.settings import *  # noqa: E402,F403

# One test database per run, so parallel runs on one PostgreSQL do not collide.
DATABASES["default"]["TEST"] = {"NAME": f"test_gdi_{_run}"}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
