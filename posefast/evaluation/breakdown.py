"""Where the score comes from: each image's matched people and mean OKS, and how
often each keypoint is found within OKS reach.

Both read the matches the metric library made at OKS 0.5 (all areas, up to 20 poses
an image). A keypoint is "within reach" when it is labelled (``v > 0``) on a person
that counts (not a crowd region, at least one labelled keypoint), that person is
matched, and the matched pose's keypoint has a keypoint similarity
``exp(-d^2 / (2 * area * (2 * sigma)^2)) >= 0.5`` (COCO's per-keypoint term of OKS:
``d`` the distance in pixels, ``area`` the person's, ``sigma`` the keypoint's). A
person not matched counts as a miss for each of their labelled keypoints.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..skeleton import KEYPOINT_NAMES, NUM_KEYPOINTS
from .annotations import Annotations
from .metric import Scores
from .results import Results

#: The keypoint similarity a keypoint needs to count as within reach.
REACH = 0.5


@dataclass
class ImageRow:
    """One image: ``people`` that count (not crowd, a labelled keypoint), ``poses``
    found, ``matched`` pairs at OKS >= 0.5, ``mean_oks`` of those (None: no match)."""

    image_id: int
    file_name: str | None
    people: int
    poses: int
    matched: int
    mean_oks: float | None

    def to_dict(self) -> dict:
        return {"image_id": self.image_id, "file_name": self.file_name, "people": self.people,
                "poses": self.poses, "matched": self.matched, "mean_oks": self.mean_oks}


@dataclass
class Breakdown:
    """The scores with the per-image and per-keypoint views; ``keypoint_reach``: each
    keypoint name -> the share of its labelled instances within reach (None where
    none is labelled); ``failed``: the results' sources whose record is an error."""

    scores: Scores
    images: list[ImageRow]
    keypoint_reach: dict[str, float | None]
    keypoint_labelled: dict[str, int]
    results_format: str
    failed: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, float]:
        return self.scores.summary


def _counts(ann: dict) -> bool:
    return not ann["iscrowd"] and ann["num_keypoints"] > 0 and not ann.get("ignore")


def breakdown(annotations: Annotations, results: Results, scores: Scores) -> Breakdown:
    """The per-image rows and per-keypoint shares of ``scores``."""
    wanted = set(scores.image_ids)
    people = {a["id"]: a for a in annotations.dataset["annotations"]
              if a["image_id"] in wanted and _counts(a)}
    names = {image["id"]: image.get("file_name") for image in annotations.dataset["images"]}
    per_image = {i: [0, 0, []] for i in scores.image_ids}  # people, poses, oks of matches
    for person in people.values():
        per_image[person["image_id"]][0] += 1
    for det in results.detections:
        if det["image_id"] in per_image:
            per_image[det["image_id"]][1] += 1
    labelled = np.zeros(NUM_KEYPOINTS, dtype=np.int64)
    reached = np.zeros(NUM_KEYPOINTS, dtype=np.int64)
    for person in people.values():
        labelled += np.asarray(person["keypoints"][2::3]) > 0
    variances = (2 * scores.sigmas) ** 2
    for match in scores.matches:
        person = people.get(match.annotation)
        if person is None:
            continue
        per_image[match.image_id][2].append(match.oks)
        gt = np.asarray(person["keypoints"], dtype=np.float64).reshape(-1, 3)
        dt = np.asarray(results.detections[match.detection]["keypoints"],
                        dtype=np.float64).reshape(-1, 3)
        d2 = ((dt[:, :2] - gt[:, :2]) ** 2).sum(axis=1)
        similarity = np.exp(-d2 / variances / (person["area"] + np.spacing(1)) / 2)
        reached += (gt[:, 2] > 0) & (similarity >= REACH)
    rows = [ImageRow(i, names.get(i), n_people, n_poses, len(oks),
                     float(np.mean(oks)) if oks else None)
            for i, (n_people, n_poses, oks) in sorted(per_image.items())]
    reach = {name: (float(reached[k] / labelled[k]) if labelled[k] else None)
             for k, name in enumerate(KEYPOINT_NAMES)}
    return Breakdown(scores, rows, reach, dict(zip(KEYPOINT_NAMES, labelled.tolist())),
                     results.format, list(results.failed))
