"""posefast on Ray: a real local Ray (started once for the module), the same records
as the local engine, bad inputs as error records, resume, Parquet, video frames."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from posefast.cli import main as cli  # noqa: E402
from posefast.config import load_config  # noqa: E402
from posefast.job.parquet import SCHEMA, table_to_records  # noqa: E402
from posefast.job.plan import with_backend_threads  # noqa: E402

from pipeline_ready import pipeline  # noqa: E402,F401  (a fixture)
from conftest import IMAGES, MODEL_353  # noqa: E402

FAST = ["--model", str(MODEL_353), "--input-size", "177x241"]
SHARED = sorted(IMAGES.iterdir())


def quiet_ray_env() -> None:
    """Before a test starts Ray: local addresses only, no dashboard, no usage stats."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.pop("RAY_ADDRESS", None)


@pytest.fixture(scope="module")
def local_ray(pipeline):
    quiet_ray_env()
    # address="local": a Ray of its own, even where one was left running here
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(pipeline, tmp_path_factory):
    """The shared images, a truncated JPEG, an empty and a non-image file, and an
    @list naming a missing file: every kind of input, good and bad."""
    folder = tmp_path_factory.mktemp("inputs")
    for p in SHARED:
        shutil.copy(p, folder / p.name)
    (folder / "cut.jpg").write_bytes((IMAGES / "couple.jpg").read_bytes()[:40000])
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.jpg").write_text("not an image\n")
    lst = folder.parent / "more.txt"
    lst.write_text(f"{folder / 'standing.png'}\n{folder / 'missing.jpg'}\n")
    return [str(folder), f"@{lst}"]


@pytest.fixture(scope="module")
def local_output(inputs, tmp_path_factory):
    """The file the local engine writes for ``inputs`` (its records; its settings
    beside it)."""
    out = tmp_path_factory.mktemp("local") / "local.jsonl"
    assert cli(["run", *inputs, "--output", str(out), "--workers", "2", "-q", *FAST]) == 1
    return out


@pytest.fixture(scope="module")
def local_records(local_output):
    """What the local engine writes for ``inputs``: the reference."""
    return read(local_output)


def distinct_names(folder, count):
    """``count`` paths cycling over the shared images, each a file of its own (a hard
    link, else a copy): an input named twice is posed once, so a long job needs
    distinct files. Returns (path, the shared image's name) pairs."""
    folder.mkdir()
    out = []
    for i in range(count):
        src = SHARED[i % len(SHARED)]
        dst = folder / f"{i:03d}_{src.name}"
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy(src, dst)
        out.append((str(dst), src.name))
    return out


def read(path):
    """The records of a JSON Lines output (every line is one)."""
    lines = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert all("source" in line for line in lines)
    return lines


def test_the_ray_engine_writes_the_local_engines_records(local_ray, inputs, local_records,
                                                         tmp_path, capsys):
    out = tmp_path / "ray.jsonl"
    assert cli(["run", *inputs, "--engine", "ray", "--output", str(out), *FAST]) == 1
    got = read(out)
    assert got == local_records  # same records, same input order
    failed = [r["source"] for r in got if r["error"]]
    assert [Path(s).name for s in failed] == ["cut.jpg", "empty.png", "notes.jpg", "missing.jpg"]
    assert "done 7, failed 4, skipped 0" in capsys.readouterr().err


def test_resume_submits_only_what_is_missing(local_ray, inputs, local_output, local_records,
                                             tmp_path, capsys):
    lines = local_output.read_text().splitlines()
    settings = Path(f"{local_output}.settings.json").read_text()
    # killed while writing record 6; records 2 and 3 (cut.jpg, empty.png) are errors
    cut = "\n".join(lines[:5]) + "\n" + lines[5][:30]
    assert [Path(r["source"]).name for r in local_records[:5] if r["error"]] == [
        "cut.jpg", "empty.png"]
    outs = {}
    for engine in ("local", "ray"):
        outs[engine] = tmp_path / f"{engine}.jsonl"
        outs[engine].write_text(cut)
        Path(f"{outs[engine]}.settings.json").write_text(settings)
        assert cli(["run", *inputs, "--engine", engine, "--output", str(outs[engine]),
                    "--resume", *FAST]) == 1
        err = capsys.readouterr().err
        # the 3 good records are kept, the 2 errors posed again, then the rest
        assert "skipped 3 " in err and "posing again 2 input(s)" in err, err
    assert Path(f"{outs['ray']}.settings.json").read_text() == settings  # kept as it was
    assert read(outs["ray"]) == read(outs["local"])  # exactly what the local engine does
    key = lambda r: r["source"]  # noqa: E731
    assert sorted(read(outs["ray"]), key=key) == sorted(local_records, key=key)  # each once


def test_resume_on_ray_checks_the_settings_as_the_local_engine_does(local_ray, inputs,
                                                                    local_output, tmp_path,
                                                                    capsys):
    other = tmp_path / "other.jsonl"
    other.write_text(local_output.read_text())
    Path(f"{other}.settings.json").write_text(Path(f"{local_output}.settings.json").read_text())
    before = other.read_text()
    args = ["run", *inputs, "--engine", "ray", "--output", str(other), "--resume"]
    assert cli(args + ["--model", str(MODEL_353), "--input-size", "193x257"]) == 2
    assert "input_size [177, 241] there, [193, 257] now" in capsys.readouterr().err
    headless = tmp_path / "headless.jsonl"
    headless.write_text(local_output.read_text())
    assert cli(["run", *inputs, "--engine", "ray", "--output", str(headless), "--resume",
                *FAST]) == 2
    assert "no settings file" in capsys.readouterr().err
    assert cli(["run", *inputs, "--engine", "ray", "--output", str(other), *FAST]) == 2
    assert "already holds records" in capsys.readouterr().err
    assert other.read_text() == before  # a refused job leaves the file as it was


def test_coco_results_are_the_local_engines(local_ray, inputs, local_records, tmp_path):
    # COCO image ids come from an annotation file (the shared images' names end in no number)
    names = sorted({Path(r["source"]).name for r in local_records})
    annotations = tmp_path / "instances.json"
    annotations.write_text(json.dumps({"images": [{"id": 100 + i, "file_name": name}
                                                  for i, name in enumerate(names)]}))
    local, on_ray = tmp_path / "local.json", tmp_path / "ray.json"
    coco = ["--format", "coco", "--coco-annotations", str(annotations), "-q", *FAST]
    assert cli(["run", *inputs, "--output", str(local), *coco]) == 1  # the bad files
    assert cli(["run", *inputs, "--engine", "ray", "--output", str(on_ray), *coco]) == 1
    results = json.loads(on_ray.read_text())
    assert results == json.loads(local.read_text())
    assert {r["image_id"] for r in results} == {100 + names.index(Path(r["source"]).name)
                                                for r in local_records if r["poses"]}


def test_parquet_on_ray_is_a_folder_of_the_same_rows(local_ray, inputs, local_records, tmp_path,
                                                     capsys):
    import pyarrow.parquet as pq

    out = tmp_path / "poses"
    assert cli(["run", *inputs, "--engine", "ray", "--format", "parquet", "--output", str(out),
                "-q", *FAST]) == 1
    table = pq.read_table(out)  # the folder, as pandas, DuckDB or Spark read it
    assert table.select(SCHEMA.names).schema == SCHEMA
    key = lambda r: (r["source"], r["frame"] if r["frame"] is not None else -1)  # noqa: E731
    assert sorted(table_to_records(table), key=key) == sorted(local_records, key=key)
    # the settings travel in each part, as in the local engine's file
    part = next(out.iterdir())
    assert json.loads(pq.read_schema(part).metadata[b"posefast"])["settings"]["model_sha256"]
    # a folder that holds records is refused as a file is, and replaced with --overwrite:
    # only posefast's own parts (Ray's overwrite mode emptied the folder)
    files = sorted(out.iterdir())
    again = ["run", *inputs, "--engine", "ray", "--format", "parquet", "--output", str(out),
             "-q", *FAST]
    assert cli(again) == 2
    assert sorted(out.iterdir()) == files
    (out / "_notes.txt").write_text("the user's, skipped by readers")
    assert cli(again + ["--overwrite"]) == 1
    table = pq.read_table(out)
    assert sorted(table_to_records(table), key=key) == sorted(local_records, key=key)  # not twice
    assert (out / "_notes.txt").read_text() == "the user's, skipped by readers"
    assert not set(files) & set(out.iterdir())  # the old parts are gone
    # anything else of the user's there: refused, even with --overwrite, and kept
    (out / "mine.csv").write_text("a,b\n")
    before = sorted(out.iterdir())
    assert cli(again + ["--overwrite"]) == 2
    assert "posefast did not write (first: mine.csv)" in capsys.readouterr().err
    assert sorted(out.iterdir()) == before
    # a folder that is, or holds, an input: refused (`--output .` among the photos)
    folder = Path(inputs[0])
    for where in (folder, folder.parent):
        names = sorted(folder.iterdir())
        assert cli(["run", *inputs, "--engine", "ray", "--format", "parquet", "--output",
                    str(where), "--overwrite", "-q", *FAST]) == 2
        assert "holds the input" in capsys.readouterr().err
        assert sorted(folder.iterdir()) == names


def test_the_binary_files_api_gives_the_same_records(local_ray, local_records):
    from posefast.ray import PosePredictor

    paths = [str(p) for p in SHARED]
    config = load_config(api={"model": str(MODEL_353), "input_size": (177, 241)})
    ds = ray.data.read_binary_files(paths, include_paths=True).map_batches(
        PosePredictor, fn_constructor_kwargs={"config": config},
        compute=ray.data.ActorPoolStrategy(size=1), batch_size=4, batch_format="numpy")
    got = {r["source"]: r for b in ds.iter_batches(batch_format="pyarrow", batch_size=None)
           for r in table_to_records(b)}
    want = {Path(r["source"]).name: r for r in local_records if r["error"] is None}
    assert set(got) == set(paths)
    for source, rec in got.items():
        assert {**rec, "source": Path(source).name} == {**want[Path(source).name],
                                                        "source": Path(source).name}


def test_decoded_images_give_the_same_poses_as_their_files(local_ray, local_records):
    from posefast.ray import PosePredictor

    pngs = [str(p) for p in SHARED if p.suffix == ".png"][:2]
    ds = ray.data.read_images(pngs, include_paths=True, mode="RGB").map_batches(
        PosePredictor, fn_constructor_kwargs={"model": str(MODEL_353), "input_size": (177, 241)},
        compute=ray.data.ActorPoolStrategy(size=1), batch_size=2, batch_format="numpy")
    got = [r for b in ds.iter_batches(batch_format="pyarrow", batch_size=None)
           for r in table_to_records(b)]
    want = {Path(r["source"]).name: r for r in local_records if r["error"] is None}
    assert sorted(Path(r["source"]).name for r in got) == sorted(Path(p).name for p in pngs)
    for rec in got:
        assert rec["poses"] == want[Path(rec["source"]).name]["poses"]


def test_pose_dataset_orders_video_frames_among_images(local_ray, tmp_path):
    pytest.importorskip("av")
    from test_inputs import make_video

    from posefast.ray import pose_dataset

    video = make_video(tmp_path / "clip.mp4", [IMAGES / "sitting.png", IMAGES / "standing.png"],
                       repeat=2)
    bad_video = tmp_path / "bad.mp4"
    bad_video.write_bytes(b"\0\0\0\x18ftypmp42" + b"\x01" * 3000)
    inputs = [str(IMAGES / "couple.jpg"), video, str(bad_video), str(IMAGES / "standing.png")]
    local = tmp_path / "local.jsonl"
    cli(["run", *inputs, "--every", "2", "--output", str(local), "-q", *FAST])
    ds = pose_dataset(inputs, every=2, model=str(MODEL_353), input_size=(177, 241), actors=2)
    got = [r for b in ds.iter_batches(batch_format="pyarrow", batch_size=None)
           for r in table_to_records(b)]
    assert got == read(local)
    assert [(Path(r["source"]).name, r["frame"]) for r in got] == [
        ("couple.jpg", None), ("clip.mp4", 0), ("clip.mp4", 2), ("bad.mp4", None),
        ("standing.png", None)]


def test_more_actors_than_batches_start_no_more_than_the_batches(local_ray):
    """--workers 1000 for two images: Ray warned (UserWarning on the command's stderr)
    that 1000 actors were asked for one block of input."""
    import warnings

    from posefast.ray import pose_dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = pose_dataset([str(IMAGES / "couple.jpg"), str(IMAGES / "standing.png")],
                          model=str(MODEL_353), input_size=(177, 241), actors=1000)
        rows = ds.take_all()
    assert [Path(r["source"]).name for r in rows] == ["couple.jpg", "standing.png"]
    assert not [w for w in caught if "concurrent actors" in str(w.message)], \
        [str(w.message) for w in caught]


def test_an_actor_that_cannot_start_says_why_in_one_line(local_ray, tmp_path):
    """A model that a node does not have: Ray's error starts with "The actor died
    because of an error raised in its creation task" and the actor's id; the reason is
    at the end of the traceback it carries, and the message leads with it."""
    from posefast.job.plan import Skipper
    from posefast.ray.engine import RayEngineError, run_on_ray
    from posefast.reading.inputs import expand_inputs

    config = load_config(api={"model": str(tmp_path / "elsewhere.tflite")})
    written = []
    with pytest.raises(RayEngineError) as caught:
        run_on_ray(expand_inputs([str(IMAGES / "couple.jpg")]), config, every=1,
                   max_pixels=10**8, skipper=Skipper(), writer=SimpleNamespace(
                       write=written.append))
    message = str(caught.value)
    assert message.startswith(f"the job failed on Ray: FileNotFoundError: model file "
                              f"'{tmp_path / 'elsewhere.tflite'}' not found"), message
    assert "every node of the cluster must see the model" in message
    assert "\n" not in message and "\x1b" not in message and written == []


@pytest.mark.parametrize("text, expected", [
    # an actor's constructor failed: Ray's first line names the actor, in colours
    ("The actor died because of an error raised in its creation task, \x1b[36mray::Map"
     "Worker(MapBatches(PosePredictor)).__init__()\x1b[39m (pid=1, actor_id=ab)\n"
     "  File \"/x/estimator.py\", line 71, in __init__\n    model_path = ...\n"
     "posefast.models.registry.ChecksumError: model file 'm.tflite' is not what the "
     "registry says\n",
     "posefast.models.registry.ChecksumError: model file 'm.tflite' is not what the "
     "registry says"),
    ("Failed to schedule: no node has the resources {'GPU': 1.0}\n\n",
     "Failed to schedule: no node has the resources {'GPU': 1.0}"),
    ("", "RayError"),
])
def test_a_ray_failure_is_told_by_its_cause_in_one_line(text, expected):
    from posefast.ray.engine import ray_failure

    assert ray_failure(ray.exceptions.RayError(text)) == expected


def test_a_killed_actor_leaves_the_records_on_stdout_clean(local_ray, tmp_path):
    """Ray's driver prints what its cluster reports ("(raylet) Task ... failed ...
    will be retried", when an actor dies) to sys.stdout, where `--output -` writes
    the records: every line there must stay a record, and each input come once."""
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("finding the actor processes needs Linux's /proc")
    paths = [p for p, _ in distinct_names(tmp_path / "images", 600)]
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join(paths) + "\n")
    err_file = tmp_path / "stderr.txt"
    with open(err_file, "w") as err_out:  # a file: stdout alone is read through a buffer
        job = subprocess.Popen([sys.executable, "-m", "posefast", "run", f"@{lst}", "--engine",
                                "ray", "--ray-address", local_ray, "--output", "-", *FAST],
                               stdout=subprocess.PIPE, stderr=err_out, text=True)
    lines = [job.stdout.readline()]  # the first record: the actors are at work
    killed = None
    for proc in Path("/proc").iterdir():  # one of this job's actors, mid-job
        try:
            if proc.name.isdigit() and b"MapWorker(MapBatches(PosePredictor))" in (
                    proc / "cmdline").read_bytes():
                killed = int(proc.name)
                os.kill(killed, 9)
                break
        except OSError:
            pass
    if killed is None:
        job.kill()
        job.wait()
        pytest.fail(f"no actor found after the first record (the job's stderr: "
                    f"{err_file.read_text()})")
    lines += job.stdout.read().splitlines()
    assert job.wait(timeout=300) == 0, err_file.read_text()
    err = err_file.read_text()
    assert killed is not None
    def parse(line):
        try:
            return json.loads(line)
        except ValueError:
            raise AssertionError(f"not a record on stdout: {line!r}") from None

    records = [parse(line) for line in lines if line.strip()]
    assert sorted(r["source"] for r in records) == sorted(paths)
    assert "(raylet)" not in err and "Traceback" not in err, err


def test_a_reader_that_closes_stdout_ends_the_job_with_a_message(local_ray, tmp_path):
    """`posefast run ... --engine ray --output - | head -1`: the reader goes away after
    the first record. The command said why in a traceback (the stand-in that keeps Ray's
    prints off stdout has no file descriptor to point at /dev/null)."""
    paths = [p for p, _ in distinct_names(tmp_path / "images", 40)]
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join(paths) + "\n")
    job = subprocess.Popen([sys.executable, "-m", "posefast", "run", f"@{lst}", "--engine",
                            "ray", "--ray-address", local_ray, "--output", "-", *FAST],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "source" in json.loads(job.stdout.readline())  # the first record
    job.stdout.close()
    err = job.stderr.read()
    assert job.wait(timeout=300) == 1, err
    assert "cannot write stdout: its reader closed it" in err, err
    assert "Traceback" not in err, err


def test_the_command_reaches_a_cluster_by_address(local_ray, tmp_path):
    out = tmp_path / "out.jsonl"
    r = subprocess.run([sys.executable, "-m", "posefast", "run", str(IMAGES / "couple.jpg"),
                        "--engine", "ray", "--ray-address", local_ray, "--output", str(out),
                        *FAST], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert [rec["source"] for rec in read(out)] == [str(IMAGES / "couple.jpg")]
    assert "Traceback" not in r.stderr


def test_a_command_line_user_sees_only_posefasts_lines_unless_verbose(pipeline, tmp_path):
    # A Ray of its own (no --ray-address): the command starts and stops it, as a user's
    # first run does. Ray Data's execution plans and metrics dicts ("Input:
    # {'average_num_outputs_per_task': ...}"), Ray core's warnings and its C++ core
    # worker's lines ("core_worker.cc: Actor ... has constructor arguments in the object
    # store") stay in Ray's log files.
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    args = [sys.executable, "-m", "posefast", "run", str(IMAGES / "couple.jpg"), str(bad),
            "--engine", "ray", *FAST]
    r = subprocess.run(args + ["--output", str(tmp_path / "a.jsonl")], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert lines and all(line.startswith("posefast run: ") for line in lines), r.stderr
    assert any(line.startswith("posefast run: failed: ") for line in lines)
    assert len(read(tmp_path / "a.jsonl")) == 2
    r = subprocess.run(args + ["--output", str(tmp_path / "b.jsonl"), "--verbose"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 1, r.stderr
    assert "Execution plan of Dataset" in r.stderr  # Ray Data's own lines, when asked for


def test_an_interrupted_ray_job_exits_130_and_resumes(local_ray, tmp_path):
    import signal
    import time

    paths = [path for path, _ in distinct_names(tmp_path / "images", 60)]
    lst, out = tmp_path / "list.txt", tmp_path / "out.jsonl"
    lst.write_text("\n".join(paths) + "\n")
    args = [sys.executable, "-m", "posefast", "run", f"@{lst}", "--engine", "ray",
            "--ray-address", local_ray, "--output", str(out), "--workers", "1", *FAST]
    job = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out.exists() and out.read_bytes().count(b"\n") >= 4):
        assert job.poll() is None and time.monotonic() < deadline, "ended before the interrupt"
        time.sleep(0.05)
    job.send_signal(signal.SIGINT)
    assert job.wait(timeout=60) == 130
    assert "--resume" in job.stderr.read()
    first = len(read(out))
    assert 4 <= first < 60
    r = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert [rec["source"] for rec in read(out)] == paths  # each once, in order
    assert f"skipped {first} " in r.stderr


@pytest.fixture
def gone_cluster_recorded(tmp_path):
    """Ray's record of the cluster last started here (`ray start`) names one that is
    gone (killed, the machine restarted): ray.init would retry it for minutes."""
    from ray._private.utils import get_ray_address_file

    record = Path(get_ray_address_file(None))
    saved = record.read_bytes() if record.is_file() else None
    record.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    record.write_text(f"127.0.0.1:{port}")
    yield port
    if saved is None:
        record.unlink(missing_ok=True)
    else:
        record.write_bytes(saved)


def test_a_cluster_recorded_but_gone_is_not_waited_for(pipeline, gone_cluster_recorded,
                                                        tmp_path):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    args = [sys.executable, "-m", "posefast", "run", str(IMAGES / "couple.jpg"), "--engine",
            "ray", *FAST]
    # no address: a local Ray for the job, as when no cluster was ever started here
    r = subprocess.run(args + ["--output", str(tmp_path / "a.jsonl")], capture_output=True,
                       text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert len(read(tmp_path / "a.jsonl")) == 1
    # "auto" asks for the running cluster: there is none, and the command says so
    r = subprocess.run(args + ["--ray-address", "auto", "--output", str(tmp_path / "b.jsonl")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2, r.stderr
    assert f"no Ray cluster answers at 127.0.0.1:{gone_cluster_recorded}" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args, message", [
    (["--ray-address", "127.0.0.1:9"], "--ray-address needs --engine ray"),
    (["--engine", "ray", "--ray-address", "127.0.0.1:9"], "cannot connect to Ray"),
    # options of the local engine's processes did nothing on Ray, silently
    (["--engine", "ray", "--batch-size", "4"], "--batch-size sets the local engine's"),
    (["--engine", "ray", "--preparers", "2", "--time-limit", "5"],
     "--preparers, --time-limit set the local engine's"),
])
def test_ray_usage_errors_exit_2(pipeline, args, message, tmp_path):
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    r = subprocess.run([sys.executable, "-m", "posefast", "run", str(IMAGES / "couple.jpg"),
                        "--output", str(tmp_path / "o.jsonl"), *args, *FAST],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


class ThreadsProbe:
    """A PosePredictor that says how many threads its backend was given."""

    def __init__(self, **kwargs):
        from posefast.ray import PosePredictor

        self.threads = PosePredictor(**kwargs)._estimator.config.backend_options.get("num_threads")

    def __call__(self, batch):
        return {"threads": [self.threads] * len(batch["id"])}


# The actors cannot import this test module: its classes travel by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.mark.parametrize("num_cpus, options, threads", [(2, {}, 2), (1, {}, 1),
                                                        (2, {"num_threads": 1}, 1)])
def test_an_actors_backend_runs_a_thread_per_cpu_of_the_actor(local_ray, num_cpus, options,
                                                              threads):
    # from_items: no read task, so an actor holding both CPUs leaves none wanting.
    ds = ray.data.from_items([{"id": 0}]).map_batches(
        ThreadsProbe, fn_constructor_kwargs={"model": str(MODEL_353), "backend": "tflite",
                                             "backend_options": options},
        compute=ray.data.ActorPoolStrategy(size=1), num_cpus=num_cpus, batch_format="numpy")
    assert [r["threads"] for r in ds.take_all()] == [threads]


# -- no Ray needed ---------------------------------------------------------------

@pytest.mark.parametrize("backend, options, gpu", [
    ("tflite", {}, False),
    ("tflite-gpu", {}, True),
    ("onnx", {}, False),
    ("onnx", {"providers": "cpu"}, False),
    ("onnx", {"providers": "cuda,cpu"}, True),
    ("onnx", {"providers": ["TensorrtExecutionProvider", "CPUExecutionProvider"]}, True),
])
def test_actors_ask_for_a_gpu_only_when_the_backend_runs_on_one(backend, options, gpu):
    from posefast.ray import uses_gpu

    config = load_config(api={"backend": backend, "backend_options": options})
    assert uses_gpu(config) is gpu


def test_the_backend_runs_as_many_threads_as_the_actor_has_cpus():
    config = load_config(api={"backend": "tflite"})
    assert with_backend_threads(config, 3).backend_options["num_threads"] == 3
    mine = load_config(api={"backend": "tflite", "backend_options": {"num_threads": 1}})
    assert with_backend_threads(mine, 3).backend_options["num_threads"] == 1  # the user's wins


def test_ray_core_lines_are_dropped_from_stderr_and_the_rest_passes_as_it_comes(capfd,
                                                                                monkeypatch):
    import re

    from posefast.runtime_logs import VERBOSE_ENV, drop_stderr_lines
    from posefast.ray.engine import RAY_CORE_LINE, RAY_CORE_START

    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    core = (b"[2026-11-26 23:39:43,077 E 27608 27608] core_worker.cc:2465: Actor with class "
            b"name: 'MapWorker(MapBatches(PosePredictor))' ... max_restarts > 0.\n")
    with drop_stderr_lines(RAY_CORE_LINE, RAY_CORE_START):
        os.write(2, b"\rposefast: 3/7 [##---] 1.2 images/s\x1b[K")  # a progress line
        os.write(2, core[:20])  # written in pieces, right after a progress line
        os.write(2, core[20:])
        os.write(2, b"[not ray] a line of someone else\n[2026 no")
    assert capfd.readouterr().err == ("\rposefast: 3/7 [##---] 1.2 images/s\x1b[K"
                                      "[not ray] a line of someone else\n[2026 no")
    monkeypatch.setenv(VERBOSE_ENV, "1")
    with drop_stderr_lines(re.compile(rb".")):
        os.write(2, core)
    assert capfd.readouterr().err == core.decode()


def test_a_predictor_alive_at_exit_leaves_no_traceback(tmp_path):
    """A script (or an actor) that ends with its PosePredictor alive: the interpreter's
    end collects it, and closing the backend then would fail ("Exception ignored in
    PosePredictor.__del__ ... import of gc halted")."""
    script = ("from posefast.ray.predictor import PosePredictor\n"
              f"p = PosePredictor(model={str(MODEL_353)!r}, input_size=(177, 241))\n"
              "print('made')\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "made"
    assert "Exception ignored" not in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_coral_decoder_model_runs_on_ray_as_locally(local_ray, tmp_path):
    """Issue 23: a model ending in Coral's PosenetDecoderOp runs with the op cut off and
    its settings as the defaults, on Ray as on the local engine."""
    from conftest import MODELS

    model = MODELS / "coral-decoder" / "posenet_mobilenet_v1_075_481_641_quant_decoder.tflite"
    if not model.is_file():
        pytest.skip(f"{model} not found")
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    images = [str(p) for p in SHARED[:3]]
    assert cli(["run", *images, "--output", str(local), "-q", "--model", str(model)]) == 0
    assert cli(["run", *images, "--engine", "ray", "--output", str(on_ray), "-q",
                "--model", str(model)]) == 0
    from posefast.job.settings_file import read_settings

    header = read_settings(str(on_ray))["posefast"]["settings"]
    assert (header["max_detections"], header["score_threshold"], header["nms_radius"]) == \
        (10, 0.2, 10.0)
    assert read(on_ray) == read(local) and any(r["poses"] for r in read(local))
