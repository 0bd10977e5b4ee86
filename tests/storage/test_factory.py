"""Store URLs and the archive/inbox/outbox factories, read from settings at call time."""

import pytest
from django.test import override_settings

from gdi_archive import storage
from gdi_archive.storage import LocalStore, S3Store


def test_file_urls(tmp_path):
    store = storage.open_store(tmp_path.as_uri())
    assert isinstance(store, LocalStore) and store.root == tmp_path
    assert storage.open_store(tmp_path.as_uri()) is store  # cached


@pytest.mark.parametrize("url", ["file://otherhost/x", "file:relative", "ftp://x/y", "s3://", "/plain/path"])
def test_bad_urls(url):
    with pytest.raises(ValueError):
        storage.open_store(url)


def test_s3_urls_take_endpoint_and_credentials_from_settings(s3_server):
    with override_settings(S3_ENDPOINT_URL=s3_server, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"):
        store = storage.open_store("s3://factory-bucket/some/prefix")
        assert isinstance(store, S3Store) and store.bucket == "factory-bucket" and store.prefix == "some/prefix/"
        store.ensure_ready()
        store.write("k", [b"v"])
        assert storage.open_store("s3://factory-bucket/some/prefix") is store
    with override_settings(
        S3_ENDPOINT_URL="http://127.0.0.1:1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"
    ):
        assert storage.open_store("s3://factory-bucket/some/prefix") is not store  # another endpoint


def test_named_stores_follow_settings(tmp_path, s3_env):
    assert isinstance(storage.archive_store(), S3Store)
    assert storage.archive_store().bucket == s3_env["STORAGE_URL"][5:]
    assert storage.inbox_store().bucket == s3_env["INBOX_URL"][5:]
    assert storage.outbox_store().bucket == s3_env["OUTBOX_URL"][5:]
    with override_settings(STORAGE_URL=(tmp_path / "a").as_uri()):
        assert storage.archive_store().root == tmp_path / "a"
