"""The estimator: images in, poses in original-image pixels out."""
from __future__ import annotations

import gc
import numbers
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Literal, Sequence

import numpy as np

from .config import Config, load_config
from .backend import InputSpec
from .decode import decode_outputs
from .reading.images import (CHANNELS, DEFAULT_MAX_PIXELS, Channels, ImageInput, ImageLoadError,
                             describe, load_image)
from .models import resolve_model
from .models.derived import model_for_backend
from .pose import Pose
from .preprocess import Transform, target_size, to_input
from .backend_registry import create_backend
from .runtime_logs import quiet_runtime_logs

if TYPE_CHECKING:
    from typing import BinaryIO

    from .reading.live import LiveOptions
    from .video.live import LiveStream
    from .video.stream import SmoothingOptions, TrackingOptions
    from .video.view import LiveView


@dataclass(frozen=True)
class Prepared:
    """One image ready for the network: ``array`` is (H, W, 3) in the backend's
    input dtype; ``transform`` maps its pixels back to the original ``width`` x
    ``height`` image."""

    array: np.ndarray
    transform: Transform
    width: int
    height: int
    source: str


class PoseEstimator:
    """Finds human poses in images with a PoseNet model on a pluggable backend.

    Configuration follows ``posefast.config.load_config``: keyword arguments here
    are the highest layer, then environment variables (``POSEFAST_BACKEND``, ...),
    then a TOML file (``config_file``, ``POSEFAST_CONFIG`` or ``posefast.toml``),
    then the defaults. ``options`` are the keys of Config and DecoderConfig:
    ``backend_options``, ``input_size`` (height, width), ``output_stride`` (8, 16
    or 32; None: the model's own), ``resize``
    (``"stretch"`` or ``"letterbox"``), ``mode`` (``"multi"`` or ``"single"``),
    ``max_detections``, ``score_threshold``, ``nms_radius``, ``refine_steps``.

    Example::

        with PoseEstimator(model="posenet_mobilenet_v1_075_481_641_quant") as est:
            for pose in est.estimate("photo.jpg"):
                print(pose.score, pose.keypoints[0])  # nose x, y (pixels of photo.jpg), score

    Images are paths, PIL images, or (H, W, 3) uint8 arrays (height, width, channels;
    values 0..255) in RGB order; pass ``channels="bgr"`` for OpenCV's BGR arrays
    (``cv2.imread``): BGR taken for RGB gives fewer and worse poses, and nothing in
    the pixels says which order they are in.
    Keypoints are in pixels of the original image (x right, y down, pixel centres).
    One estimator is not safe to use from several threads at once; make one each.
    """

    def __init__(self, model: str | None = None, backend: str | None = None, *,
                 config: Config | None = None, config_file: str | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS, **options: Any) -> None:
        if config is None:
            config = load_config(api={"model": model, "backend": backend, **options},
                                 config_file=config_file)
        elif model is not None or backend is not None or options or config_file is not None:
            raise ValueError("pass either config= or model/backend/options, not both")
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, numbers.Integral) \
                or max_pixels < 1:
            raise ValueError(f"max_pixels must be a whole number >= 1 (pixels), "
                             f"got {max_pixels!r}")
        self.config = config
        self.max_pixels = int(max_pixels)
        # the file the backend runs: the named model, or its cached ONNX conversion and/or
        # output-stride rewrite; the decoder reads the stride from the outputs' grid
        model_path = model_for_backend(resolve_model(config.model), config.backend,
                                       config.output_stride)
        with quiet_runtime_logs():  # the runtime's INFO lines, once per backend: noise
            self._backend = create_backend(
                config.backend, str(model_path),
                input_size=tuple(config.input_size) if config.input_size else None,
                **dict(config.backend_options),
            )
        self.input_spec = self._backend.input_spec
        self._decoder_args = asdict(config.decoder)
        #: Seconds spent in the backend's ``run`` so far (the network alone), for profiling.
        self.run_seconds = 0.0
        self._first_run = True

    # -- the two steps, separately usable so that a pipeline can overlap them --

    def prepare(self, image: ImageInput, *, channels: Channels = "rgb") -> Prepared:
        """Load and pre-process one image (safe to run in another thread than ``infer``).

        ``image``: a path, a PIL image or an (H, W, 3) uint8 array whose channels are
        in the order ``channels`` says ("rgb", or "bgr" for OpenCV's arrays).
        Raises ``posefast.reading.images.ImageLoadError`` naming the file for unreadable input.
        """
        return prepare_image(image, self.input_spec, self.config.resize, self.max_pixels,
                             channels=channels)

    def infer(self, prepared: Sequence[Prepared]) -> list[list[Pose]]:
        """Run the network on prepared images and decode: one list of poses per image,
        best first, keypoints in original-image pixels."""
        if not prepared:
            return []
        # One image goes in as a view (the runtime copies it into its input anyway).
        batch = prepared[0].array[None] if len(prepared) == 1 else np.stack(
            [p.array for p in prepared])
        t0 = time.perf_counter()
        if self._first_run:  # some runtimes set up (and log) on their first run
            with quiet_runtime_logs():
                outputs = self._backend.run(batch)
            self._first_run = False
        else:
            outputs = self._backend.run(batch)
        self.run_seconds += time.perf_counter() - t0
        decoded = decode_outputs(outputs, **self._decoder_args)
        return [[_to_original(pose, p) for pose in poses] for poses, p in zip(decoded, prepared)]

    # -- the public conveniences --

    def estimate(self, image: ImageInput, *, channels: Channels = "rgb") -> list[Pose]:
        """The poses in one image, best first: a path, a PIL image or an (H, W, 3) uint8
        array (height, width, channels; 0..255) in RGB order, or BGR with
        ``channels="bgr"`` (``cv2.imread``'s). Keypoints in pixels of the image."""
        return self.infer([self.prepare(image, channels=channels)])[0]

    def estimate_batch(self, images: Iterable[ImageInput], *,
                       on_error: Literal["raise", "return"] = "raise",
                       channels: Channels = "rgb") -> list[Any]:
        """The poses in each image, in order; the next image is loaded while one runs.
        Images as for :meth:`estimate` (``channels``: the order of every array's).

        An image that cannot be read (``ImageLoadError``, naming it) is, with
        ``on_error="raise"`` (the default), raised when its turn comes; with
        ``on_error="return"``, that image's entry is the ``ImageLoadError`` itself and the
        other images are posed: ``[poses, ImageLoadError(...), poses, ...]``.
        """
        return list(self.iter_estimate(images, on_error=on_error, channels=channels))

    def iter_estimate(self, images: Iterable[ImageInput], *,
                      on_error: Literal["raise", "return"] = "raise",
                      channels: Channels = "rgb") -> Iterator[Any]:
        """Like ``estimate_batch``, yielding each image's poses (or, with
        ``on_error="return"``, its ``ImageLoadError``) as soon as they are ready."""
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        if channels not in CHANNELS:
            raise ValueError(f"channels must be 'rgb' or 'bgr', got {channels!r}")
        with ThreadPoolExecutor(1, thread_name_prefix="posefast-prepare") as pool:
            it = iter(images)
            pending = None
            for image in it:
                pending = pool.submit(self.prepare, image, channels=channels)
                break
            while pending is not None:
                try:
                    prepared = pending.result()
                except ImageLoadError as exc:
                    if on_error == "raise":
                        raise
                    prepared = exc
                pending = None
                for image in it:
                    pending = pool.submit(self.prepare, image, channels=channels)
                    break
                yield prepared if isinstance(prepared, ImageLoadError) else \
                    self.infer([prepared])[0]

    def stream(self, sources: str | Sequence[str], *, duration: float | None = None,
               max_frames: int | None = None, every: int = 1, keep_all: bool = False,
               options: "LiveOptions | None" = None,
               tracking: "TrackingOptions | None" = None,
               smoothing: "SmoothingOptions | None" = None,
               on_error: Literal["raise", "record"] = "raise",
               stdin: "BinaryIO | int | None" = None,
               view: "LiveView | None" = None) -> "LiveStream":
        """Pose live sources as their frames come, newest frame first: the records
        (``posefast run``'s, plus ``latency`` in seconds) of frames as they are posed.

        ``sources``: one or several of ``rtsp://``, ``rtmp://``, ``http(s)://``,
        ``tcp://``, ``udp://``, ``srt://`` URLs, V4L2 cameras (``/dev/video0``) and
        ``-`` (standard input), posed side by side in fair turns. Frames arriving
        while earlier ones are posed are dropped (``keep_all=True``: none is, the
        reading waits instead); ``every``: only frame 0, every, 2 * every, ... are
        posed. Ends after ``duration`` seconds, ``max_frames`` records, ``stop()``,
        or when every source has ended. ``options``: timeouts, reconnection and
        FFmpeg options (:class:`posefast.reading.live.LiveOptions`; its ``every`` and
        ``keep_all`` are overridden by the arguments when these are not the defaults).
        ``tracking``/``smoothing``: as for videos, per source. A source that fails
        raises ``LiveError`` naming it, or with ``on_error="record"`` gives an error
        record. ``stdin``: the pipe (binary file or descriptor) that ``-`` reads,
        default this process's standard input. ``view``: a
        :class:`posefast.video.view.LiveView` (a local web page) each posed frame is
        shown on, drawn, with its rates and latency. Example::

            with est.stream("rtsp://cam.local/live", duration=60) as live:
                for record in live:
                    print(record["frame"], record["latency"], len(record["poses"]))
                print(live.dropped)

            with LiveView() as view, est.stream(sources, view=view) as live:
                print("watch", view.url)
                for record in live: ...
        """
        from dataclasses import replace

        from .reading.live import LiveOptions
        from .video.live import LiveStream

        options = options or LiveOptions()
        if every != 1 or keep_all:
            options = replace(options, every=every, keep_all=keep_all or options.keep_all)
        return LiveStream(self, sources, options=options, duration=duration,
                          max_frames=max_frames, tracking=tracking, smoothing=smoothing,
                          on_error=on_error, stdin=stdin, view=view)

    def close(self) -> None:
        """Release the backend."""
        with quiet_runtime_logs():  # the runtime logs its teardown
            self._backend.close()
            gc.collect()  # LiteRT tears down when its objects are freed

    def __enter__(self) -> "PoseEstimator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare_image(image: ImageInput, spec: InputSpec, resize: str,
                  max_pixels: int = DEFAULT_MAX_PIXELS, *, channels: Channels = "rgb") -> Prepared:
    """Load and pre-process one image for a network input ``spec`` (what
    ``PoseEstimator.prepare`` does, without a backend: the job's preparation
    processes run it). JPEGs are decoded at the smallest reduced scale that still
    covers the size they are resized to; ``channels`` is an array's channel order."""
    loaded = load_image(image, max_pixels=max_pixels, channels=channels,
                        target_size=lambda w, h: target_size(w, h, spec, resize))
    array, transform = to_input(loaded.image, loaded.width, loaded.height, spec, resize)
    return Prepared(array, transform, loaded.width, loaded.height, loaded.source)


def _to_original(pose: Pose, prepared: Prepared) -> Pose:
    out = prepared.transform.pose(pose)
    kp = out.keypoints
    # Letterbox padding maps outside the image; keep every keypoint on it.
    np.clip(kp[:, 0], 0, prepared.width - 1, out=kp[:, 0])
    np.clip(kp[:, 1], 0, prepared.height - 1, out=kp[:, 1])
    return out


__all__ = ["PoseEstimator", "Prepared", "prepare_image", "target_size"]
