"""One contract, two backends: every `store` test runs on a local folder and on S3 (SeaweedFS)."""

import uuid

import pytest

from gdi_archive.storage import LocalStore, S3Store

SMALL_PART = 5 * 1024 * 1024  # the smallest part S3 accepts


def make_s3(endpoint: str, bucket: str | None = None, **kwargs) -> S3Store:
    kwargs = {"access_key": "testing", "secret_key": "testing", **kwargs}
    return S3Store(bucket or f"test-{uuid.uuid4().hex[:12]}", endpoint_url=endpoint, **kwargs)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        store = LocalStore(tmp_path / "store")
    else:
        store = make_s3(request.getfixturevalue("s3_server"), part_size=SMALL_PART)
    store.ensure_ready()
    return store
