"""The operator on an audit row is who the kernel says runs the process, whatever the environment claims."""

import os
import pwd

import pytest

from balance_tui.store.identity import Operator

SPOOFED = {"USER": "mallory", "LOGNAME": "mallory", "USERNAME": "mallory", "SUDO_USER": "mallory"}


def test_the_name_comes_from_the_uid_not_from_user_or_logname() -> None:
    operator = Operator.current(SPOOFED)
    assert operator.name == pwd.getpwuid(os.getuid()).pw_name != "mallory"
    assert operator.sudo_user is None  # SUDO_USER is never read; SUDO_UID is not set


def test_sudo_uid_counts_only_for_a_root_process() -> None:
    nobody = pwd.getpwnam("nobody")
    operator = Operator.current({**SPOOFED, "SUDO_UID": str(nobody.pw_uid)})
    if os.getuid() == 0:
        assert operator.sudo_user == "nobody"  # the account of SUDO_UID, not the SUDO_USER text
    else:
        assert operator.sudo_user is None


@pytest.mark.parametrize(
    ("connection", "origin"),
    [
        ("203.0.113.7 50022 10.0.0.1 22", "203.0.113.7 port 50022"),
        ("2001:db8::1 41000 2001:db8::2 22", "2001:db8::1 port 41000"),
        ("not-an-ip 1 2 3", None),
        ("203.0.113.7 x 10.0.0.1 22", None),
        ("", None),
    ],
)
def test_ssh_origin_is_taken_from_ssh_connection(connection: str, origin: str | None) -> None:
    assert Operator.current({"SSH_CONNECTION": connection}).ssh_origin == origin


def test_the_terminal_is_the_one_the_process_is_attached_to() -> None:
    attached = next((os.ttyname(fd) for fd in (0, 1, 2) if os.isatty(fd)), None)
    assert Operator.current({}).tty == attached
