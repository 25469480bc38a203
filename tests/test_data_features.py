"""Video features: the reference's averaging (REFERENCE.md 5.8) and normalisation as the
protocol does them, the stores of each layout, and bad feature files."""

import h5py
import numpy as np
import pytest

from mgpn_keras.datasets import DataError
from mgpn_keras.datasets.features import check_features, default_feature_path, open_feature_store
from mgpn_keras.protocol import clip_averaging
from mgpn_keras.protocol.l2_normalize import l2_normalize as protocol_l2_normalize


def average_to_fixed_length(x, num_sample_clips):
    """The protocol's averaging of one video's (clips, width) features."""
    return clip_averaging.average_to_fixed_length(x[None], num_sample_clips)[0].numpy()


def l2_normalize(x):
    return protocol_l2_normalize(x).numpy()


def clip_features(x, *, width, num_sample_clips, normalize, video_id, source, preset=""):
    """Checked features, normalised and averaged by the protocol, as the pipeline does."""
    checked = check_features(x, width, video_id, source, preset)
    return clip_averaging.model_clips(checked[None], num_sample_clips, normalize)[0].numpy()


def reference_average(features, num_sample_clips=256):
    """A direct transcription of REFERENCE.md 5.8, `average_to_fixed_length`."""
    num_clips = len(features)
    # idxs = round(arange(0, 257)/256 * num_clips), clamped to num_clips - 1; halves to even
    # (Python's round does the same as torch.round).
    idxs = [min(round(k / num_sample_clips * num_clips), num_clips - 1)
            for k in range(num_sample_clips + 1)]
    out = []
    for k in range(num_sample_clips):
        s, e = idxs[k], idxs[k + 1]
        if s < e:
            out.append([sum(float(features[t][c]) for t in range(s, e)) / (e - s)
                        for c in range(features.shape[1])])
        else:
            out.append([float(x) for x in features[s]])
    return np.array(out)


@pytest.mark.parametrize("num_clips", [1, 255, 256, 257, 400])
def test_averaging_matches_the_reference_on_awkward_lengths(num_clips):
    x = np.random.default_rng(num_clips).standard_normal((num_clips, 3)).astype(np.float32)
    got = average_to_fixed_length(x, 256)
    assert got.shape == (256, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference_average(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("num_clips,last_used", [(255, True), (256, True), (257, True),
                                                  (400, False)])
def test_the_last_clip_is_dropped_only_when_the_reference_drops_it(num_clips, last_used):
    x = np.zeros((num_clips, 2), np.float32)
    y = x.copy()
    y[-1] = 1.0
    changed = not np.array_equal(average_to_fixed_length(x, 256), average_to_fixed_length(y, 256))
    assert changed == last_used


def test_other_sample_counts():
    x = np.arange(10, dtype=np.float32)[:, None]
    np.testing.assert_allclose(average_to_fixed_length(x, 4),
                               reference_average(x, 4), rtol=1e-6)


def test_l2_normalize_is_per_clip_and_keeps_zero_clips():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    np.testing.assert_allclose(l2_normalize(x), [[0.6, 0.8], [0.0, 0.0]])


def test_clip_features_normalises_before_averaging():
    # One output clip from 3: idxs = [0, min(3, 2)] = [0, 2], the mean of clips 0 and 1.
    x = np.array([[3.0, 4.0], [0.0, 10.0], [9.0, 9.0]], np.float32)
    out = clip_features(x, width=2, num_sample_clips=1, normalize=True, video_id="v", source="f")
    np.testing.assert_allclose(out, [[0.3, 0.9]], rtol=1e-6)
    raw = clip_features(x, width=2, num_sample_clips=1, normalize=False, video_id="v", source="f")
    np.testing.assert_allclose(raw, [[1.5, 7.0]])


# ------------------------------------------------------------------------------ stores
def test_hdf5_dataset_group_and_key_mapping(tmp_path):
    a, b = np.ones((4, 3), np.float32), np.full((2, 3), 2.0, np.float32)
    with h5py.File(tmp_path / "f.hdf5", "w") as f:
        f["s13-d21"] = a  # TACoS annotation ids carry .avi
        f.create_group("v_abc")["c3d_features"] = b  # ActivityNet
    with open_feature_store(tmp_path / "f.hdf5") as store:
        np.testing.assert_array_equal(store.get("s13-d21.avi"), a)
        np.testing.assert_array_equal(store.get("v_abc"), b)


def test_npy_folder(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "VID1.npy", a)
    np.testing.assert_array_equal(open_feature_store(tmp_path).get("VID1"), a)


def test_default_locations(tmp_path):
    (tmp_path / "I3D" / "raw").mkdir(parents=True)
    assert default_feature_path("charades_sta", "i3d", tmp_path) == tmp_path / "I3D" / "raw"
    with pytest.raises(FileNotFoundError, match=r"tall_c3d_features.hdf5.*--features"):
        default_feature_path("tacos", "c3d", tmp_path)


# ------------------------------------------------------------------------------ bad input
def _store_with(tmp_path, kind, array):
    if kind == "hdf5":
        with h5py.File(tmp_path / "feat.hdf5", "w") as f:
            f["VID1"] = array
        return open_feature_store(tmp_path / "feat.hdf5"), "feat.hdf5"
    np.save(tmp_path / "VID1.npy", array)
    return open_feature_store(tmp_path), str(tmp_path)


def _check(store, width=3):
    return clip_features(store.get("VID1"), width=width, num_sample_clips=4, normalize=True,
                         video_id="VID1", source=store.path, preset="tacos")


@pytest.mark.parametrize("kind", ["hdf5", "npy"])
def test_video_with_no_features(tmp_path, kind):
    store, where = _store_with(tmp_path, kind, np.ones((2, 3), np.float32))
    with pytest.raises(DataError, match=rf"video 'VID2' has no features in .*{where}.*expected"):
        store.get("VID2")
    store.close()
    store, _ = _store_with(tmp_path, kind, np.zeros((0, 3), np.float32))
    with pytest.raises(DataError, match=r"video 'VID1' in .*: features have no clips, expected"):
        _check(store)


@pytest.mark.parametrize("kind", ["hdf5", "npy"])
def test_features_of_the_wrong_width(tmp_path, kind):
    store, where = _store_with(tmp_path, kind, np.ones((5, 4), np.float32))
    with pytest.raises(DataError, match=rf"video 'VID1' in .*{where}: features have width 4, "
                                        r"preset 'tacos' expects 3"):
        _check(store)


@pytest.mark.parametrize("kind", ["hdf5", "npy"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_features(tmp_path, kind, bad):
    x = np.ones((5, 3), np.float32)
    x[3, 1] = bad
    store, where = _store_with(tmp_path, kind, x)
    with pytest.raises(DataError, match=rf"video 'VID1' in .*{where}: features hold a NaN or "
                                        r"infinite value \(first at clip 3, channel 1\), "
                                        r"expected finite"):
        _check(store)


def test_truncated_hdf5(tmp_path):
    with h5py.File(tmp_path / "feat.hdf5", "w") as f:
        for k in range(4):
            f[f"V{k}"] = np.ones((200, 16), np.float32)
    data = (tmp_path / "feat.hdf5").read_bytes()
    (tmp_path / "feat.hdf5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"feature file .*feat.hdf5: cannot be opened as HDF5, "
                                        r"it is truncated"):
        open_feature_store(tmp_path / "feat.hdf5")


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "VID1.npy", np.ones((10, 3), np.float32))
    data = (tmp_path / "VID1.npy").read_bytes()
    (tmp_path / "VID1.npy").write_bytes(data[:-7])
    with pytest.raises(DataError, match=r"feature file .*VID1.npy: truncated .npy, the header "
                                        r"says shape \(10, 3\) float32 \(120 bytes of data\) but "
                                        r"the file holds 113"):
        open_feature_store(tmp_path).get("VID1")
    (tmp_path / "VID1.npy").write_bytes(b"\x93NUM")
    with pytest.raises(DataError, match=r"VID1.npy: not a readable .npy file"):
        open_feature_store(tmp_path).get("VID1")


def test_not_a_feature_file(tmp_path):
    (tmp_path / "feat.txt").write_text("x")
    with pytest.raises(DataError, match=r"feat.txt: expected an .hdf5/.h5 file or a folder"):
        open_feature_store(tmp_path / "feat.txt")
