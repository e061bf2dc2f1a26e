import posefast


def test_skeleton_tables():
    assert len(posefast.KEYPOINT_NAMES) == 17
    assert posefast.KEYPOINT_NAMES[0] == "nose" and posefast.KEYPOINT_NAMES[-1] == "right_ankle"
    assert len(posefast.SKELETON) == 16
    # a tree over all 17 keypoints: 16 edges, every keypoint reached from the nose
    reached = {0}
    for parent, child in posefast.SKELETON:
        assert parent in reached
        reached.add(child)
    assert reached == set(range(17))
