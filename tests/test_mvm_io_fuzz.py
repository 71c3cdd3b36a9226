"""Random malformed subject files: the reader loads valid data or raises its own one-line error."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.mvm_io import read_subject
from util.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--base_channels", "8", "--depth", "2", "--num_workers", "0", "--gpu", "-1", "--no_progress"]

# ------------------------------------------------------------------ property: random malformed files

DTYPES = st.sampled_from([np.float32, np.float64, np.uint16, np.uint8, np.int32, np.bool_])
SHAPES = st.lists(st.integers(0, 9), min_size=0, max_size=5).map(tuple)
VALUES = st.sampled_from([0.0, 1.0, 2.0, -1.0, np.nan, np.inf, 255.0, 0.5])


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    shape = draw(SHAPES)
    fill = draw(VALUES)
    dtype = draw(DTYPES)
    with np.errstate(invalid="ignore", over="ignore"):
        data = np.full(shape, fill).astype(dtype)
    if data.size and draw(st.booleans()):
        data.flat[draw(st.integers(0, data.size - 1))] = draw(VALUES) if data.dtype.kind == "f" else 1
    return data


ATTR_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    # HDF5 strings cannot hold NUL, so such attributes cannot exist in a file to read.
    st.text(alphabet=st.characters(exclude_characters="\x00"), max_size=8),
    st.lists(st.floats(-50, 50), max_size=4).map(np.asarray),
)
FIELDS = ["magnitude", "velocity", "myocardium", "tissue", "lv_blood", "velocity_true", "frame_index"]
ATTRS = ["venc_cm_s", "pixel_spacing_mm", "rr_interval_ms", "slice_position", "z_towards_apex", "n_frames"]


def valid_slice(group: h5py.Group, t: int = 4, h: int = 8, w: int = 8) -> None:
    group["magnitude"] = np.ones((t, h, w), np.float32)
    group["velocity"] = np.zeros((t, 3, h, w), np.float32)
    group["myocardium"] = np.zeros((t, h, w), np.uint8)
    group.attrs["venc_cm_s"] = np.array([20.0, 20.0, 25.0])
    group.attrs["pixel_spacing_mm"] = np.array([1.5, 1.5])
    group.attrs["rr_interval_ms"] = 900.0
    group.attrs["slice_position"] = "mid"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    replace=st.dictionaries(st.sampled_from(FIELDS), arrays(), max_size=3),
    drop=st.lists(st.sampled_from(FIELDS[:3] + ATTRS[:4]), max_size=2),
    attrs=st.dictionaries(st.sampled_from(ATTRS), ATTR_VALUES, max_size=2),
    group_is_dataset=st.booleans(),
    truncate=st.one_of(st.none(), st.integers(0, 4000)),
)
def test_reader_loads_valid_data_or_raises_its_own_error(
    tmp_path_factory: pytest.TempPathFactory, replace, drop, attrs, group_is_dataset, truncate
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "s.h5"
    with h5py.File(path, "w") as f:
        valid_slice(f.create_group("mid"))
        g = f["mid"]
        for name, value in replace.items():
            if name in g:
                del g[name]
            g[name] = value
        for name in drop:
            if name in g:
                del g[name]
            g.attrs.pop(name, None) if hasattr(g.attrs, "pop") else None
            if name in g.attrs:
                del g.attrs[name]
        for name, value in attrs.items():
            g.attrs[name] = value
        if group_is_dataset:
            f["basal"] = np.zeros(3)
    if truncate is not None:
        path.write_bytes(path.read_bytes()[:truncate])
    try:
        subject = read_subject(path)
    except DataError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    # Whatever loads is valid data.
    for s in subject.slices.values():
        t, h, w = s.magnitude.shape
        assert t >= 3 and s.velocity.shape == (t, 3, h, w) and s.myocardium.shape == (t, h, w)
        assert np.isfinite(s.magnitude).all() and np.isfinite(s.velocity).all()
        assert set(np.unique(s.myocardium)) <= {0, 1} and (s.venc_cm_s > 0).all()
