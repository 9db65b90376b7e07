"""Run server binaries as an unprivileged user when the stack is started by root.

PostgreSQL refuses to run as root; CI and many containers are root. Then the server runs
as the ``postgres`` system user (created by the Debian package) — ``subprocess`` switches
user and group itself, so no ``su``/``runuser`` parent sits between us and the server —
and its data folder belongs to that user.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

#: The system user servers run as when started by root.
SERVICE_USER = "postgres"


def running_as_root() -> bool:
    return os.geteuid() == 0


def service_user() -> str | None:
    """The user to run servers as: :data:`SERVICE_USER` when we are root, else None (us)."""
    if not running_as_root():
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError as exc:
        raise RuntimeError(
            f"running as root needs the system user {SERVICE_USER!r} (made by the Debian "
            "package postgresql); run `make install`"
        ) from exc
    return SERVICE_USER


def user_ids(user: str | None) -> tuple[int | None, int | None, list[int] | None]:
    """``subprocess``'s ``user``, ``group`` and ``extra_groups`` that run a child as
    ``user``: its uid, its primary gid and no other group; all None (unchanged) for None."""
    if user is None:
        return None, None, None
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid, []


def hand_over(path: Path) -> None:
    """Give ``path`` (recursively) to :data:`SERVICE_USER` when we are root."""
    if not running_as_root():
        return
    entry = pwd.getpwnam(SERVICE_USER)
    for folder, dirs, files in os.walk(path):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in (*dirs, *files):
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def check_reachable(path: Path) -> None:
    """Raise with the fix when :data:`SERVICE_USER` (we being root) cannot enter every
    folder above ``path`` — e.g. a state folder under a 0700 home or pytest temp dir."""
    if not running_as_root():
        return
    entry = pwd.getpwnam(SERVICE_USER)
    for folder in path.resolve().parents:
        st = folder.stat()
        if st.st_uid == entry.pw_uid or st.st_mode & 0o001:
            continue
        if st.st_gid == entry.pw_gid and st.st_mode & 0o010:
            continue
        raise RuntimeError(
            f"PostgreSQL runs as the user {SERVICE_USER!r}, which cannot enter {folder}; "
            f"put the stack's state elsewhere (FRAUDLAKE_STACK_STATE_DIR) or `chmod o+x {folder}`"
        )
