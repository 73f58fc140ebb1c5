"""The case store on SQLite and on a real PostgreSQL server that the tests start and stop
themselves (Debian's postgresql-15, run as the unprivileged ``postgres`` user when the tests run
as root: initdb refuses root), on 127.0.0.1 only."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

BINARIES = [Path("/usr/lib/postgresql/15/bin")]


def _bin(name: str) -> str | None:
    for folder in BINARIES:
        if (folder / name).is_file():
            return str(folder / name)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="oncopredict-pg-"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: the server runs as postgres
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    run = lambda *args: subprocess.run(  # noqa: E731
        [*as_user, *args], check=True, capture_output=True, text=True, timeout=120
    )
    run(initdb, "-D", str(data), "-A", "trust", "-U", "oncopredict", "--no-sync", "-E", "UTF8")
    options = f"-k {sockets} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log.txt"), "-w", "start")
    try:
        yield f"postgresql+psycopg://oncopredict@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    from sqlalchemy import create_engine, text

    from mmcrnet.store.store import CaseStore

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cases.sqlite'}"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"t{abs(hash(request.node.nodeid)) % 10**9}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            connection.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        url = base.rsplit("/", 1)[0] + f"/{name}"
    opened = CaseStore(url)
    yield opened
    opened.close()
