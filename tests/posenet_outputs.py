"""Real PoseNet outputs for the tests: the shared uint8 model run with ai-edge-litert's
Interpreter on a shared image, returned exactly as the model emits them (Quantized)."""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from posefast import Quantized


@functools.lru_cache(maxsize=None)
def run_posenet(model: Path, image: Path) -> dict[str, Quantized]:
    """{"heatmaps", "offsets", "fwd", "bwd"} as Quantized (1, H, W, C) tensors; fwd and bwd
    are views of the model's 64-channel mid-range tensor."""
    interpreter_mod = __import__("pytest").importorskip("ai_edge_litert.interpreter")
    from PIL import Image

    it = interpreter_mod.Interpreter(model_path=str(model))
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    _, h, w, _ = inp["shape"]
    img = Image.open(image).convert("RGB").resize((int(w), int(h)), Image.BILINEAR)
    it.set_tensor(inp["index"], np.asarray(img, dtype=np.uint8)[None])
    it.invoke()
    raw = {d["name"]: (it.get_tensor(d["index"]).copy(), d["quantization"])
           for d in it.get_output_details()}

    def q(name: str, arr=None) -> Quantized:
        a, (scale, zp) = raw[name]
        return Quantized(a if arr is None else arr, float(scale), int(zp))

    mid = raw["float_mid_offsets"][0]
    return {
        "heatmaps": q("float_heatmaps"),
        "offsets": q("float_short_offsets"),
        "fwd": q("float_mid_offsets", mid[..., :32]),
        "bwd": q("float_mid_offsets", mid[..., 32:]),
    }


def dequantized(t: Quantized) -> np.ndarray:
    return ((t.array.astype(np.float64) - t.zero_point) * t.scale).astype(np.float32)
