"""Owner-only files and folders: everything the desk writes holds personal data.

One place creates them, so every file is 0600 from its first byte (never created with the umask's
mode and narrowed later), never follows a symlink planted where it is written, and a folder that
already existed keeps its mode (a shared /srv/fax or /tmp must not be locked to one user).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from intake.errors import StoreError

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents owner-only; a folder that already exists keeps its mode."""
    missing = []
    p = Path(path)
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, FOLDER_MODE)
        except FileExistsError:
            continue
        os.chmod(folder, FOLDER_MODE)  # whatever the umask
    if not Path(path).is_dir():
        raise StoreError(f"{path} is not a folder")
    return Path(path)


def create_private(path: Path, *, read: bool = False) -> int:
    """A new owner-only file, opened for writing (and reading): fails if anything is already there."""
    mode = os.O_RDWR if read else os.O_WRONLY
    fd = os.open(path, mode | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # whatever the umask
    return fd


def write_private(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` owner-only and atomically: a temporary file beside it, synced, then
    renamed over it, so a kill leaves the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.parent / f".{path.name[:100]}.{secrets.token_hex(6)}.tmp"
    fd = create_private(tmp)
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
