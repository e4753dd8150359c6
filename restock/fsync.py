"""Make a rename or a written file survive a power cut: fsync the file, then its folder.

``os.replace`` is atomic but not durable: after a crash the folder may still list the old name,
or the new name may point at a file whose data never reached the disk. Flushing the file before
the rename and the folder after it closes both gaps. One copy, used by publishing and by the SQL
source's snapshot writer.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_file(path: Path) -> None:
    """Flush the data of the file ``path`` to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush the entries (names) of the folder ``path`` to disk, e.g. after a rename in it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
