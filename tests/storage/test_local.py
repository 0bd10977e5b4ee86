"""What only the local-folder backend does: fsync'd rename, full disks, folder checks."""

import subprocess
import sys
import textwrap

import pytest

from gdi_archive.storage import LocalStore, StorageUnavailable


def test_missing_folder_is_unavailable_until_created(tmp_path):
    store = LocalStore(tmp_path / "not-yet")
    with pytest.raises(StorageUnavailable):
        store.ping()
    assert list(store.list()) == []
    store.ensure_ready()
    store.ping()


def test_temp_files_are_neither_listed_nor_addressable(tmp_path):
    store = LocalStore(tmp_path)
    (tmp_path / ".gdi-tmp-abc").write_bytes(b"partial")
    store.write("real", [b"x"])
    assert list(store.list()) == ["real"]
    with pytest.raises(Exception):
        store.open(".gdi-tmp-abc")


def test_a_full_disk_is_storage_full_and_leaves_nothing(tmp_path):
    """A real write error from the kernel: the file-size limit (EFBIG), in a child process."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
        from gdi_archive.storage import LocalStore, StorageFull
        store = LocalStore({str(tmp_path)!r})
        try:
            store.write("big", (b"x" * 65536 for _ in range(100)))
        except StorageFull as exc:
            print("full:", exc)
            sys.exit(0)
        sys.exit(1)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No space left" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_free_space_is_reported(tmp_path):
    assert LocalStore(tmp_path).free_space() > 0


def test_a_key_under_an_existing_object_is_a_clear_error(tmp_path):
    from gdi_archive.storage import ObjectNotFound, StorageError

    store = LocalStore(tmp_path)
    store.write("a", [b"x"])
    with pytest.raises(StorageError, match="clashes") as caught:
        store.write("a/b", [b"y"])
    assert not isinstance(caught.value, ObjectNotFound)
    assert b"".join(store.iter_range("a")) == b"x"


def test_writes_abandoned_by_a_killed_process_are_removed_at_start(tmp_path):
    """A SIGKILLed writer leaves its temp file; a worker's next start removes it once it is hours idle."""
    import os
    import time

    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from gdi_archive.storage import LocalStore

        def chunks():
            yield b"x" * 65536
            os.kill(os.getpid(), signal.SIGKILL)

        LocalStore(Path({str(tmp_path)!r})).write("files/body", chunks())
    """)
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    [left] = (tmp_path / "files").iterdir()
    assert left.name.startswith(".gdi-tmp-")

    from django.test import override_settings

    from gdi_archive.storage import ensure_stores_ready

    store = LocalStore(tmp_path)
    with override_settings(STORAGE_URL=tmp_path.as_uri()):
        ensure_stores_ready(remove_abandoned_writes=True)  # as a Celery worker does at start
        assert left.exists()  # recent: it could be a write still in progress elsewhere
        hours_ago = time.time() - 7 * 3600
        os.utime(left, (hours_ago, hours_ago))
        ensure_stores_ready()  # a web process does not walk the folder
        assert left.exists()
        ensure_stores_ready(remove_abandoned_writes=True)
    assert not left.exists()
    assert list(store.list()) == []


@pytest.mark.parametrize(
    "sizes",
    [
        [1],
        [4095],
        [4096],
        [4097],
        [4 * 1024 * 1024 - 1, 2],
        [65564] * 200,
        [3, 4 * 1024 * 1024 + 5, 9 * 1024 * 1024 + 7],
    ],
)
def test_a_write_keeps_every_byte_whatever_the_chunk_sizes(tmp_path, sizes):
    """Writes go straight to the disk from an aligned buffer, the unaligned tail through the
    page cache: the object must be exactly the bytes given, in order."""
    import os

    chunks = [os.urandom(size) for size in sizes]
    store = LocalStore(tmp_path)
    assert store.write("obj", iter(chunks)) == sum(sizes)
    assert (tmp_path / "obj").read_bytes() == b"".join(chunks)
    assert [p.name for p in tmp_path.iterdir()] == ["obj"]


@pytest.mark.parametrize("size", [0, 1, 4096, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1, 9 * 1024 * 1024 + 7])
def test_a_sequential_read_gives_every_byte_whatever_the_read_sizes(tmp_path, size):
    """Ingest reads an inbox object once, straight from the disk: small reads (the header),
    big unaligned ones (whole segments) and the rest must give the object's bytes in order."""
    import os

    data = os.urandom(size)
    store = LocalStore(tmp_path)
    store.write("obj", [data])
    with store.open_sequential("obj") as reader:
        got = [reader.read(16), reader.read(100)]
        while piece := reader.read(4_196_096):
            got.append(piece)
        assert reader.read(10) == b""
    assert b"".join(got) == data
    with store.open_sequential("obj") as reader:
        assert reader.read() == data


def test_a_sequential_read_of_a_missing_object_is_not_found(tmp_path):
    from gdi_archive.storage import ObjectNotFound

    with pytest.raises(ObjectNotFound):
        LocalStore(tmp_path).open_sequential("nope")
