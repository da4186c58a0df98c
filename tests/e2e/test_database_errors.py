"""``mock-xtnd serve --db`` with a file it cannot use (issue 12, item 4): one line naming the file and the cause, exit
2 - never a traceback, and never a write into a file that is not the fake's. Before the fix each of these printed a
31-line traceback (or, for another program's database, quietly added the fake's tables to it)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from mock_xtnd.runtime import Runtime
from mock_xtnd.settings import Settings
from tests.e2e.xtnd_process import command

pytestmark = pytest.mark.e2e


def serve_db(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command(), "serve", "--port", "0", "--db", str(path), *extra], capture_output=True,
                          text=True, timeout=60)


def real_database(path: Path) -> None:
    """A database the fake wrote, checkpointed so the main file holds everything."""
    rt = Runtime(Settings(db=str(path), catalogue={"products": 50}))
    assert rt.store is not None
    rt.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rt.store.close()


def not_sqlite(path: Path) -> None:
    path.write_text("these are not the bytes of a SQLite database, just text\n" * 10)


def truncated(path: Path) -> None:
    real_database(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def a_directory(path: Path) -> None:
    path.mkdir()


def another_programs(path: Path) -> None:
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()


CASES = {
    "not SQLite": (not_sqlite, "not a mock-xtnd SQLite database"),
    "truncated": (truncated, "damaged"),
    "a directory": (a_directory, "it is a directory"),
    "another program's": (another_programs, "another program's SQLite database (tables: invoices)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_database_is_one_line_naming_the_file_and_the_cause_and_exit_2(tmp_path: Path, case: str) -> None:
    make, cause = CASES[case]
    path = tmp_path / "state.db"
    make(path)
    before = path.read_bytes() if path.is_file() else None
    done = serve_db(path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and cause in lines[0], lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""
    if before is not None:
        assert path.read_bytes() == before, "the file was left as it was"


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    done = serve_db(tmp_path / "nowhere" / "state.db")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"mock-xtnd: cannot open database {tmp_path / 'nowhere' / 'state.db'}: its directory "
        f"{tmp_path / 'nowhere'} does not exist"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files; checked by hand on a read-only mount "
                                              "(docs/reliability.md)")
def test_a_read_only_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    real_database(path)
    path.chmod(0o444)
    done = serve_db(path)
    assert done.returncode == 2
    assert "read-only" in done.stderr and str(path) in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_non_loopback_bind_warns_before_anything_else(tmp_path: Path) -> None:
    """The warning for a non-loopback address comes before anything else (here the database error stops the
    start before the socket is bound, so nothing listens beyond loopback in this test)."""
    path = tmp_path / "state.db"
    not_sqlite(path)
    done = serve_db(path, "--host", "0.0.0.0")
    assert done.returncode == 2
    warning, error = done.stderr.strip().splitlines()
    assert warning.startswith("mock-xtnd: warning: listening on 0.0.0.0") and "admin_token" in warning
    assert error.startswith(f"mock-xtnd: cannot use database {path}")
