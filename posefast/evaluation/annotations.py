"""The ground truth: a COCO keypoint annotation file (``person_keypoints_val2017.json``),
read and checked before any scoring.

The file is a JSON object with ``images`` (``id``, ``file_name``), ``categories``
(the person category has ``keypoints``: 17 names, COCO's order, which is
``posefast.skeleton.KEYPOINT_NAMES``) and ``annotations`` (``image_id``,
``category_id``, ``keypoints`` ``[x, y, v] * 17`` in pixels, ``v`` 0: not labelled,
1: labelled but hidden, 2: visible; ``bbox`` ``[x, y, width, height]``; ``area`` in
square pixels; ``num_keypoints``; ``iscrowd``). What the COCO tools would stop on
with a KeyError or an assertion is refused here with :class:`EvaluationError`
naming the file and the entry.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from ..skeleton import NUM_KEYPOINTS


class EvaluationError(Exception):
    """Bad annotations or results: the message names the file, the entry and what
    was expected (``posefast eval`` prints it and exits with status 2)."""


@dataclass
class Annotations:
    """A checked annotation file, reduced to what the keypoint metric reads.

    ``dataset``: a COCO dataset dict with only the person category and its
    annotations, each with ``area``, ``num_keypoints`` and ``iscrowd`` filled in
    where the file left them out; ``category_id``: the person category's id;
    ``ids_by_name``: each image's ``file_name`` (without folders) -> its id.
    """

    path: str
    dataset: dict[str, Any]
    category_id: int
    ids_by_name: dict[str, int] = field(default_factory=dict)
    #: the option that named the file, for messages
    option: str = "--annotations"

    @property
    def image_ids(self) -> list[int]:
        return [image["id"] for image in self.dataset["images"]]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _numbers(value: Any, count: int) -> bool:
    return (isinstance(value, list) and len(value) == count
            and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) for v in value))


def read_json(path: str, what: str) -> Any:
    """The parsed JSON of ``path``; EvaluationError naming ``what`` (the option) if
    it cannot be read or parsed."""
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except IsADirectoryError:
        raise EvaluationError(f"{what} {path} is a folder; expected a JSON file") from None
    except OSError as exc:
        raise EvaluationError(f"{what} {path}: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise EvaluationError(f"{what} {path}: not valid JSON ({exc})") from None


def load_annotations(path: str | os.PathLike, what: str = "--annotations") -> Annotations:
    """Read and check a COCO keypoint annotation file; ``what`` names its option in
    messages. Raises EvaluationError for a file that is not one (an
    ``instances_*.json`` without keypoints among them), naming the entry at fault."""
    path = os.fspath(path)
    data = read_json(path, what)
    where = f"{what} {path}"
    if not isinstance(data, dict) or not all(
            isinstance(data.get(key), list) for key in ("images", "annotations", "categories")):
        raise EvaluationError(f"{where}: expected a COCO annotation file, a JSON object with "
                              f"\"images\", \"annotations\" and \"categories\" lists")
    category = _person_category(data["categories"], where)
    images = []
    ids_by_name: dict[str, int] = {}
    for n, image in enumerate(data["images"]):
        if not (isinstance(image, dict) and _is_int(image.get("id"))):
            raise EvaluationError(f"{where}: images[{n}] has no integer \"id\"")
        name = image.get("file_name")
        if isinstance(name, str):
            name = os.path.basename(name)
            if ids_by_name.setdefault(name, image["id"]) != image["id"]:
                raise EvaluationError(f"{where}: file_name {name!r} has two ids")
        images.append({k: image[k] for k in ("id", "file_name", "width", "height") if k in image})
    known = {image["id"] for image in images}
    if len(known) != len(images):
        raise EvaluationError(f"{where}: two images share an id")
    people = [_checked(n, ann, known, where)
              for n, ann in enumerate(data["annotations"])
              if isinstance(ann, dict) and ann.get("category_id") == category["id"]]
    if not any(ann["num_keypoints"] > 0 and not ann["iscrowd"] for ann in people):
        raise EvaluationError(f"{where}: no person has a labelled keypoint, so there is "
                              f"nothing to score against")
    dataset = {"images": images, "annotations": people, "categories": [category]}
    return Annotations(path, dataset, category["id"], ids_by_name, what)


def _person_category(categories: list, where: str) -> dict[str, Any]:
    with_keypoints = [c for c in categories
                      if isinstance(c, dict) and isinstance(c.get("keypoints"), list)
                      and _is_int(c.get("id"))]
    if not with_keypoints:
        raise EvaluationError(
            f"{where}: no category has keypoints, so the file holds no keypoint annotations "
            f"(an instances_*.json? give the person_keypoints_*.json of the same images)")
    people = [c for c in with_keypoints if c.get("name") == "person"] or with_keypoints
    category = people[0]
    if len(category["keypoints"]) != NUM_KEYPOINTS:
        raise EvaluationError(
            f"{where}: category {category.get('name', category['id'])!r} has "
            f"{len(category['keypoints'])} keypoints; posefast scores COCO's {NUM_KEYPOINTS}")
    return {k: category[k] for k in ("id", "name", "keypoints", "skeleton") if k in category}


def _checked(n: int, ann: dict[str, Any], images: set[int], where: str) -> dict[str, Any]:
    at = f"{where}: annotations[{n}]"
    if not _is_int(ann.get("id")):
        raise EvaluationError(f"{at} has no integer \"id\"")
    if ann.get("image_id") not in images:
        raise EvaluationError(f"{at} has image_id {ann.get('image_id')!r}, which no image has")
    keypoints = ann.get("keypoints")
    if keypoints is None:
        raise EvaluationError(f"{at} (id {ann['id']}) has no \"keypoints\"; expected "
                              f"[x, y, v] * {NUM_KEYPOINTS} for every person")
    if not _numbers(keypoints, 3 * NUM_KEYPOINTS):
        raise EvaluationError(f"{at} (id {ann['id']}): \"keypoints\" is not "
                              f"{3 * NUM_KEYPOINTS} finite numbers ([x, y, v] * {NUM_KEYPOINTS})")
    bbox = ann.get("bbox")
    if not _numbers(bbox, 4):
        raise EvaluationError(f"{at} (id {ann['id']}): \"bbox\" is not [x, y, width, height]")
    area = ann.get("area", bbox[2] * bbox[3])
    if not _numbers([area], 1) or area < 0:
        raise EvaluationError(f"{at} (id {ann['id']}): \"area\" is not a number >= 0")
    labelled = sum(1 for v in keypoints[2::3] if v > 0)
    num = ann.get("num_keypoints", labelled)
    if not _is_int(num) or num < 0:
        raise EvaluationError(f"{at} (id {ann['id']}): \"num_keypoints\" is not a whole number")
    crowd = ann.get("iscrowd", 0)
    if crowd not in (0, 1):
        raise EvaluationError(f"{at} (id {ann['id']}): \"iscrowd\" is neither 0 nor 1")
    out = {"id": ann["id"], "image_id": ann["image_id"], "category_id": ann["category_id"],
           "keypoints": list(keypoints), "bbox": list(bbox), "area": area,
           "num_keypoints": num, "iscrowd": int(crowd)}
    if "ignore" in ann:
        out["ignore"] = ann["ignore"]
    return out
