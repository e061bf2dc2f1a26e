"""Where `posefast run` writes, whatever the place: one job per file however it is
reached (hard links, symlinks, another mount), nothing of the user's destroyed (a
FIFO, /dev/null, a folder of their files), everything checked before an output is
touched, and a full disk or a folder it may not write said in a message, never a
traceback or a file left behind."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES
from places import fill, small_disk, unprivileged
from test_cli import FAST, _list_of, records, wait_for_lines
from test_cli_output import others_are_refused

from posefast.job.settings_file import settings_path
from posefast.job.whole_file import SUFFIX


def _no_traceback(r):
    assert "Traceback" not in r.stderr, r.stderr


def _run(*args, cmd_prefix=(), cwd=None, umask=None):
    """`posefast run ARGS` in a process of its own (``cmd_prefix``: e.g. setpriv)."""
    def child():
        if umask is not None:
            os.umask(umask)
    return subprocess.run([*cmd_prefix, sys.executable, "-m", "posefast", "run",
                           *map(str, args)], capture_output=True, text=True, timeout=180,
                          cwd=cwd, preexec_fn=child)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((SUFFIX, ".tmp", ".lock")))


# -- one job per file ---------------------------------------------------------------

@pytest.mark.parametrize("how", ["symlinks", "hard link", "bind mount"])
def test_two_jobs_on_one_file_reached_by_two_names_do_not_both_write_it(pipeline, tmp_path,
                                                                        how):
    """The lock belongs to the file, not to a name: through two symlinks in two
    folders, a hard link, or the folder mounted a second time, the second job is
    refused naming the first, and the file holds the first job's records once."""
    lst, expected = _list_of(tmp_path, 200)
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = real_dir / "out.jsonl"
    if how == "symlinks":
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        first_name, second_name = tmp_path / "a" / "o.jsonl", tmp_path / "b" / "o.jsonl"
        first_name.symlink_to(real)
        second_name.symlink_to(real)
    elif how == "hard link":
        real.write_bytes(b"")
        first_name, second_name = real, tmp_path / "alias.jsonl"
        os.link(real, second_name)
    else:  # the file mounted at another name in another folder
        real.write_bytes(b"")
        (tmp_path / "elsewhere").mkdir()
        mount = tmp_path / "elsewhere" / "poses.jsonl"
        mount.write_bytes(b"")
        r = subprocess.run(["mount", "--bind", str(real), str(mount)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot bind-mount here: {r.stderr.strip()}")
        first_name, second_name = real, mount
    try:
        slow = [FAST[0], FAST[1], "--input-size", "481x641"]
        first = subprocess.Popen([sys.executable, "-m", "posefast", "run", f"@{lst}",
                                  "--output", str(first_name), "--workers", "1", *slow],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_for_lines(real, 2, first)
        others_are_refused(first, f"@{lst}", second_name, slow)
        assert first.wait(timeout=300) == 0, first.stderr.read()
        assert [rec["source"] for rec in records(real)] == lst.read_text().split()
    finally:
        if how == "bind mount":
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _locked_elsewhere(path) -> str:
    """What a lock taken by another process on ``path`` says (an empty string when
    it was taken)."""
    code = ("import sys\nfrom posefast.job.lock import OutputLock\nfrom posefast.job.errors "
            "import OutputError\ntry:\n    OutputLock(sys.argv[1]).release()\n"
            "except OutputError as exc:\n    print(exc)\n")
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=60).stdout


def test_the_lock_follows_a_file_put_in_place_by_resume(tmp_path):
    """--resume rewrites the output (its cut last line, its error records to redo) and
    renames the new file over it: the lock, on the old file, must move to the new one,
    or a second job would lock the new file and write it too."""
    from posefast.job.lock import OutputLock

    out = tmp_path / "out.jsonl"
    out.write_text("{}\n")
    lock = OutputLock(str(out))
    assert f"process {os.getpid()}" in _locked_elsewhere(out)
    new = tmp_path / "new"
    new.write_text("{}\n")
    os.replace(new, out)  # as resume's rewrite does
    assert _locked_elsewhere(out) == ""  # the new file is not locked yet
    lock.follow()
    assert f"process {os.getpid()}" in _locked_elsewhere(out)
    lock.release()
    assert _locked_elsewhere(out) == "" and out.read_text() == "{}\n"  # kept: not made here
    # a new output is made empty to be locked: removed at release if nothing came,
    # unless the job took it as its own (a JSON Lines file with no record yet)
    fresh = tmp_path / "fresh.parquet"
    OutputLock(str(fresh)).release()
    assert not fresh.exists()
    lock = OutputLock(str(fresh))
    lock.keep()
    lock.release()
    assert fresh.exists()


def test_an_output_name_of_255_bytes_works(pipeline, tmp_path):
    """The lock file OUTPUT.lock made such names too long (refused); the settings file
    and the temporary files of COCO and Parquet take shorter names."""
    for fmt, ext in (("jsonl", ".jsonl"), ("parquet", ".parquet")):
        out = tmp_path / ("p" * (255 - len(ext)) + ext)
        r = _run(IMAGES / "standing.png", "--output", out, "--format", fmt, *FAST)
        assert r.returncode == 0, r.stderr
        _no_traceback(r)
        assert out.stat().st_size > 0
    assert json.loads(Path(settings_path(str(tmp_path / ("p" * 249 + ".jsonl")))).read_text())
    assert _leftovers(tmp_path) == []


# -- FIFOs, devices, symlinks, modes ---------------------------------------------------

def test_parquet_output_never_replaces_a_fifo_or_a_device(pipeline, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = {}

    def reader():
        with open(fifo, "rb") as f:
            got["data"] = f.read()

    t = threading.Thread(target=reader)
    t.start()
    r = _run(IMAGES / "couple.jpg", "--format", "parquet", "--output", fifo, *FAST)
    t.join(timeout=60)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO
    table = pq.read_table(pa.BufferReader(got["data"]))
    assert table.column("source").to_pylist() == [str(IMAGES / "couple.jpg")]
    # a character device: written in place, never replaced (as root /dev/null would be)
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
    r = _run(IMAGES / "couple.jpg", "--format", "parquet", "--output", null, *FAST)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    # a block device (a disk): refused before any work, in every format (the numbers
    # of a device that does not exist: nothing could be written were it not refused)
    disk = tmp_path / "disk"
    os.mknod(disk, 0o666 | stat.S_IFBLK, os.makedev(240, 7))
    numbered = tmp_path / "000000000001.jpg"
    numbered.write_bytes((IMAGES / "couple.jpg").read_bytes())
    for fmt in ("jsonl", "coco", "parquet"):
        r = _run(numbered, "--format", fmt, "--output", disk, *FAST)
        assert r.returncode == 2 and "is a block device" in r.stderr, r.stderr
        assert "done" not in r.stderr
    assert _leftovers(tmp_path) == []


def test_parquet_output_respects_the_umask_and_writes_through_a_symlink(pipeline, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "poses.parquet"
    r = _run(IMAGES / "standing.png", "--format", "parquet", "--output", out, *FAST,
             umask=0o022)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # was 0600 whatever the umask
    real = tmp_path / "real.parquet"
    link = tmp_path / "link.parquet"
    link.symlink_to(real)
    r = _run(IMAGES / "standing.png", "--format", "parquet", "--output", link, *FAST)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and real.stat().st_size > 0  # the link is kept, its target written


def test_temporary_files_of_a_killed_job_are_removed_by_the_next(pipeline, tmp_path):
    """A COCO or Parquet job killed while it runs leaves its temporary file; the next
    job on that output removes it (and only those of that output)."""
    from posefast.job.whole_file import temporary_prefix

    pytest.importorskip("pyarrow")
    out = tmp_path / "poses.parquet"
    stale = tmp_path / f"{temporary_prefix(str(out))}abc123{SUFFIX}"
    stale.write_bytes(b"left by a killed job")
    other = tmp_path / f"{temporary_prefix(str(tmp_path / 'other.parquet'))}abc123{SUFFIX}"
    other.write_bytes(b"another output's")
    mine = tmp_path / "poses.parquet.abc.tmp"  # the user's own file
    mine.write_bytes(b"x")
    r = _run(IMAGES / "standing.png", "--format", "parquet", "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and other.exists() and mine.exists()
    # a job killed mid-way: its temporary file is removed by the next run
    lst, _ = _list_of(tmp_path, 40)
    killed = tmp_path / "killed.parquet"
    slow = [FAST[0], FAST[1], "--input-size", "481x641"]
    job = subprocess.Popen([sys.executable, "-m", "posefast", "run", f"@{lst}", "--format",
                            "parquet", "--output", str(killed), "--workers", "1", *slow],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prefix = temporary_prefix(str(killed))
    deadline = time.monotonic() + 60
    while not [p for p in tmp_path.iterdir() if p.name.startswith(prefix)]:
        assert job.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    job.kill()
    job.wait()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(prefix)]
    r = _run(IMAGES / "standing.png", "--format", "parquet", "--output", killed, *FAST)
    assert r.returncode == 0, r.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(prefix)]


# -- checked before any output is touched -----------------------------------------------

@pytest.mark.parametrize("fmt", ["jsonl", "coco", "parquet"])
def test_a_bad_render_dir_is_refused_before_any_output_is_touched(pipeline, tmp_path, fmt):
    """--render-dir that cannot be made (under a file), that is a file, or that is
    read-only: exit 2 before anything is posed; an old output kept whole with
    --overwrite, a new one never made, no temporary file left."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    image = tmp_path / "000000000001.png"
    image.write_bytes((IMAGES / "standing.png").read_bytes())
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder")
    read_only = tmp_path / "ro"
    read_only.mkdir(mode=0o555)
    out = tmp_path / f"out.{fmt}"
    r = _run(image, "--format", fmt, "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    before = out.read_bytes()
    fresh = tmp_path / f"fresh.{fmt}"
    for render_dir in (a_file / "drawings", a_file, read_only):
        for target, extra in ((out, ["--overwrite"]), (fresh, [])):
            r = _run(image, "--format", fmt, "--output", target, "--render-dir", render_dir,
                     *FAST, *extra, cmd_prefix=unprivileged([]))
            assert r.returncode == 2, r.stderr
            assert "--render-dir" in r.stderr and "done" not in r.stderr
            _no_traceback(r)
        assert out.read_bytes() == before
        assert not fresh.exists()
        assert _leftovers(tmp_path) == []
    assert list(read_only.iterdir()) == []
    # and a good one: the same command runs
    r = _run(image, "--format", fmt, "--output", fresh, "--render-dir", tmp_path / "drawn",
             *FAST)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "drawn" / "000000000001.png").exists()


def test_a_drawing_that_fails_while_the_job_runs_makes_it_exit_1(pipeline, tmp_path):
    """The records are all written, the failure is said, and the exit status says it
    (a job whose every drawing failed exited 0)."""
    drawn = tmp_path / "drawn"
    (drawn / "standing.png").mkdir(parents=True)  # where the drawing would go: a folder
    out = tmp_path / "out.jsonl"
    r = _run(IMAGES / "standing.png", IMAGES / "couple.jpg", "--output", out, "--render-dir",
             drawn, *FAST)
    assert r.returncode == 1, r.stderr
    assert "1 drawing(s) into --render-dir failed" in r.stderr and "standing.png" in r.stderr
    _no_traceback(r)
    assert len(records(out)) == 2 and (drawn / "couple.png").is_file()


# -- a full disk, a folder it may not write: messages, not tracebacks ---------------------

def test_parquet_on_a_full_disk_is_a_message_and_leaves_nothing(pipeline, tmp_path):
    pytest.importorskip("pyarrow")
    with small_disk(tmp_path / "disk", 64) as disk:
        fill(disk)
        for fmt in ("parquet", "jsonl"):
            out = disk / f"out.{fmt}"
            r = _run(IMAGES / "couple.jpg", IMAGES / "standing.png", "--format", fmt,
                     "--output", out, *FAST)
            assert r.returncode == 1, r.stderr
            assert "no space left" in r.stderr
            _no_traceback(r)
            left = {p.name: p.stat().st_size for p in disk.iterdir()}
            # (an empty JSON Lines file is what the job wrote: --resume finishes it)
            assert left == ({"filler": left["filler"]} if fmt == "parquet" else
                            {"filler": left["filler"], "out.jsonl": 0}), fmt
        # room for the lock and the settings, none for the records
        (disk / "filler").unlink()
        fill(disk)


def test_a_writable_file_in_a_folder_it_may_not_write(pipeline, tmp_path):
    """Parquet and COCO write the file in place (no temporary file can go beside it);
    --resume, which must rewrite the file to drop a cut last line, says why it cannot."""
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    folder = tmp_path / "locked"
    folder.mkdir()
    out = folder / "poses.parquet"
    out.write_bytes(b"")
    out.chmod(0o666)
    jsonl = folder / "poses.jsonl"
    r = _run(IMAGES / "standing.png", "--output", jsonl, *FAST)
    assert r.returncode == 0, r.stderr
    jsonl.write_text(jsonl.read_text() + '{"source": "cut sh')
    jsonl.chmod(0o666)
    folder.chmod(0o555)
    try:
        r = _run(IMAGES / "standing.png", "--format", "parquet", "--output", out, *FAST,
                 cmd_prefix=unprivileged([]))
        assert r.returncode == 0, r.stderr
        _no_traceback(r)
        assert len(pq.read_table(out)) == 1
        r = _run(IMAGES / "standing.png", IMAGES / "couple.jpg", "--output", jsonl, "--resume",
                 *FAST, cmd_prefix=unprivileged([]))
        assert r.returncode == 2 and "cannot rewrite" in r.stderr, r.stderr
        _no_traceback(r)
    finally:
        folder.chmod(0o755)
    assert _leftovers(folder) == []


# -- the records, as readers take them ---------------------------------------------------

def test_json_lines_load_in_dataframe_readers_as_they_are(pipeline, tmp_path):
    """No header line: pandas, DuckDB and Polars read every line as a record, with the
    record's columns only."""
    pd = pytest.importorskip("pandas")
    out = tmp_path / "poses.jsonl"
    r = _run(IMAGES / "couple.jpg", IMAGES / "standing.png", "--output", out, *FAST)
    assert r.returncode == 0, r.stderr
    columns = ["source", "frame", "time", "width", "height", "poses", "error"]
    df = pd.read_json(out, lines=True)
    assert list(df.columns) == columns and len(df) == 2
    assert list(df["source"]) == [str(IMAGES / "couple.jpg"), str(IMAGES / "standing.png")]
    duckdb = pytest.importorskip("duckdb")
    rel = duckdb.sql(f"SELECT * FROM read_json('{out}', format='newline_delimited')")
    assert rel.columns == columns and len(rel.fetchall()) == 2
    try:
        import polars as pl
    except ImportError:
        return
    frame = pl.read_ndjson(out)
    assert frame.columns == columns and frame.height == 2


def test_json_lines_to_stdout_reach_the_reader_record_by_record(pipeline, tmp_path):
    """`posefast run ... | reader`: each record is on the pipe as soon as it is done,
    while the job runs, not when it ends."""
    lst, expected = _list_of(tmp_path, 200)
    slow = [FAST[0], FAST[1], "--input-size", "481x641"]
    job = subprocess.Popen([sys.executable, "-m", "posefast", "run", f"@{lst}", "--workers", "1",
                            *slow], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = json.loads(job.stdout.readline())
        assert first["source"] == lst.read_text().split()[0]
        assert job.poll() is None, "the first record came only when the job ended"
        second = json.loads(job.stdout.readline())
        assert job.poll() is None
        rest = [json.loads(line) for line in job.stdout.read().splitlines()]
    except BaseException:
        job.kill()
        raise
    finally:
        job.wait(timeout=180)
    assert job.returncode == 0
    assert [r["source"] for r in [first, second, *rest]] == lst.read_text().split()
