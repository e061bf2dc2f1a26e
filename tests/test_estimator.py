"""The estimator with the real models on the shared images."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from posefast import PoseEstimator
from posefast.reading.images import ImageLoadError

from pipeline_ready import pipeline  # noqa: F401  (a fixture)
from conftest import IMAGES, MODEL_481

PEOPLE = {
    "couple.jpg": 2,
    "kneeling.png": 1,
    "sitting.png": 1,
    "standing.png": 1,
    "standing_doorway.png": 1,
    "standing_far.png": 1,
    "no_person.jpg": 0,
}


@pytest.fixture(scope="module")
def estimator(pipeline):
    with PoseEstimator(model=str(MODEL_481), backend="tflite") as est:
        yield est


@pytest.fixture(scope="module")
def found(estimator):
    """Poses per shared image with the default settings, in one batch call."""
    names = sorted(PEOPLE)
    return dict(zip(names, estimator.estimate_batch([IMAGES / n for n in names])))


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_finds_every_person_and_no_one_else(found, name):
    assert len(found[name]) == PEOPLE[name]


def test_keypoints_are_in_original_image_pixels(found):
    for name, poses in found.items():
        width, height = Image.open(IMAGES / name).size
        for pose in poses:
            kp = pose.keypoints
            assert (kp[:, 0] >= 0).all() and (kp[:, 0] <= width - 1).all()
            assert (kp[:, 1] >= 0).all() and (kp[:, 1] <= height - 1).all()
            assert 0 <= pose.score <= 1
    # couple.jpg (1920x1278): the man is left of the woman, their heads in the upper
    # third; both walk on the snow, feet in the lower half.
    man, woman = sorted(found["couple.jpg"], key=lambda p: p.keypoints[0, 0])
    for pose, (x_lo, x_hi) in ((man, (650, 900)), (woman, (950, 1200))):
        nose, ankles = pose.keypoints[0], pose.keypoints[15:17]
        assert x_lo < nose[0] < x_hi and 250 < nose[1] < 450
        assert (ankles[:, 1] > 750).all()


def test_letterbox_finds_the_same_keypoints_as_stretch(pipeline, found):
    # couple.jpg is wider than the input (3:2 against 4:3), so letterboxing pads
    # 40 input rows above and below; a wrong padding or scale would move every
    # keypoint by tens of pixels.
    with PoseEstimator(model=str(MODEL_481), backend="tflite", resize="letterbox") as est:
        boxed = est.estimate(IMAGES / "couple.jpg")
    stretched = found["couple.jpg"]
    assert len(boxed) == len(stretched) == 2
    for a in stretched:
        b = min(boxed, key=lambda p: np.abs(p.keypoints[:, :2] - a.keypoints[:, :2]).sum())
        sure = (a.keypoints[:, 2] > 0.7) & (b.keypoints[:, 2] > 0.7)
        assert sure.sum() >= 8
        dist = np.linalg.norm(a.keypoints[sure, :2] - b.keypoints[sure, :2], axis=1)
        assert np.median(dist) < 12, dist  # pixels of a 1920-wide image


def test_paths_pil_images_and_arrays_give_the_same_poses(estimator, found):
    path = IMAGES / "standing.png"
    pil = Image.open(path)
    array = np.asarray(pil.convert("RGB"))
    for image in (pil, array):
        (pose,) = estimator.estimate(image)
        np.testing.assert_allclose(pose.keypoints, found["standing.png"][0].keypoints, atol=1e-4)


def test_single_pose_mode_gives_one_pose(pipeline):
    with PoseEstimator(model=str(MODEL_481), backend="tflite", mode="single") as est:
        poses = est.estimate(IMAGES / "standing_far.png")
    assert len(poses) == 1 and poses[0].score > 0.5


def test_unreadable_images_raise_naming_the_file(estimator, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    with pytest.raises(ImageLoadError, match="bad.png"):
        estimator.estimate(bad)


def test_results_convert_to_plain_dicts(found):
    d = found["standing.png"][0].to_dict()
    assert set(d) == {"score", "keypoints"} and len(d["keypoints"]) == 17
    assert d["keypoints"][0]["part"] == "nose"
    assert set(d["keypoints"][0]) == {"part", "x", "y", "score"}


def test_a_bad_image_in_a_batch_is_raised_or_returned_in_its_place(estimator, found, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    batch = [IMAGES / "standing.png", bad, IMAGES / "couple.jpg"]
    got = estimator.estimate_batch(batch, on_error="return")
    assert isinstance(got[1], ImageLoadError) and got[1].source == str(bad)
    assert [len(got[0]), len(got[2])] == [1, 2]
    for mine, expected in ((got[0], found["standing.png"]), (got[2], found["couple.jpg"])):
        np.testing.assert_array_equal(mine[0].keypoints, expected[0].keypoints)
    with pytest.raises(ImageLoadError, match="bad.png: empty file"):
        estimator.estimate_batch(batch)
    seen = []
    with pytest.raises(ImageLoadError):
        for poses in estimator.iter_estimate(batch):
            seen.append(poses)
    assert len(seen) == 1  # the images before the bad one were yielded
    with pytest.raises(ValueError, match="on_error"):
        estimator.estimate_batch(batch, on_error="ignore")


def test_bgr_arrays_with_channels_bgr_give_the_poses_of_rgb(estimator, found):
    """OpenCV's arrays are BGR: said so, they give the RGB image's poses; taken for RGB,
    they do not (the network sees red and blue swapped)."""
    rgb = np.asarray(Image.open(IMAGES / "couple.jpg").convert("RGB"))
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # as cv2.imread gives it
    expected = estimator.estimate(rgb)  # (the file is decoded at reduced scale: not quite it)
    for got in (estimator.estimate(bgr, channels="bgr"),
                estimator.estimate_batch([bgr], channels="bgr")[0],
                next(estimator.iter_estimate([bgr], channels="bgr")),
                estimator.infer([estimator.prepare(bgr, channels="bgr")])[0]):
        assert len(got) == len(expected) == 2
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-4)
    swapped = estimator.estimate(bgr)
    assert len(swapped) != 2 or any(
        np.abs(a.keypoints - b.keypoints).max() > 1 for a, b in zip(swapped, expected))
    # channels concerns arrays: a file's colours are its own
    path_poses = estimator.estimate(IMAGES / "couple.jpg", channels="bgr")
    np.testing.assert_allclose(path_poses[0].keypoints, found["couple.jpg"][0].keypoints,
                               atol=1e-4)


@pytest.mark.parametrize("channels", ["BGR ", "gbr", None, 3])
def test_an_unknown_channel_order_is_refused(estimator, channels):
    array = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="channels must be 'rgb' or 'bgr'"):
        estimator.estimate(array, channels=channels)
    with pytest.raises(ValueError, match="channels must be 'rgb' or 'bgr'"):
        estimator.estimate_batch([array], channels=channels)


def test_pose_bbox_is_the_records_bbox(found):
    from posefast.job.records import make_record

    for name, poses in found.items():
        record = make_record(name, None, 1, 1, poses)
        for pose, in_record in zip(poses, record["poses"]):
            assert pose.bbox == in_record["bbox"]
    # [x, y, w, h] around the keypoints scoring >= 0.3, all of them if none does
    from posefast import Pose

    kp = np.zeros((17, 3), np.float32)
    kp[:, 0], kp[:, 1], kp[:, 2] = np.arange(17) * 10, np.arange(17) * 5 + 100, 0.1
    assert Pose(0.5, kp).bbox == [0.0, 100.0, 160.0, 80.0]
    kp[3, 2], kp[7, 2] = 0.3, 0.9
    assert Pose(0.5, kp).bbox == [30.0, 115.0, 40.0, 20.0]


def test_a_video_given_to_estimate_is_pointed_at_the_video_api(estimator, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\0" * 64)
    with pytest.raises(ImageLoadError, match=r"not an image Pillow can read; .*iter_frames"):
        estimator.estimate(clip)
    notes = tmp_path / "notes.png"
    notes.write_bytes(b"not a picture at all")
    with pytest.raises(ImageLoadError) as info:
        estimator.estimate(notes)
    assert "iter_frames" not in str(info.value)


@pytest.mark.parametrize("kwargs, name", [
    ({"score_threshold": "0.5"}, "score_threshold"),
    ({"nms_radius": "20"}, "nms_radius"),
    ({"max_detections": "10"}, "max_detections"),
    ({"refine_steps": 2.5}, "refine_steps"),
    ({"max_detections": 0}, "max_detections"),
    ({"input_size": "481xabc"}, "input_size"),
    ({"output_stride": "16"}, "output_stride"),
    ({"max_pixels": "1000"}, "max_pixels"),
    ({"max_pixels": 0}, "max_pixels"),
    ({"max_pixels": True}, "max_pixels"),
])
def test_bad_numeric_arguments_raise_value_error_naming_them(shared_data, kwargs, name):
    with pytest.raises(ValueError, match=name):
        PoseEstimator(model=str(MODEL_481), backend="tflite", **kwargs)


@pytest.mark.parametrize("every", ["2", 0, 1.5, True])
def test_iter_frames_refuses_a_bad_every_naming_it(every):
    from posefast.reading.video import iter_frames

    with pytest.raises(ValueError, match="every must be a whole number >= 1"):
        next(iter_frames("clip.mp4", every))
