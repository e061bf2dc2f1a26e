"""`posefast eval`'s metric: faster-coco-eval against pycocotools on made-up poses.

Made-up COCO keypoint annotations (IMAGES images, 1-5 people each of random size and
place, some keypoints unlabelled, a crowd region now and then) and results (each
person found with Gaussian noise on its keypoints, growing with a random "difficulty",
a pose missed now and then, false poses added) are scored by each library through
``posefast.evaluation.score`` (what ``posefast eval`` runs: building the libraries'
indexes, matching, accumulating, summarising), the libraries taking turns, repeat by
repeat, in this one process. Prints the median seconds of each, their ratio, and the
largest difference between their 10 summary numbers.

    python benchmarks/bench_eval.py                 # 1000 images, about 3000 poses
    python benchmarks/bench_eval.py --images 5000 --repeats 3
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402
from posefast.evaluation import Annotations, Results, score  # noqa: E402
from posefast.evaluation.metric import installed_libraries  # noqa: E402


def made_up(images: int, seed: int = 0) -> tuple[Annotations, Results]:
    """Annotations and results for ``images`` 640x480 images."""
    rng = np.random.default_rng(seed)
    imgs, anns, dets = [], [], []
    for image_id in range(1, images + 1):
        imgs.append({"id": image_id, "file_name": f"{image_id:012d}.jpg",
                     "width": 640, "height": 480})
        for _ in range(rng.integers(1, 6)):
            w, h = rng.uniform(20, 250), rng.uniform(40, 400)
            x0, y0 = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            x, y = x0 + rng.uniform(0, w, 17), y0 + rng.uniform(0, h, 17)
            v = rng.choice([0, 1, 2], 17, p=[0.2, 0.2, 0.6])
            crowd = int(rng.uniform() < 0.02)
            kps = np.stack([x * (v > 0), y * (v > 0), v], 1).ravel().tolist()
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1,
                         "keypoints": kps, "num_keypoints": int((v > 0).sum()),
                         "bbox": [x0, y0, w, h], "area": w * h * 0.6, "iscrowd": crowd})
            if rng.uniform() < 0.1:
                continue  # missed
            noise = rng.uniform(1, 15)
            found = np.stack([x + rng.normal(0, noise, 17), y + rng.normal(0, noise, 17),
                              rng.uniform(0, 1, 17)], 1)
            dets.append({"image_id": image_id, "category_id": 1,
                         "keypoints": found.ravel().tolist(),
                         "score": float(rng.uniform(0.2, 1) / (1 + noise / 15))})
        for _ in range(rng.integers(0, 2)):  # a false pose
            found = np.stack([rng.uniform(0, 640, 17), rng.uniform(0, 480, 17),
                              rng.uniform(0, 1, 17)], 1)
            dets.append({"image_id": image_id, "category_id": 1,
                         "keypoints": found.ravel().tolist(), "score": float(rng.uniform(0, 0.5))})
    category = {"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(17)]}
    ids = {image["file_name"]: image["id"] for image in imgs}
    annotations = Annotations("made-up", {"images": imgs, "annotations": anns,
                                          "categories": [category]}, 1, ids)
    return annotations, Results("made-up", "coco", dets, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    annotations, results = made_up(args.images)
    libraries = installed_libraries()
    print(f"# {machine.describe()}")
    print(f"# {args.images} images, {len(annotations.dataset['annotations'])} people, "
          f"{len(results.detections)} poses; libraries: {', '.join(libraries)}")
    times: dict[str, list[float]] = {name: [] for name in libraries}
    summaries = {}
    for name in libraries:  # warm-up: imports, first calls
        summaries[name] = score(annotations, results, library=name).summary
    for _ in range(args.repeats):
        for name in libraries:
            start = time.perf_counter()
            score(annotations, results, library=name)
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    base = medians.get("pycocotools")
    for name in libraries:
        ratio = f", {base / medians[name]:.1f}x pycocotools' speed" if base else ""
        print(f"{name:17s} median {medians[name]:.3f} s of {args.repeats}{ratio}")
    if len(summaries) == 2:
        a, b = summaries.values()
        print(f"largest difference between the summaries: {max(abs(a[k] - b[k]) for k in a):.2e}")
    first = next(iter(summaries.values()))
    print("summary: " + ", ".join(f"{k} {v:.3f}" for k, v in first.items()))


if __name__ == "__main__":
    main()
