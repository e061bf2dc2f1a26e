"""Places for output tests that a plain folder is not: a full disk (a small tmpfs,
mounted for the test) and a folder this process may not write (root is let write
anywhere, so its commands run without that power, see :func:`unprivileged`)."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest


@contextlib.contextmanager
def small_disk(where: Path, size_kib: int = 64) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` KiB mounted at ``where`` (made), unmounted at the end;
    the test is skipped where mounting is not allowed (not root, a container without
    CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(disk: Path) -> None:
    """Leave no space on ``disk``."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def unprivileged(cmd: list[str]) -> list[str]:
    """``cmd`` run without the power to write where the file modes say no: as root,
    through ``setpriv`` dropping CAP_DAC_OVERRIDE (skipped if it is missing)."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv (util-linux) to drop root's CAP_DAC_OVERRIDE")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]
