"""Expanding INPUT arguments, and reading video frames."""
from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from posefast.reading.inputs import InputError, Source, expand_inputs
from posefast.reading.video import VideoError, iter_frames

from conftest import IMAGES


def _touch(path, content=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(path)


def test_folders_are_searched_recursively_for_images_and_videos_in_sorted_order(tmp_path):
    b = _touch(tmp_path / "d" / "b.JPG")
    a = _touch(tmp_path / "d" / "a.png")
    c = _touch(tmp_path / "d" / "sub" / "c.jpeg")
    _touch(tmp_path / "d" / "notes.txt")
    v = _touch(tmp_path / "d" / "clip.MP4")  # videos were skipped without a word before
    assert expand_inputs([str(tmp_path / "d")]) == [Source(a, "image"), Source(b, "image"),
                                                    Source(v, "video"), Source(c, "image")]


def test_files_globs_and_lists_keep_the_order_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _touch(tmp_path / "x1.png"), _touch(tmp_path / "x2.png"), _touch(tmp_path / "v.mp4")
    _touch(tmp_path / "odd.txt")
    (tmp_path / "list.txt").write_text("# a comment\n\nx2.png\n  v.mp4  \nmissing.png\nx*.png\n")
    duplicates = []
    got = expand_inputs(["odd.txt", "x*.png", "@list.txt"], duplicates=duplicates)
    assert got == [Source("odd.txt", "image"), Source("x1.png", "image"), Source("x2.png", "image"),
                   Source("v.mp4", "video"),
                   Source("missing.png", "image")]  # a stale list entry: an error record later
    assert duplicates == ["x2.png", "x1.png", "x2.png"]  # each input is posed once


def test_list_lines_end_at_newlines_only_and_are_relative_to_the_list(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    odd = ["a\x0cb.png", "c\x85d.png", "e\u2028f.png", "g\x1eh.png"]  # all valid file names
    for name in odd:
        _touch(tmp_path / "lists" / name)
    _touch(tmp_path / "lists" / "plain.png")
    (tmp_path / "lists" / "l.txt").write_text("\n".join(odd) + "\r\nplain.png\r\n",
                                              encoding="utf-8")
    got = expand_inputs(["@../lists/l.txt"])
    assert got == [Source(os.path.join("../lists", n), "image") for n in odd + ["plain.png"]]
    assert all(os.path.isfile(s.path) for s in got)


def test_the_same_file_however_spelled_is_one_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = _touch(tmp_path / "a.png")
    os.symlink("a.png", tmp_path / "link.png")
    duplicates = []
    got = expand_inputs(["a.png", "./a.png", a, "link.png", "*.png"], duplicates=duplicates)
    assert got == [Source("a.png", "image")]
    assert duplicates == ["./a.png", a, "link.png", "a.png", "link.png"]


def test_globs_enter_each_folder_once_whatever_the_symlink_loops(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _touch(tmp_path / "d" / "x.png")
    _touch(tmp_path / "d" / "sub" / "y.png")
    os.symlink("..", tmp_path / "d" / "sub" / "up")        # a loop
    os.symlink("../..", tmp_path / "d" / "sub" / "up2")    # a second one: glob.glob hangs
    os.symlink("../d", tmp_path / "d" / "sub" / "again")
    got = expand_inputs(["d/**/*.png"])
    assert sorted(s.path for s in got) == ["d/sub/y.png", "d/x.png"]


def test_arguments_naming_nothing_are_usage_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="'nothing.jpg': no such file"):
        expand_inputs(["nothing.jpg"])
    with pytest.raises(InputError, match="no such file"):
        expand_inputs(["none*.jpg"])
    with pytest.raises(InputError, match="input list 'absent.txt'"):
        expand_inputs(["@absent.txt"])


def make_video(path, images, *, repeat=1, fps=5):
    """Encode 640x480 images as an MPEG-4 video, each shown ``repeat`` frames."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for image in images:
            rgb = np.asarray(Image.open(image).convert("RGB").resize((640, 480)))
            for _ in range(repeat):
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return str(path)


def test_every_nth_frame_of_a_video(tmp_path, shared_data):
    frames = sorted(IMAGES.glob("*.png"))[:3]
    video = make_video(tmp_path / "clip.mp4", frames, repeat=2)
    got = list(iter_frames(video, every=2))
    assert [f.index for f in got] == [0, 2, 4]
    assert [f.time for f in got] == pytest.approx([0.0, 0.4, 0.8])  # 5 frames/s
    for f, source in zip(got, frames):
        frame = f.pixels
        assert frame.shape == (480, 640, 3) and frame.dtype == np.uint8
        original = np.asarray(Image.open(source).convert("RGB"), dtype=np.float64)
        assert np.abs(frame - original).mean() < 12  # the same picture, through a lossy codec


def test_unreadable_videos_name_the_file(tmp_path):
    pytest.importorskip("av")
    bad = _touch(tmp_path / "bad.mp4", os.urandom(2000))
    with pytest.raises(VideoError, match="bad.mp4"):
        list(iter_frames(bad))


def test_a_fifo_or_device_named_like_a_video_is_not_opened(tmp_path):
    pytest.importorskip("av")
    fifo = tmp_path / "stream.mp4"
    os.mkfifo(fifo)  # nobody writes: opening it with FFmpeg would block forever
    with pytest.raises(VideoError,
                       match=r"stream.mp4: is a FIFO \(named pipe\), not a video file"):
        list(iter_frames(str(fifo)))
    from posefast.reading.video import count_frames, frame_rate

    assert count_frames(str(fifo)) is None
    assert frame_rate(str(fifo)) is None  # the annotated video's rate: not probed either
    if os.path.exists("/dev/zero"):
        with pytest.raises(VideoError, match="a character device"):
            list(iter_frames("/dev/zero"))


def test_an_empty_name_and_a_list_naming_a_list_are_usage_errors(tmp_path, monkeypatch):
    """'' is Path('.'): an unset shell variable ('posefast run "$DIR"') posed the whole
    working folder. A list naming another list said only 'no such file'."""
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    for bad in ("", "@"):
        with pytest.raises(InputError, match="an empty name"):
            expand_inputs([bad])
    (tmp_path / "self.txt").write_text("a.png\n@self.txt\n")
    with pytest.raises(InputError, match=r"'self.txt', line 2: '@self.txt' names a list"):
        expand_inputs(["@self.txt"])
    (tmp_path / "@odd.png").write_bytes((tmp_path / "a.png").read_bytes())
    (tmp_path / "ok.txt").write_text("@odd.png\n")  # a file whose name starts with @
    assert [s.path for s in expand_inputs(["@ok.txt"])] == ["@odd.png"]
