"""EncodedImage: an image file's bytes decode exactly as the file does."""
from __future__ import annotations

import numpy as np
import pytest

from posefast.reading.images import EncodedImage, ImageLoadError, load_image

from conftest import IMAGES


@pytest.mark.parametrize("name", ["couple.jpg", "standing.png"])
@pytest.mark.parametrize("target", [None, (241, 177)])
def test_bytes_decode_as_the_file_does(shared_data, name, target):
    path = IMAGES / name
    from_file = load_image(str(path), target_size=target)
    from_bytes = load_image(EncodedImage(path.read_bytes(), str(path)), target_size=target)
    assert from_bytes.source == from_file.source == str(path)
    assert (from_bytes.width, from_bytes.height) == (from_file.width, from_file.height)
    # draft mode (JPEG decoded at reduced scale) applies to bytes as to files
    assert from_bytes.image.size == from_file.image.size
    assert np.array_equal(np.asarray(from_bytes.image), np.asarray(from_file.image))


@pytest.mark.parametrize("data, reason", [(b"", "empty file"), (b"not an image", "not an image"),
                                          (None, "truncated")])
def test_bad_bytes_name_their_source(shared_data, data, reason):
    if data is None:
        data = (IMAGES / "couple.jpg").read_bytes()[:40000]
    with pytest.raises(ImageLoadError, match=reason) as err:
        load_image(EncodedImage(data, "s3://bucket/x.jpg"))
    assert str(err.value).startswith("s3://bucket/x.jpg: ")
