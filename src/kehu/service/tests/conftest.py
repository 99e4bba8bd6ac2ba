"""Fixtures of the service tests: a real IMAP server (Debian's dovecot) for the mail tests.

``imap_server`` starts dovecot as an unprivileged process with its own configuration in a
temporary directory: passwd-file authentication with one test user, maildir storage, plain IMAP
and IMAP over SSL (a self-signed certificate) on free ports of 127.0.0.1. It is stopped after the
session. Without the dovecot binary the tests that need it are skipped (CI installs
``dovecot-imapd``, see ``.ci/run``).
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or next(
    (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.path.exists(p)), None
)
OPENSSL = shutil.which("openssl")


@dataclass
class ImapServer:
    """A running dovecot: where it listens and the test user's credentials."""

    host: str
    port: int
    ssl_port: int
    username: str
    password: str
    root: Path

    @property
    def cert_file(self) -> Path:
        """The server's self-signed certificate (trust it with SSL_CERT_FILE)."""
        return self.root / "cert.pem"

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(self.username, self.password)
        return conn

    def append(self, message: EmailMessage | bytes, folder: str = "INBOX") -> None:
        """Put a message in the test user's mailbox (IMAP APPEND)."""

        raw = message if isinstance(message, bytes) else message.as_bytes()
        conn = self.connect()
        try:
            typ, data = conn.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def clear(self, folder: str = "INBOX") -> None:
        """Empty a folder (the UIDs keep counting up, as on a real server)."""

        conn = self.connect()
        try:
            conn.select(folder)
            conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
            conn.expunge()
        except imaplib.IMAP4.error:
            pass
        finally:
            conn.logout()

    def create(self, folder: str) -> None:
        conn = self.connect()
        try:
            typ, data = conn.create(folder)
            assert typ == "OK" or b"exists" in (data[0] or b""), data
        finally:
            conn.logout()

    def reset_uidvalidity(self, folder: str) -> None:
        """Delete and recreate a folder (not INBOX): the server gives it a new UIDVALIDITY."""

        conn = self.connect()
        try:
            typ, data = conn.delete(folder)
            assert typ == "OK", data
            typ, data = conn.create(folder)
            assert typ == "OK", data
        finally:
            conn.logout()

    def uidvalidity(self, folder: str = "INBOX") -> int:
        conn = self.connect()
        try:
            typ, data = conn.status(folder, "(UIDVALIDITY)")
            assert typ == "OK", data
            text = data[0].decode() if isinstance(data[0], bytes) else str(data[0])
            return int(text.rsplit("UIDVALIDITY", 1)[1].strip(" )"))
        finally:
            conn.logout()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
ssl_dh =
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
  unix_listener stats-reader {{
    user = {user}
  }}
  unix_listener stats-writer {{
    user = {user}
  }}
}}
"""


@pytest.fixture(scope="session")
def imap_server() -> Iterator[ImapServer]:
    """A real dovecot IMAP server for the session (skipped when dovecot is not installed)."""

    if DOVECOT is None:
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd); CI installs it")
    if OPENSSL is None:
        pytest.skip("openssl is not installed: the IMAP test server needs a certificate")
    root = Path(tempfile.mkdtemp(prefix="kehu-dovecot-"))
    # Run unprivileged: as ourselves, or as nobody when the tests run as root.
    as_root = os.geteuid() == 0
    account = pwd.getpwnam("nobody") if as_root else pwd.getpwuid(os.geteuid())
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    subprocess.run(
        [
            OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = ImapServer(
        host="127.0.0.1",
        port=_free_port(),
        ssl_port=_free_port(),
        username="agent@example.test",
        password="s3cret-imap",
        root=root,
    )
    (root / "passwd").write_text(f"{server.username}:{{PLAIN}}{server.password}::::::\n")
    (root / "dovecot.conf").write_text(
        CONFIG.format(
            root=root,
            user=account.pw_name,
            group=_group_name(account.pw_gid),
            uid=account.pw_uid,
            gid=account.pw_gid,
            port=server.port,
            ssl_port=server.ssl_port,
        )
    )
    command = [DOVECOT, "-F", "-c", str(root / "dovecot.conf")]
    if as_root:
        for path in [root, *root.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root needs setpriv to start dovecot as nobody")
        command = [
            setpriv, f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
            "--clear-groups", *command,
        ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 15
    ready = _wait_listening(server.port, deadline) and _wait_listening(server.ssl_port, deadline)
    if not ready:
        process.kill()
        _, err = process.communicate(timeout=5)
        log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"dovecot did not start: {err.decode(errors='replace')}\n{log}")
    try:
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        shutil.rmtree(root, ignore_errors=True)


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


@pytest.fixture
def imap_inbox(imap_server: ImapServer) -> ImapServer:
    """The IMAP server with an empty INBOX for one test."""

    imap_server.clear()
    return imap_server
