"""Filesystem: /files upload and download plus filesystem.Filesystem RPCs."""

import gzip as gzip_mod
import io
import os
import uuid

import httpx
import pytest
from conftest import poll
from e2b import FileType, FilesystemEventType


def p(name):
    return f"/home/user/f-{uuid.uuid4().hex[:8]}-{name}"


def test_write_str_read_text(sbx):
    path = p("a.txt")
    info = sbx.files.write(path, "héllo wörld\n")
    assert info.path == path
    assert info.name == os.path.basename(path)
    assert sbx.files.read(path) == "héllo wörld\n"


def test_write_bytes_read_bytes(sbx):
    path = p("all.bin")
    data = bytes(range(256)) * 64
    sbx.files.write(path, data)
    assert bytes(sbx.files.read(path, format="bytes")) == data


def test_write_file_object(sbx):
    path = p("fileobj.txt")
    sbx.files.write(path, io.BytesIO(b"from a file object"))
    assert sbx.files.read(path) == "from a file object"


def test_write_overwrites(sbx):
    path = p("over.txt")
    sbx.files.write(path, "a much longer first version")
    sbx.files.write(path, "short")
    assert sbx.files.read(path) == "short"


def test_write_creates_parent_dirs(sbx):
    base = p("deep")
    path = f"{base}/x/y/z.txt"
    sbx.files.write(path, "deep")
    assert sbx.files.read(path) == "deep"
    assert sbx.files.get_info(f"{base}/x/y").type == FileType.DIR


def test_write_relative_path_is_under_home(sbx):
    name = f"rel-{uuid.uuid4().hex[:8]}.txt"
    info = sbx.files.write(name, "relative")
    assert info.path == f"/home/user/{name}"
    assert sbx.commands.run(f"cat /home/user/{name}").stdout == "relative"


def test_written_file_owned_by_user(sbx):
    path = p("owner.txt")
    sbx.files.write(path, "x")
    assert sbx.files.get_info(path).owner == "user"
    assert sbx.commands.run(f"stat -c %U {path}").stdout == "user\n"


def test_write_as_root(sbx):
    path = f"/root/r-{uuid.uuid4().hex[:8]}.txt"
    sbx.files.write(path, "root file", user="root")
    assert sbx.files.read(path, user="root") == "root file"
    assert sbx.files.get_info(path, user="root").owner == "root"


def test_write_files_multiple(sbx):
    base = p("multi")
    files = [
        {"path": f"{base}/one.txt", "data": "one"},
        {"path": f"{base}/sub/two.bin", "data": b"\x00\x01two"},
        {"path": f"{base}/three.txt", "data": io.BytesIO(b"three")},
    ]
    infos = sbx.files.write_files(files)
    assert sorted(i.path for i in infos) == sorted(f["path"] for f in files)
    assert sbx.files.read(f"{base}/one.txt") == "one"
    assert bytes(sbx.files.read(f"{base}/sub/two.bin", format="bytes")) == b"\x00\x01two"
    assert sbx.files.read(f"{base}/three.txt") == "three"


def test_write_octet_stream(sbx):
    path = p("octet.bin")
    data = os.urandom(100_000)
    info = sbx.files.write(path, data, use_octet_stream=True)
    assert info.path == path
    assert bytes(sbx.files.read(path, format="bytes")) == data


def test_write_gzip(sbx):
    path = p("gz.txt")
    text = "compress me " * 1000
    sbx.files.write(path, text, gzip=True)
    assert sbx.files.read(path) == text
    # stored decompressed
    assert sbx.commands.run(f"wc -c < {path}").stdout.strip() == str(len(text))


def test_read_gzip(sbx):
    path = p("gzr.txt")
    text = "read compressed " * 1000
    sbx.files.write(path, text)
    assert sbx.files.read(path, gzip=True) == text


def test_read_stream(sbx):
    path = p("stream.bin")
    data = os.urandom(3 * 1024 * 1024)
    sbx.files.write(path, data)
    with sbx.files.read(path, format="stream") as stream:
        got = b"".join(stream)
    assert got == data


def test_large_file_roundtrip(sbx):
    path = p("large.bin")
    data = os.urandom(20 * 1024 * 1024)
    sbx.files.write(path, data)
    assert bytes(sbx.files.read(path, format="bytes")) == data


def test_list_depth(sbx):
    base = p("tree")
    sbx.files.write(f"{base}/a.txt", "a")
    sbx.files.write(f"{base}/d/b.txt", "b")
    sbx.files.write(f"{base}/d/e/c.txt", "c")
    one = {e.path for e in sbx.files.list(base)}
    assert one == {f"{base}/a.txt", f"{base}/d"}
    two = {e.path for e in sbx.files.list(base, depth=2)}
    assert two == {f"{base}/a.txt", f"{base}/d", f"{base}/d/b.txt", f"{base}/d/e"}
    entry = next(e for e in sbx.files.list(base) if e.name == "a.txt")
    assert entry.type == FileType.FILE
    assert entry.size == 1


def test_exists(sbx):
    path = p("exists.txt")
    assert sbx.files.exists(path) is False
    sbx.files.write(path, "x")
    assert sbx.files.exists(path) is True


def test_make_dir(sbx):
    path = p("newdir")
    assert sbx.files.make_dir(path) is True
    assert sbx.files.get_info(path).type == FileType.DIR
    assert sbx.files.make_dir(path) is False


def test_make_dir_nested(sbx):
    path = p("nested") + "/a/b/c"
    assert sbx.files.make_dir(path) is True
    assert sbx.files.exists(path)


def test_rename(sbx):
    src, dst = p("src.txt"), p("dst.txt")
    sbx.files.write(src, "moving")
    info = sbx.files.rename(src, dst)
    assert info.path == dst
    assert sbx.files.exists(src) is False
    assert sbx.files.read(dst) == "moving"


def test_remove_file(sbx):
    path = p("rm.txt")
    sbx.files.write(path, "bye")
    sbx.files.remove(path)
    assert sbx.files.exists(path) is False


def test_remove_dir_recursively(sbx):
    base = p("rmdir")
    sbx.files.write(f"{base}/x/y.txt", "y")
    sbx.files.remove(base)
    assert sbx.files.exists(base) is False


def test_get_info_file(sbx):
    path = p("info.txt")
    sbx.files.write(path, "12345")
    info = sbx.files.get_info(path)
    assert info.name == os.path.basename(path)
    assert info.path == path
    assert info.type == FileType.FILE
    assert info.size == 5
    assert info.permissions.startswith("-rw")
    assert info.mode & 0o600 == 0o600
    assert info.modified_time is not None


def test_get_info_dir(sbx):
    info = sbx.files.get_info("/home/user")
    assert info.type == FileType.DIR
    assert info.name == "user"
    assert info.permissions.startswith("d")


def test_symlink_entry(sbx):
    base = p("links")
    sbx.files.write(f"{base}/target.txt", "t")
    sbx.commands.run(f"ln -s {base}/target.txt {base}/link")
    info = sbx.files.get_info(f"{base}/link")
    assert info.symlink_target == f"{base}/target.txt"


def test_watch_dir_sync_polling(sbx, tmpdir_in_sandbox):
    d = tmpdir_in_sandbox
    w = sbx.files.watch_dir(d)
    try:
        sbx.files.write(f"{d}/new.txt", "hello")
        events = []

        def seen():
            events.extend(w.get_new_events())
            return [e for e in events if e.name == "new.txt"]

        got = poll(seen, what="watch event for new.txt")
        assert {e.type for e in got} & {FilesystemEventType.CREATE, FilesystemEventType.WRITE}
    finally:
        w.stop()


def test_watch_dir_sync_recursive(sbx, tmpdir_in_sandbox):
    d = tmpdir_in_sandbox
    sbx.files.make_dir(f"{d}/sub")
    w = sbx.files.watch_dir(d, recursive=True)
    try:
        sbx.files.write(f"{d}/sub/deep.txt", "x")
        events = []

        def seen():
            events.extend(w.get_new_events())
            return [e for e in events if e.name == "sub/deep.txt"]

        poll(seen, what="recursive watch event for sub/deep.txt")
    finally:
        w.stop()


def test_watch_dir_sync_remove_event(sbx, tmpdir_in_sandbox):
    d = tmpdir_in_sandbox
    sbx.files.write(f"{d}/gone.txt", "x")
    w = sbx.files.watch_dir(d)
    try:
        sbx.files.remove(f"{d}/gone.txt")
        events = []

        def seen():
            events.extend(w.get_new_events())
            return [
                e
                for e in events
                if e.name == "gone.txt" and e.type == FilesystemEventType.REMOVE
            ]

        poll(seen, what="remove event")
    finally:
        w.stop()


def test_download_url_plain_http_get(sbx):
    path = p("dl.txt")
    sbx.files.write(path, "download me")
    url = sbx.download_url(path)
    r = httpx.get(url, timeout=60)
    assert r.status_code == 200, r.text
    assert r.content == b"download me"


def test_download_url_with_expiration(sbx):
    path = p("dlexp.txt")
    sbx.files.write(path, "expiring")
    url = sbx.download_url(path, use_signature_expiration=600)
    assert "signature_expiration=" in url
    r = httpx.get(url, timeout=60)
    assert r.status_code == 200, r.text
    assert r.content == b"expiring"


def test_download_url_bad_signature_rejected(sbx):
    path = p("dlbad.txt")
    sbx.files.write(path, "secret")
    url = sbx.download_url(path)
    tampered = url.replace("signature=v1_", "signature=v1_AAAA")
    r = httpx.get(tampered, timeout=60)
    assert r.status_code in (401, 403, 404, 502), r.status_code
    assert r.content != b"secret"


def test_upload_url_plain_http_post(sbx):
    path = p("ul.txt")
    url = sbx.upload_url(path)
    r = httpx.post(url, files={"file": ("ul.txt", b"uploaded bytes")}, timeout=60)
    assert r.status_code == 200, r.text
    assert sbx.files.read(path) == "uploaded bytes"


def test_read_gzip_file_content_not_double_decoded(sbx):
    # A file that is itself gzip data comes back byte for byte.
    path = p("real.gz")
    blob = gzip_mod.compress(b"inner")
    sbx.files.write(path, blob)
    assert bytes(sbx.files.read(path, format="bytes")) == blob
