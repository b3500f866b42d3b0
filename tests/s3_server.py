"""An S3 API on loopback for tests of object-store outputs: moto's server, with s3fs pointed at it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import fsspec
import pytest

from docvl.system import free_port


@contextmanager
def s3_bucket() -> Iterator[tuple[str, dict[str, str]]]:
    """(a new empty bucket's name, the environment that points s3fs at the server) while a moto server runs on
    127.0.0.1; skips the test when s3fs or moto is not installed. This process's s3fs is pointed there too."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"FSSPEC_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            patch.setitem(fsspec.config.conf, "s3", {"endpoint_url": env["FSSPEC_S3_ENDPOINT_URL"]})
            bucket = f"docvl-{uuid.uuid4().hex[:12]}"  # moto keeps its buckets per process, not per server
            fsspec.filesystem("s3", skip_instance_cache=True).mkdir(bucket)
            yield bucket, env
    finally:
        server.stop()
