"""The model registry: names of known PoseNet models, their URLs and checksums, and
the one model shipped inside the package."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CORAL = "https://github.com/google-coral/project-posenet/raw/master/models/mobilenet/components/"
#: Coral's ResNet-50 models, at the commit whose git blob ids the registry records.
CORAL_RESNET = ("https://github.com/google-coral/project-posenet/raw/"
                "37cfb84eaff9fa7a02bbc8b60a36d6d422859c5f/models/resnet/")
#: Models shipped in the package (``posefast/models/data``), with their notices.
DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class ModelInfo:
    """A known model: ``name`` (the file stem), download URL, sha256 (None: unknown);
    ``embedded``: the package ships the file (in ``DATA_DIR``), so it needs no download.
    ``git_blob``: the file's git blob id (SHA-1 of ``b"blob <size>\\0" + content``), for
    files whose publisher records that rather than a sha256; a file is verified by
    every checksum its entry has. ``decoder_op``: the graph ends in Coral's
    ``PosenetDecoderOp``, whose settings are the decoder's defaults."""

    name: str
    filename: str
    url: str
    sha256: str | None
    description: str
    embedded: bool = False
    git_blob: str | None = None
    decoder_op: bool = False


REGISTRY: dict[str, ModelInfo] = {m.name: m for m in (
    ModelInfo("posenet_mobilenet_v1_075_353_481_quant",
              "posenet_mobilenet_v1_075_353_481_quant.tflite",
              CORAL + "posenet_mobilenet_v1_075_353_481_quant.tflite",
              "d589f727ee72effba3e8211b04c284fc65fc0a22907c161e2d6c080244d5c264",
              "MobileNet v1 0.75 PoseNet, uint8, input 353x481, stride 16 (Coral)"),
    # The default model. PoseNet is fully convolutional and the three Coral files hold
    # the same weights (they differ only in the 70 bytes of their input shapes), so this
    # one serves every input size: 1.3 MB, Apache-2.0, notice in data/NOTICE.
    ModelInfo("posenet_mobilenet_v1_075_481_641_quant",
              "posenet_mobilenet_v1_075_481_641_quant.tflite",
              CORAL + "posenet_mobilenet_v1_075_481_641_quant.tflite",
              "d7ac211a927e114a9266e424c3cb5b6ce0db462ee2d5311471c437cca2b262a6",
              "MobileNet v1 0.75 PoseNet, uint8, input 481x641, stride 16 (Coral); "
              "shipped with posefast",
              embedded=True),
    ModelInfo("posenet_mobilenet_v1_075_721_1281_quant",
              "posenet_mobilenet_v1_075_721_1281_quant.tflite",
              CORAL + "posenet_mobilenet_v1_075_721_1281_quant.tflite",
              "5214ffd99fc633a99960bc133d544d57d85304c082cd72a18f12580ee6921445",
              "MobileNet v1 0.75 PoseNet, uint8, input 721x1281, stride 16 (Coral)"),
    # The TF Lite starter model: its checksum is not published with it, and we have not
    # been able to fetch it to record one, so it is only downloaded when the user allows
    # an unverified file (POSEFAST_ALLOW_UNVERIFIED=1 or allow_unverified=True).
    ModelInfo("posenet_mobilenet_v1_100_257x257_multi_kpt_stripped",
              "posenet_mobilenet_v1_100_257x257_multi_kpt_stripped.tflite",
              "https://storage.googleapis.com/download.tensorflow.org/models/tflite/"
              "posenet_mobilenet_v1_100_257x257_multi_kpt_stripped.tflite",
              None,
              "MobileNet v1 1.0 PoseNet, float32, input 257x257, stride 32 (TF Lite starter)"),
    # Coral's ResNet-50 PoseNets for the CPU (the Edge TPU builds cannot run here): more
    # accurate than MobileNet, several times slower. Coral names them
    # WIDTH_HEIGHT_STRIDE (MobileNet's names are HEIGHT_WIDTH); they take uint8 RGB
    # pixels as they are and end in PosenetDecoderOp, which posefast cuts off. Coral's
    # repository records git blob ids, not sha256s: those verify the downloads.
    *(ModelInfo(f"posenet_resnet_50_{w}_{h}_{stride}_quant_cpu_decoder",
                f"posenet_resnet_50_{w}_{h}_{stride}_quant_cpu_decoder.tflite",
                f"{CORAL_RESNET}posenet_resnet_50_{w}_{h}_{stride}_quant_cpu_decoder.tflite",
                None,
                f"ResNet-50 PoseNet, uint8, input {h}x{w}, stride {stride}, with Coral's "
                f"decoder op (Coral)",
                git_blob=blob, decoder_op=True)
      for w, h, stride, blob in (
          (416, 288, 16, "9c8a29f436450bcb090a2a3e885be1fc324fe431"),
          (640, 480, 16, "db5cf69db46ae465cf986c35f670b3e82fffa300"),
          (768, 496, 32, "aae6296676ae4f97b499193faa58143139b9a9e2"),
          (864, 624, 32, "2cb445e916f65a730c20563dbe9829c989d9a7ef"),
          (928, 672, 16, "e4f70a165af6b24ae18234d348b94b2f0e34e2ff"),
          (960, 736, 32, "e3893b7801b39727a82db4b7565564ebf5fcd4a2"),
      )),
)}


def registry_name(text: str) -> str | None:
    """The registry name ``text`` spells (with or without ``.tflite``), or None.

    Only a bare name counts: anything with a folder in it is a path."""
    if "/" in text or "\\" in text:
        return None
    name = text[:-len(".tflite")] if text.endswith(".tflite") else text
    return name if name in REGISTRY else None


__all__ = ["CORAL", "CORAL_RESNET", "DATA_DIR", "ModelInfo", "REGISTRY", "registry_name"]
