"""Inputs an attacker (or an unlucky user) gives: lists with a byte order mark or a
NUL, and files that are not regular files (a FIFO nobody writes to, /dev/zero)."""
from __future__ import annotations

import os
import shutil

import pytest

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES
from posefast.reading.images import ImageLoadError, load_image
from posefast.reading.inputs import InputError, expand_inputs
from test_cli import FAST, posefast, records


def test_a_list_with_a_byte_order_mark_keeps_its_first_entry(tmp_path):
    for name in ("a.png", "b.png"):
        shutil.copyfile(IMAGES / "standing.png", tmp_path / name)
    lst = tmp_path / "list.txt"
    lst.write_bytes("\ufeffa.png\r\nb.png\r\n".encode("utf-8"))  # as Notepad saves it
    got = [os.path.basename(s.path) for s in expand_inputs([f"@{lst}"])]
    assert got == ["a.png", "b.png"]  # before: "\ufeffa.png", an error record


def test_a_nul_in_a_list_names_the_list_and_the_line(pipeline, tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_bytes(b"# made by find\n" + str(IMAGES / "standing.png").encode() + b"\0"
                    + str(IMAGES / "sitting.png").encode() + b"\0\n")
    with pytest.raises(InputError, match=r"list\.txt'?, line 2: a NUL character"):
        expand_inputs([f"@{lst}"])
    r = posefast("run", f"@{lst}", *FAST)
    assert r.returncode == 2 and "line 2" in r.stderr and "embedded null" not in r.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_device_as_an_image_is_said_to_be_one_and_never_read(pipeline, tmp_path):
    fifo = tmp_path / "frame.jpg"
    os.mkfifo(fifo)  # nobody writes to it: reading would block for good
    with pytest.raises(ImageLoadError, match=r"frame\.jpg: is a FIFO \(named pipe\), not an"):
        load_image(fifo)
    inputs = [fifo, IMAGES / "standing.png"]
    if os.path.exists("/dev/zero"):
        inputs.append("/dev/zero")
    out = tmp_path / "poses.jsonl"
    r = posefast("run", *inputs, "--output", out, *FAST, timeout=60)
    assert r.returncode == 1, r.stderr
    errors = [rec["error"] for rec in records(out)]
    assert errors[0] == f"{fifo}: is a FIFO (named pipe), not an image file"
    assert errors[1] is None
    if os.path.exists("/dev/zero"):  # before: "empty file"
        assert errors[2] == "/dev/zero: is a character device, not an image file"
