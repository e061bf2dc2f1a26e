"""Which convolutions of a MobileNet v1 PoseNet change for another output stride.

The stride is not in the weights. MobileNet v1 reaches stride 32 with five stride-2
convolutions: ``Conv2d_0`` and the depthwise convolutions of blocks 2, 4, 6 and 12.
A finer stride turns the last of those still at stride 2 into stride 1 and dilates
every 3x3 depthwise convolution after it by the factor removed, so that each keeps
seeing the same neighbourhood of the image (tfjs posenet's ``toOutputStridedLayers``,
atrous convolution). A coarser stride undoes that: the layer goes back to stride 2
and the dilations after it are divided by 2 (a layer that was never dilated stays so).

The plan works from the model as it is, not from a table of what it should be: the
Coral models run at stride 16 with block 12 at stride 1 and block 13 *not* dilated,
and their stride 8 is block 6 at stride 1 with blocks 7-13 dilated by 2 (block 13 by
4 would be the tfjs rule from 32, and measurably wrong for these weights: 5-11 px
instead of 1.2-3.1 px from stride 16, issue 13).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

#: The output strides PoseNet offers.
STRIDES = (8, 16, 32)
#: Block strides of MobileNet v1's 13 depthwise convolutions at output stride 32.
MOBILENET_V1_DEPTHWISE = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1)
_STRIDE2 = [i for i, s in enumerate(MOBILENET_V1_DEPTHWISE) if s == 2]  # blocks 2, 4, 6, 12


class UnsupportedModelError(ValueError):
    """The model is not a MobileNet v1 PoseNet the stride rewrite knows."""


class UnreachableStrideError(ValueError):
    """The architecture cannot run at the output stride asked for."""


@dataclass(frozen=True)
class Layer:
    """One convolution as found in the model file, in execution order.

    ``kernel`` (height, width) in cells; ``stride`` and ``dilation`` per spatial axis
    as the model states them (posefast only writes equal ones)."""

    name: str
    depthwise: bool
    kernel: tuple[int, int]
    stride: int
    dilation: int


@dataclass(frozen=True)
class StridePlan:
    """The layers of a recognised model at its own stride and at ``stride``."""

    model_stride: int
    stride: int
    layers: tuple[Layer, ...]  # the rewritten layers, same order and names as found

    @property
    def unchanged(self) -> bool:
        return self.model_stride == self.stride


def _what(layer: Layer) -> str:
    kind = "depthwise" if layer.depthwise else "convolution"
    return (f"{layer.name or '?'} ({kind} {layer.kernel[0]}x{layer.kernel[1]}, "
            f"stride {layer.stride}, dilation {layer.dilation})")


def recognise(layers: Sequence[Layer], model: str) -> int:
    """The output stride of a MobileNet v1 PoseNet whose convolutions are ``layers``;
    UnsupportedModelError naming the first layer that does not fit otherwise."""
    def refuse(i: int, expected: str) -> UnsupportedModelError:
        found = _what(layers[i]) if i < len(layers) else "the end of the graph"
        return UnsupportedModelError(
            f"{model} is not a MobileNet v1 PoseNet as Coral and TF Lite export it "
            f"(the only architecture whose output stride posefast can rewrite): "
            f"convolution {i} should be {expected}, found {found}")

    if layers and layers[0].kernel == (7, 7) and not any(layer.depthwise for layer in layers):
        # ResNet's stem; its stride is set by how the network was built and trained
        raise UnsupportedModelError(
            f"{model} is a ResNet-50 PoseNet (a 7x7 stem, no depthwise convolutions): "
            f"posefast rewrites the output stride of MobileNet v1 PoseNets only. Coral "
            f"publishes ResNet-50 at strides 16 and 32 (`posefast models` lists them: "
            f"posenet_resnet_50_WIDTH_HEIGHT_STRIDE_quant_cpu_decoder); use the file of the "
            f"stride you want, without --output-stride")
    if not layers or layers[0].depthwise or layers[0].kernel != (3, 3) or layers[0].stride != 2:
        raise refuse(0, "the first 3x3 stride-2 convolution Conv2d_0")
    removed = []
    for block, canonical in enumerate(MOBILENET_V1_DEPTHWISE, start=1):
        i = 2 * block - 1
        dw = layers[i] if i < len(layers) else None
        if dw is None or not dw.depthwise or dw.kernel != (3, 3) or dw.stride not in (1, canonical):
            raise refuse(i, f"the 3x3 depthwise convolution of block {block} at stride "
                            f"{canonical}" + (" or 1" if canonical == 2 else ""))
        if dw.stride != canonical:
            removed.append(block - 1)
        pw = layers[i + 1] if i + 1 < len(layers) else None
        if pw is None or pw.depthwise or pw.kernel != (1, 1) or pw.stride != 1:
            raise refuse(i + 1, f"the 1x1 pointwise convolution of block {block}")
    heads = layers[27:]
    for j, head in enumerate(heads, start=27):
        if head.depthwise or head.kernel != (1, 1) or head.stride != 1:
            raise refuse(j, "a 1x1 output convolution (heatmaps, offsets, displacements)")
    if len(heads) < 3:
        raise refuse(27 + len(heads), "a 1x1 output convolution (at least three)")
    # only a suffix of the stride-2 blocks can have been made stride 1
    if removed != _STRIDE2[len(_STRIDE2) - len(removed):]:
        raise UnsupportedModelError(
            f"{model}: the stride-2 depthwise blocks made stride 1 are "
            f"{[b + 1 for b in removed]}; a MobileNet v1 PoseNet removes them from the "
            f"last one back (12, then 6, 4, 2)")
    return 32 >> len(removed)


def plan_stride(layers: Sequence[Layer], stride: int, model: str) -> StridePlan:
    """The layers rewritten for output ``stride``; raises UnsupportedModelError for an
    unknown architecture and UnreachableStrideError for a stride it cannot reach."""
    own = recognise(layers, model)
    if stride not in STRIDES:
        raise UnreachableStrideError(
            f"output stride {stride} cannot be reached by {model}; the strides it can run "
            f"at are {', '.join(map(str, STRIDES))} (its own: {own})")
    new = list(layers)
    dw_index = [2 * block + 1 for block in range(13)]  # depthwise layer of block b+1
    now = 32 // own
    want = 32 // stride  # 2 ** (stride-2 blocks made stride 1)
    removed_now = now.bit_length() - 1
    removed_want = want.bit_length() - 1
    if removed_want > removed_now:  # finer: remove strides, dilate what follows
        for block in reversed(_STRIDE2[len(_STRIDE2) - removed_want:len(_STRIDE2) - removed_now]):
            i = dw_index[block]
            new[i] = replace(new[i], stride=1)
            for later in dw_index[block + 1:]:
                new[later] = replace(new[later], dilation=new[later].dilation * 2)
    else:  # coarser (or the same): put strides back, undo the dilation after them
        for block in _STRIDE2[len(_STRIDE2) - removed_now:len(_STRIDE2) - removed_want]:
            i = dw_index[block]
            new[i] = replace(new[i], stride=2)
            for later in dw_index[block + 1:]:
                new[later] = replace(new[later], dilation=max(1, new[later].dilation // 2))
    return StridePlan(own, stride, tuple(new))


__all__ = ["Layer", "STRIDES", "StridePlan", "UnreachableStrideError", "UnsupportedModelError",
           "plan_stride", "recognise"]
