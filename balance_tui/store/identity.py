"""Who made a change, as the operating system attests it: never typed, never read from $USER or $LOGNAME.

`getpass.getuser()` trusts LOGNAME/USER, which anyone can set; the kernel's uid cannot be set by the
caller. Under sudo the uid is 0, so the invoking user is added from SUDO_UID (only then: a non-root
process could claim any SUDO_UID). SSH origin and terminal are informational context for the audit row.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Operator:
    name: str  # the account of the process uid
    sudo_user: str | None = None  # who ran sudo, when the process runs as root through it
    ssh_origin: str | None = None  # "client-ip port N" from SSH_CONNECTION, as sshd logs it
    tty: str | None = None  # the terminal the process is attached to

    @classmethod
    def current(cls, env: Mapping[str, str] = os.environ) -> Operator:
        uid = os.getuid()
        sudo_uid = env.get("SUDO_UID")
        return cls(
            name=_account(uid),
            sudo_user=_account_named(sudo_uid) if uid == 0 and sudo_uid else None,
            ssh_origin=_ssh_origin(env.get("SSH_CONNECTION", "")),
            tty=_terminal(),
        )

    def describe(self) -> str:
        via = f" (sudo by {self.sudo_user})" if self.sudo_user else ""
        where = f" from {self.ssh_origin}" if self.ssh_origin else ""
        return f"{self.name}{via}{where}"


def _account(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry (containers): the number is still attested
        return f"uid {uid}"


def _account_named(uid_text: str) -> str:
    return _account(int(uid_text)) if uid_text.isascii() and uid_text.isdigit() else f"uid {uid_text[:16]!r}"


def _ssh_origin(connection: str) -> str | None:
    parts = connection.split()
    if len(parts) != 4 or not parts[1].isdigit():
        return None
    try:
        return f"{ipaddress.ip_address(parts[0])} port {parts[1]}"
    except ValueError:
        return None


def _terminal() -> str | None:
    for fd in (0, 1, 2):
        try:
            return os.ttyname(fd)
        except OSError:
            continue
    return None
