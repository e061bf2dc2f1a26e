"""Writing frames to an MP4 file through PyAV (H.264, or MPEG-4 Part 2 where the
FFmpeg build has no H.264 encoder), each frame at its own time."""
from __future__ import annotations

from fractions import Fraction

import numpy as np

#: Frame times are kept to the millisecond (a variable frame rate survives).
TIME_BASE = Fraction(1, 1000)


class VideoWriter:
    """An MP4 file being written: ``write(pixels, time)`` adds an (H, W, 3) uint8 RGB
    frame shown at ``time`` seconds (strictly increasing, else the frame is dropped);
    ``close()`` finishes the file. ``fps`` is the nominal frame rate the header
    announces. Odd sizes are padded with black to even ones (4:2:0 chroma needs it).
    """

    def __init__(self, path: str, width: int, height: int, fps: float) -> None:
        from ..reading.video import _av

        av = _av()
        self.path = path
        self._av = av
        self._container = av.open(path, "w")
        try:
            rate = Fraction(fps).limit_denominator(1001) if fps and fps > 0 else Fraction(30)
            stream = None
            for codec in ("libx264", "h264", "mpeg4"):
                try:
                    stream = self._container.add_stream(codec, rate=rate)
                    break
                except Exception:
                    continue
            if stream is None:
                raise RuntimeError("this FFmpeg build has no H.264 or MPEG-4 encoder")
            self.width, self.height = width + width % 2, height + height % 2
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.codec_context.time_base = TIME_BASE
            stream.time_base = TIME_BASE
            self._stream = stream
        except BaseException:
            self._container.close()
            raise
        self._last_pts = -1

    def write(self, pixels: np.ndarray, time: float) -> None:
        pts = round(time / TIME_BASE)
        if pts <= self._last_pts:
            return
        self._last_pts = pts
        h, w = pixels.shape[:2]
        if (w, h) != (self.width, self.height):
            padded = np.zeros((self.height, self.width, 3), np.uint8)
            padded[:min(h, self.height), :min(w, self.width)] = pixels[:self.height, :self.width]
            pixels = padded
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
        frame.pts, frame.time_base = pts, TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
