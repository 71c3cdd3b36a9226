"""SSIM of frame stacks (assessment/ssim_stack.py): each frame scikit-image's value, whole and masked, also
for a stack scored as a change of another in a box."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from assessment import ssim_stack
from assessment.ssim_stack import (
    ssim_map_stack,
    ssim_reference,
    ssim_stack_whole_and_masked,
    stack_ssim,
    zero_ssim,
)


def _structured_frames(frames: int, size: int) -> np.ndarray:
    """Smooth frames with edges, flat patches and a moving ring (the SSIM terms of real images, not noise)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    stack = []
    for t in range(frames):
        ring = np.abs(np.hypot(yy - 0.5, xx - 0.5 - 0.02 * t) - 0.3) < 0.06
        stack.append(0.4 * np.sin(6 * xx + t) * np.cos(4 * yy) + 0.5 * ring + 0.2 * (xx > 0.7))
    return np.asarray(stack)


@pytest.mark.parametrize("kind", ["random", "structured"])
def test_vectorised_ssim_of_a_stack_equals_skimage_frame_by_frame(kind: str) -> None:
    """One SSIM pass over a [T, H, W] stack (made a few frames at a time, the reference side computed once)
    gives each frame scikit-image's value, whole and masked, to 1e-6; a frame with an empty mask is NaN."""
    rng = np.random.default_rng(5)
    # 11 frames of 96 x 128: the map is made 5 frames at a time (``_CHUNK_PIXELS``), the last chunk short
    target = rng.uniform(-1, 1, size=(11, 96, 128)) if kind == "random" else _structured_frames(11, 128)[:, :96]
    pred = target + rng.normal(0, 0.15, size=target.shape)
    mask = rng.uniform(size=target.shape) > 0.5
    mask[4] = False
    reference = ssim_reference(target)
    for ref in (None, reference):
        whole, masked = ssim_stack_whole_and_masked(pred, target, 2.0, mask, ref)
        for t in range(len(target)):
            _, smap = structural_similarity(target[t], pred[t], data_range=2.0, full=True)
            assert whole[t] == pytest.approx(structural_similarity(target[t], pred[t], data_range=2.0), abs=1e-6)
            inner = smap[3:-3, 3:-3][mask[t, 3:-3, 3:-3]]
            if inner.size:
                assert masked[t] == pytest.approx(inner.mean(), abs=1e-6)
            else:
                assert np.isnan(masked[t])
    assert np.isnan(masked[4])
    assert np.all(np.isnan(ssim_stack_whole_and_masked(pred, target, 2.0, None, reference)[1]))


def test_vectorised_ssim_of_a_perfect_and_of_a_zero_stack_equals_skimage() -> None:
    """The two rows scored without filtering their stack (the acquired phase against itself: a map of ones;
    the zero row: local means of zero) give scikit-image's values."""
    target = _structured_frames(5, 32)
    reference = ssim_reference(target)
    whole, masked = ssim_stack_whole_and_masked(target.copy(), target, 2.0, target > 0.3, reference)
    assert np.all(whole == 1.0) and np.all(masked == 1.0)
    assert np.all(ssim_map_stack(target.copy(), target, 2.0) == 1.0)
    zero = np.zeros_like(target)
    whole, _ = ssim_stack_whole_and_masked(zero, target, 2.0, None, reference)
    for t in range(len(target)):
        assert structural_similarity(target[t], target[t], data_range=2.0) == 1.0
        assert whole[t] == pytest.approx(structural_similarity(target[t], zero[t], data_range=2.0), abs=1e-12)
        _, smap = structural_similarity(target[t], zero[t], data_range=2.0, full=True)
        np.testing.assert_allclose(ssim_map_stack(zero, target, 2.0, reference)[t], smap, atol=1e-12)


@pytest.mark.parametrize("where", ["inside", "at the border", "two boxes apart", "none"])
@pytest.mark.parametrize("masked", [True, False])
def test_a_stack_changed_in_a_box_scores_as_if_mapped_whole(
    where: str, masked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack that differs from the one scored before it only in a box (a yardstick row next to another) is
    mapped in that box only; every frame's value is the whole map's to 1e-12, whole and masked."""
    full = ssim_stack._full
    rng = np.random.default_rng(8)
    target = _structured_frames(6, 64) + rng.normal(0, 0.05, size=(6, 64, 64))
    mask = (rng.uniform(size=target.shape) > 0.5) if masked else None
    reference = ssim_reference(target)
    first = np.where(np.abs(target) > 0.3, 0.8 * target, 0.0)
    second = first.copy()
    if where == "inside":
        second[:, 20:31, 25:40] += rng.normal(0, 0.2, size=(6, 11, 15))
    elif where == "at the border":
        second[:, 0:5, 50:64] = 0.4
    elif where == "two boxes apart":
        second[2, 10, 12] = -0.5
        second[4, 33, 30] = 0.5
    near = stack_ssim(first, target, 2.0, mask, reference)
    whole_maps = []
    monkeypatch.setattr(ssim_stack, "_full", lambda *a: whole_maps.append(1) or full(*a))
    changed = stack_ssim(second, target, 2.0, mask, reference, [near])
    assert not whole_maps  # the box only
    monkeypatch.undo()
    whole = stack_ssim(second, target, 2.0, mask, reference)
    assert changed.stack is not near.stack
    np.testing.assert_allclose(changed.whole, whole.whole, rtol=0, atol=1e-12)
    np.testing.assert_allclose(changed.masked, whole.masked, rtol=0, atol=1e-12, equal_nan=True)
    for t in range(len(target)):
        assert changed.whole[t] == pytest.approx(structural_similarity(target[t], second[t], data_range=2.0), abs=1e-9)
    third = second.copy()
    third[:, 8:56, 8:56] *= 0.5  # most of the image changed: mapped whole, the same values as without ``near``
    np.testing.assert_array_equal(stack_ssim(third, target, 2.0, mask, reference, [changed]).whole,
                                  stack_ssim(third, target, 2.0, mask, reference).whole)  # fmt: skip


def test_a_stack_zero_outside_a_box_is_scored_as_a_change_of_zeros(monkeypatch: pytest.MonkeyPatch) -> None:
    """A yardstick row (zero outside the myocardium) needs no whole map: it is scored near the zero stack."""
    full = ssim_stack._full
    rng = np.random.default_rng(9)
    target = _structured_frames(4, 48) + rng.normal(0, 0.05, size=(4, 48, 48))
    mask = rng.uniform(size=target.shape) > 0.4
    reference = ssim_reference(target)
    zero = zero_ssim(target, 2.0, mask, reference)
    pred = np.zeros_like(target)
    pred[:, 18:30, 15:27] = target[:, 18:30, 15:27] * 0.9
    calls = []
    monkeypatch.setattr(ssim_stack, "_full", lambda *a: calls.append(1) or full(*a))
    boxed = stack_ssim(pred, target, 2.0, mask, reference, [zero])
    assert not calls
    monkeypatch.undo()
    expected = stack_ssim(pred, target, 2.0, mask, reference)
    np.testing.assert_allclose(boxed.whole, expected.whole, rtol=0, atol=1e-12)
    np.testing.assert_allclose(boxed.masked, expected.masked, rtol=0, atol=1e-12)
    zero_map = ssim_map_stack(np.zeros_like(target), target, 2.0, reference)
    for t in range(len(target)):
        _, smap = structural_similarity(target[t], np.zeros_like(target[t]), data_range=2.0, full=True)
        np.testing.assert_array_equal(zero_map[t], smap)  # the reduced arithmetic: scikit-image's to the bit
