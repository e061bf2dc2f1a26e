"""A real two-node Ray cluster on this machine (one CPU each): every input comes back
exactly once, in order, even when an actor process is killed part-way."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from posefast.job.parquet import table_to_records  # noqa: E402

from pipeline_ready import pipeline  # noqa: E402,F401  (a fixture)
from conftest import MODEL_353  # noqa: E402
from test_ray import distinct_names, quiet_ray_env  # noqa: E402

ACTOR = b"MapWorker(MapBatches(PosePredictor))"


@pytest.fixture(scope="module")
def two_nodes(pipeline):
    from ray.cluster_utils import Cluster

    quiet_ray_env()
    cluster = Cluster(initialize_head=True,
                      head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def actor_pids() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if ACTOR in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def test_a_killed_actor_loses_nothing_and_repeats_nothing(two_nodes, tmp_path):
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("finding the actor processes needs Linux's /proc")
    from posefast.ray import pose_dataset

    assert sum(n["Alive"] for n in ray.nodes()) == 2
    named = dict(distinct_names(tmp_path / "images", 60))  # path -> shared image's name
    paths = list(named)
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join(paths) + "\n")
    ds = pose_dataset([f"@{lst}"], model=str(MODEL_353), input_size=(177, 241), actors=2,
                      batch_size=2)
    got, killed = [], None
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        got += table_to_records(batch)
        if killed is None:
            pids = actor_pids()
            assert pids  # the one that posed this batch, and the other node's if it has started
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
    assert killed is not None and killed not in actor_pids()  # it was replaced
    assert [r["source"] for r in got] == paths  # each exactly once, in input order
    assert all(r["error"] is None for r in got)
    by_image = {}
    for r in got:  # an image's record is the same before the kill, after it, and retried
        r = {**r, "source": named[r["source"]]}
        assert by_image.setdefault(r["source"], r) == r
    assert len(by_image) == len(set(named.values()))
    assert len(by_image["couple.jpg"]["poses"]) == 2
