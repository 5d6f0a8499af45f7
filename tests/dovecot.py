"""A throwaway Dovecot (IMAP and POP3) on 127.0.0.1 for the bounce-mailbox tests.

Debian's ``dovecot-imapd`` / ``dovecot-pop3d`` (``.ci/run`` installs them); each test gets its
own instance with its own configuration, one user (``bounces``, plain-text password) and a
Maildir that tests fill by writing files into it, as a local delivery agent would. Nothing of
the system's Dovecot configuration is used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "mailbox-test-password"

needs_dovecot = pytest.mark.skipif(
    not Path(DOVECOT).exists() or os.geteuid() != 0,
    reason="the mailbox tests start Dovecot (apt: dovecot-imapd dovecot-pop3d) as root",
)

_CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{root}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dovecot:
    """``with Dovecot(tmp_path) as server:`` — ``server.deliver(bytes)``, ``server.messages()``."""

    def __init__(self, root: Path) -> None:
        # Dovecot's socket paths must stay short: a directory of its own under /tmp.
        self.root = Path(f"/tmp/dv-{uuid.uuid4().hex[:8]}")
        self.imap_port, self.pop3_port = _free_port(), _free_port()
        #: implicit TLS (a self-signed certificate for 127.0.0.1: verify_tls = false)
        self.imaps_port, self.pop3s_port = _free_port(), _free_port()
        self.maildir = self.root / "home" / USER / "Maildir"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Dovecot:
        for sub in ("run", "state", "new", "cur", "tmp"):
            (self.maildir / sub if sub in ("new", "cur", "tmp") else self.root / sub).mkdir(
                parents=True, exist_ok=True
            )
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        config = self.root / "dovecot.conf"
        from smtpsink import self_signed_cert

        cert, key = self_signed_cert()
        config.write_text(
            _CONFIG.format(
                root=self.root,
                imap=self.imap_port,
                pop3=self.pop3_port,
                imaps=self.imaps_port,
                pop3s=self.pop3s_port,
                cert=cert,
                key=key,
            )
        )
        self._own()
        self._process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        for port in (self.imap_port, self.pop3_port, self.imaps_port, self.pop3s_port):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or self._process.poll() is not None:
                        log = (self.root / "dovecot.log").read_text(errors="replace")
                        raise RuntimeError(f"dovecot did not start: {log[-800:]}") from None
                    time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def deliver(self, message: bytes) -> None:
        """Put a message in the inbox, as a local delivery agent does (tmp → new)."""
        name = f"{time.time():.6f}.{uuid.uuid4().hex}.test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(message)
        tmp.rename(self.maildir / "new" / name)
        self._own()

    def messages(self) -> int:
        """Messages left in the inbox (not deleted)."""
        return sum(
            1 for sub in ("new", "cur") for p in (self.maildir / sub).iterdir() if p.is_file()
        )

    def seen(self) -> int:
        """Messages flagged as seen (``S`` in the Maildir info)."""
        return sum(
            1
            for p in (self.maildir / "cur").iterdir()
            if ":2," in p.name and "S" in p.name.split(":2,")[1]
        )

    def _own(self) -> None:
        for path in [self.root / "home", *(self.root / "home").rglob("*")]:
            shutil.chown(path, "nobody", "nogroup")
