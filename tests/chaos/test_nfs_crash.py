"""The nfs service's server crashes while users write: nothing acknowledged is lost.

Two kinds of writer run through the crash, each appending fixed-size records that carry
their own sha256, so a lost, torn or altered record is found on reading back:

- in each of two labs, a process started from a kernel appends and fsyncs records to a
  file in the home: what users' code does. In storage mode nfs (an engine whose kernel
  mounts NFS) those writes go through the crashed server; in storage mode volume (the
  machines devlab is developed on: no kernel NFS client) labs mount the volumes
  directly, and this shows that an nfs crash costs labs nothing;
- from this host, an NFSv4.1 client (nfs-rs, as each user) writes records into the same
  homes through the nfs service's published port; a write that returned is durable
  (FILE_SYNC or COMMIT). It rides through the crash by reconnecting and rewriting the
  record it was writing at its fixed offset (idempotent), as a hard-mounted client would.

A writer's acknowledged records must all read back with the right checksum, through NFS
and from the lab alike (bytes lost: 0); the nfs service must be healthy again by itself;
both kinds of writer must carry on; the labs must still run and execute (labs lost: 0).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from functools import partial

import docker
import nfs_rs
import pytest

from devlab.polling import poll_until
from devlab.stack import engine
from devlab.testing.crash import crash
from devlab.testing.lab import Lab, LabError

USERS = {"alice": 7000001, "bob": 7000002}  # uid = gid: the user-private group
RECORD = 139  # bytes: "%08d <64 hex of payload> <64 hex of sha256>\n"
LAB_LOG = "chaos-nfs-lab-writer.log"
NFS_LOG = "chaos-nfs-client-writer.log"
BEFORE_CRASH = 20  # records each writer acknowledges before the crash
AFTER_BACK = 20  # records each writer must acknowledge once nfs is healthy again


def record(seq: int) -> bytes:
    body = f"{seq:08d} {os.urandom(32).hex()}"
    return f"{body} {hashlib.sha256(body.encode()).hexdigest()}\n".encode()


def valid_records(data: bytes) -> list[bool]:
    """Per RECORD-sized slot of `data`: whether it holds its own sequence number and an
    intact checksum (a torn or missing record is False)."""
    slots = []
    for seq in range(len(data) // RECORD):
        line = data[seq * RECORD : (seq + 1) * RECORD].decode(errors="replace")
        body, _, digest = line.rstrip("\n").rpartition(" ")
        slots.append(
            line.endswith("\n")
            and body.startswith(f"{seq:08d} ")
            and hashlib.sha256(body.encode()).hexdigest() == digest
        )
    return slots


def bytes_lost(data: bytes, acknowledged: int) -> int:
    """Bytes of the first `acknowledged` records that do not read back intact."""
    slots = valid_records(data)[:acknowledged]
    return (acknowledged - sum(slots)) * RECORD


# Runs in the lab, started from a kernel in a session of its own, so it outlives the
# kernel: append, fsync, repeat until LOG.stop exists; then LOG.acked holds the count.
_LAB_WRITER = """
import hashlib, os, sys, time
path = sys.argv[1]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
seq = 0
while not os.path.exists(path + ".stop"):
    body = f"{seq:08d} {os.urandom(32).hex()}"
    os.write(fd, f"{body} {hashlib.sha256(body.encode()).hexdigest()}\\n".encode())
    os.fsync(fd)
    seq += 1
    with open(path + ".count", "w") as f:
        f.write(str(seq))
    time.sleep(0.05)
with open(path + ".acked", "w") as f:
    f.write(str(seq))
    f.flush()
    os.fsync(f.fileno())
"""

_START_LAB_WRITER = """
import os, subprocess, sys
path = os.path.expanduser({path!r})
subprocess.Popen([sys.executable, "-c", {code!r}, path], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                 stderr=open(path + ".err", "w"))
"""


def start_lab_writer(lab: Lab) -> None:
    started = lab.execute(_START_LAB_WRITER.format(path=f"~/{LAB_LOG}", code=_LAB_WRITER))
    assert started.ok, started.error


def lab_writer_count(lab: Lab) -> int:
    try:
        return int(lab.read_file(f"{LAB_LOG}.count") or 0)
    except LabError:  # not written yet
        return 0


class NfsWriter(threading.Thread):
    """Writes records at fixed offsets through the nfs service as `user`, reconnecting
    after any failure and rewriting the record it was on; `acked` counts the writes that
    returned (each durable on return)."""

    def __init__(self, port: int, user: str, uid: int) -> None:
        super().__init__(daemon=True, name=f"nfs-writer-{user}")
        self.port, self.user, self.uid = port, user, uid
        self.path = f"{user}/{NFS_LOG}"  # in the homes export
        self.acked = 0
        self.errors: list[tuple[float, str]] = []  # (monotonic time, what failed)
        self.longest_stall = 0.0  # seconds between two acknowledged writes, at most
        self.stopping = threading.Event()

    def connect(self) -> nfs_rs.Client:
        return nfs_rs.Client.connect(
            "nfs://127.0.0.1/homes",
            versions=["4.1"],
            nfs_port=self.port,
            uid=self.uid,
            gid=self.uid,
            noresvport=True,  # ganesha does not ask for privileged ports
            connect_timeout=5,
            operation_timeout=3,  # a write to a dead server fails fast, then reconnects
        )

    def run(self) -> None:
        client = file = None
        last_ack = time.monotonic()
        while not self.stopping.is_set():
            data = record(self.acked)
            try:
                if file is None:
                    client = self.connect()
                    file = client.open(self.path, "r+b" if self.acked else "wb")
                file.write_at(data, self.acked * RECORD)
            except (nfs_rs.NfsError, OSError) as exc:
                self.errors.append((time.monotonic(), f"{type(exc).__name__}: {exc}"))
                # Closing waits for the dead connection's operations to settle (about
                # 6 s here): off this thread, so the writer reconnects at once.
                threading.Thread(target=_close, args=(file, client), daemon=True).start()
                client = file = None
                time.sleep(0.2)
                continue
            now = time.monotonic()
            self.longest_stall = max(self.longest_stall, now - last_ack)
            last_ack = now
            self.acked += 1
            time.sleep(0.05)
        _close(file, client)

    def read_back(self) -> bytes:
        with self.connect() as client, client.open(self.path, "rb") as file:
            return file.read()


def _close(*handles: nfs_rs.File | nfs_rs.Client | None) -> None:
    for handle in handles:
        try:
            if handle is not None:
                handle.close()
        except (nfs_rs.NfsError, OSError):
            pass  # a connection the crash broke


def _nfs(client: docker.DockerClient, stack: str):
    (container,) = engine.service_containers(client, stack, "nfs")
    container.reload()
    return container


def _back(client: docker.DockerClient, stack: str, restarts: int) -> bool:
    container = _nfs(client, stack)
    health = (container.attrs["State"].get("Health") or {}).get("Status")
    return container.attrs["RestartCount"] > restarts and health == "healthy"


@pytest.fixture
def labs(devlab) -> dict[str, Lab]:
    return {user: devlab.login(user).spawn() for user in USERS}


def test_nfs_server_crash_loses_no_acknowledged_write(devlab, labs, chaos_report):
    mode = devlab.status().storage_mode
    client = docker.from_env()
    lab_ids = {user: engine.lab_containers(client, devlab.name, user)[0].id for user in USERS}
    nfs_writers = [NfsWriter(devlab.nfs_port, user, uid) for user, uid in USERS.items()]
    for lab in labs.values():
        start_lab_writer(lab)
    for writer in nfs_writers:
        writer.start()
    try:
        poll_until(
            lambda: (
                all(lab_writer_count(lab) >= BEFORE_CRASH for lab in labs.values())
                and all(w.acked >= BEFORE_CRASH for w in nfs_writers)
            ),
            f"every writer acknowledging {BEFORE_CRASH} records before the crash",
            timeout=60,
        )
        restarts = _nfs(client, devlab.name).attrs["RestartCount"]
        crash(_nfs(client, devlab.name), "ganesha.nfsd")  # the engine restarts it
        crashed = time.monotonic()
        poll_until(lambda: _back(client, devlab.name, restarts), "nfs healthy again", timeout=60)
        back_after = time.monotonic() - crashed
        # The writers carry on by themselves once the server is back.
        at_back = {user: lab_writer_count(lab) for user, lab in labs.items()}
        nfs_at_back = [w.acked for w in nfs_writers]
        poll_until(
            lambda: (
                all(
                    lab_writer_count(lab) >= at_back[user] + AFTER_BACK
                    for user, lab in labs.items()
                )
                and all(
                    w.acked >= n + AFTER_BACK for w, n in zip(nfs_writers, nfs_at_back, strict=True)
                )
            ),
            f"every writer acknowledging {AFTER_BACK} more records after the restart",
            timeout=60,
        )
    finally:
        for writer in nfs_writers:
            writer.stopping.set()
        for lab in labs.values():
            lab.write_file(f"{LAB_LOG}.stop", "")
        for writer in nfs_writers:
            writer.join(timeout=30)

    lost = 0
    for user, lab in labs.items():
        acked = int(poll_until(partial(_acked, lab), f"{user}'s lab writer stopping", timeout=30))
        lost += bytes_lost(lab.read_file(LAB_LOG, binary=True), acked)
    for writer in nfs_writers:
        through_nfs = writer.read_back()
        lost += bytes_lost(through_nfs, writer.acked)
        # The lab sees the very bytes the NFS client wrote.
        assert labs[writer.user].read_file(NFS_LOG, binary=True) == through_nfs
    lost_labs = [
        user
        for user, lab in labs.items()
        if [c.id for c in engine.lab_containers(client, devlab.name, user)] != [lab_ids[user]]
        or lab.execute("print(6 * 7)").stdout.strip() != "42"
    ]
    stall = max(w.longest_stall for w in nfs_writers)
    errors = [(w.user, round(t - crashed, 1), what) for w in nfs_writers for t, what in w.errors]
    print(
        f"storage mode {mode}; nfs healthy again after {back_after:.1f} s; NFS client writes "
        f"stalled {stall:.1f} s at most; NFS client errors (s after the crash): {errors}"
    )
    chaos_report.record("nfs crash: bytes lost", lost, "bytes", "0")
    chaos_report.record("nfs crash: labs lost", len(lost_labs), "labs", "0")
    chaos_report.record("nfs crash: seconds until nfs healthy again", back_after, "s", "-")
    chaos_report.record("nfs crash: longest NFS client write stall", stall, "s", "-")
    assert lost == 0
    assert lost_labs == []


def _acked(lab: Lab) -> str | None:
    try:
        return lab.read_file(f"{LAB_LOG}.acked") or None
    except LabError:  # not written yet
        return None
