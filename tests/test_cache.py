"""`file_identity` on files large enough that its start, middle and end samples are three different
stretches of the file (every test video is under 1 MiB, where all three read from offset 0)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from engine.cache import file_identity

SIZE = (3 << 20) + 12_345  # over 2 MiB, and odd, so the samples neither overlap nor line up with MiBs


@pytest.fixture
def original(tmp_path):
    path = tmp_path / "original.bin"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, SIZE, dtype=np.uint8).tobytes())
    return path


def changed_at(original, offset: int):
    """A copy of `original` of the same size with one byte changed at `offset`."""
    data = bytearray(original.read_bytes())
    data[offset] ^= 0xFF
    path = original.with_name(f"changed at {offset}.bin")
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "offset",
    [0, (1 << 20) - 1, SIZE // 2, SIZE - (1 << 20), SIZE - 1],
    ids=["first byte", "end of the start sample", "middle", "start of the end sample", "last byte"],
)
def test_a_change_in_any_sample_changes_the_identity(original, offset):
    assert file_identity(changed_at(original, offset)) != file_identity(original)


def test_a_renamed_copy_shares_the_identity(original, tmp_path):
    assert file_identity(shutil.copy(original, tmp_path / "renamed copy.bin")) == file_identity(original)


def test_the_size_counts_where_the_samples_agree(tmp_path):
    zeros, one_more = tmp_path / "zeros.bin", tmp_path / "one more zero.bin"
    zeros.write_bytes(bytes(SIZE))
    one_more.write_bytes(bytes(SIZE + 1))  # every sample reads the same zeros
    assert file_identity(one_more) != file_identity(zeros)
