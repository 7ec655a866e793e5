"""A real S3-compatible server for tests: moto's server mode on a free loopback port, started and stopped by
the test itself. Every client (this process, subprocesses, worker processes) reaches it through the standard
``AWS_ENDPOINT_URL`` variable, with throwaway credentials that only this local server accepts."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
DROP = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


@contextmanager
def s3_server() -> Iterator[str]:
    """Start moto on 127.0.0.1 (port chosen by the OS); yields its endpoint URL with the environment pointing at it."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    import s3fs

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in (*ENV, *DROP, "AWS_ENDPOINT_URL")}
    os.environ.update(ENV, AWS_ENDPOINT_URL=endpoint)
    for k in DROP:
        os.environ.pop(k, None)
    s3fs.S3FileSystem.clear_instance_cache()  # a cached client would still point at an earlier server
    try:
        yield endpoint
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def new_bucket() -> str:
    """A fresh bucket on the running server; returns ``s3://name``."""
    import s3fs

    name = f"t-{uuid.uuid4().hex[:12]}"
    s3fs.S3FileSystem().mkdir(name)
    return f"s3://{name}"


def upload(local: Path, url: str) -> str:
    """Copy a local file or folder (recursively) to ``url``; returns ``url``."""
    import s3fs

    fs = s3fs.S3FileSystem()
    target = url.split("://", 1)[1]
    if local.is_dir():
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            fs.put_file(str(path), f"{target}/{path.relative_to(local).as_posix()}")
    else:
        fs.put_file(str(local), target)
    return url


def local_files(root: Path) -> dict[str, bytes]:
    """Every file under a local folder: relative path -> bytes (what ``listing`` is for a remote one)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def listing(url: str) -> dict[str, bytes]:
    """Every object under ``url``: relative key -> bytes, read back from the server."""
    import s3fs

    fs = s3fs.S3FileSystem()
    fs.invalidate_cache()
    base = url.split("://", 1)[1].rstrip("/")
    return {k[len(base) + 1:]: fs.cat_file(k) for k in sorted(fs.find(base))}
