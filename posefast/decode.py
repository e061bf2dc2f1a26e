"""Public decoding API (placeholder until issue 2 lands)."""


def decode_single_pose(*args, **kwargs):
    raise NotImplementedError("issue 2")


def decode_multiple_poses(*args, **kwargs):
    raise NotImplementedError("issue 2")


def decode_outputs(*args, **kwargs):
    raise NotImplementedError("issue 2")
