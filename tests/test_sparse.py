"""The valid-cell layout equals the dense one: every preset's geometry, the design switches,
the parity fixtures; "auto" and the variants without a valid-cell layout."""

import json

import numpy as np
import pytest

from conftest import randomise_batch_norm, require_fixtures, tiny_config

# Every preset's map geometry, at small widths so that the dense twin stays fast.
GEOMETRIES = {
    "charades_i3d": dict(num_clips=32, num_scale_layers=[15, 8]),
    "charades_vgg": dict(num_clips=16, num_scale_layers=[15]),
    "activitynet": dict(num_clips=64, num_scale_layers=[15, 8, 8]),
    "tacos": dict(num_clips=128, num_scale_layers=[15, 8, 8, 8]),
}
SMALL = dict(hidden_size=32, groups=8, input_size=16, word_dim=12)


def _randomise_batch_norm(model, seed):
    """Random gains, biases and moving statistics, so BatchNorm is not the identity."""
    randomise_batch_norm(model.get_layer("comparison").norms, np.random.default_rng(seed))


def _inputs(m, batch=2, tokens=6, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, tokens), np.float32)
    mask[-1, tokens - 2:] = 0.0  # one padded query
    words = rng.normal(size=(batch, tokens, m.word_dim)).astype(np.float32) * mask[..., None]
    clips = rng.normal(size=(batch, m.num_sample_clips, m.input_size)).astype(np.float32)
    return {"word_vectors": words, "query_mask": mask, "clip_features": clips}


def _dense_conv_relu_at_valid_cells(values, n, scales, kernel, shift):
    import tensorflow as tf

    from mgpn_keras.valid_cells.scatter import gather_valid, scatter_to_map

    y = tf.nn.relu(tf.nn.conv2d(scatter_to_map(values, n, scales), kernel, 1, "SAME") + shift)
    return np.asarray(gather_valid(y, n, scales))


@pytest.mark.parametrize("kernel_size", [3, 7])
def test_valid_cell_convolution_equals_dense_convolution(kernel_size):
    """Two grouped convs + shift + ReLU at the valid cells (the valid-cell list put into the
    tile layout, then convolved twice there) against tf.nn.conv2d on the dense map, for
    rectangles of 1, 2 and 5 rows (5 divides no N here): band cells, both coarse strides, the
    map's edges."""
    from mgpn_keras.valid_cells.convolution import (cells_from_tile_layout, tile_layout_from_cells,
                                                    valid_cell_conv_relu)
    from mgpn_keras.valid_cells.geometry import valid_cells
    from mgpn_keras.valid_cells.plan import valid_cell_plan

    n, scales, groups = 24, [5, 3, 2], 2  # a band of 6 lengths, then strides 2 and 4
    rng = np.random.default_rng(kernel_size)
    start, end = valid_cells(n, scales)
    cells, coarse_cells = len(start), int(np.sum(end - start > 5))
    x = rng.normal(size=(3, cells, 4)).astype(np.float32)
    kernels = [rng.normal(size=(kernel_size, kernel_size, 2, 6)).astype(np.float32),
               rng.normal(size=(kernel_size, kernel_size, 3, 6)).astype(np.float32)]
    shifts = [rng.normal(size=(6,)).astype(np.float32) for _ in kernels]
    first_expected = _dense_conv_relu_at_valid_cells(x, n, scales, kernels[0], shifts[0])
    second_expected = _dense_conv_relu_at_valid_cells(first_expected, n, scales, kernels[1], shifts[1])
    assert (first_expected > 0).mean() > 0.3 and (second_expected > 0).mean() > 0.3
    for rows in (1, 2, 5):
        plan = valid_cell_plan(n, scales, kernel_size, rows)
        assert sum(len(c.neighbours) for c in plan.coarse) == coarse_cells
        assert all(len(c.taps) < kernel_size ** 2 for c in plan.coarse)  # only the taps they use
        first = valid_cell_conv_relu(tile_layout_from_cells(x, plan), kernels[0], shifts[0], plan, groups)
        assert np.all(np.asarray(first[:, -1]) == 0.0)  # the row that missing neighbours read
        np.testing.assert_allclose(np.asarray(cells_from_tile_layout(first, plan)), first_expected,
                                   atol=1e-4, rtol=1e-5)
        second = valid_cell_conv_relu(first, kernels[1], shifts[1], plan, groups)
        np.testing.assert_allclose(np.asarray(cells_from_tile_layout(second, plan)), second_expected,
                                   atol=1e-3, rtol=1e-5)


def test_neighbour_table_matches_the_map():
    from mgpn_keras.valid_cells.geometry import valid_cells, valid_mask
    from mgpn_keras.valid_cells.plan import neighbour_table

    n, scales, k = 16, [5, 3], 3
    start, end = valid_cells(n, scales)
    table = neighbour_table(n, scales, k)
    assert table.shape == (len(start), k * k)
    mask = valid_mask(n, scales)
    for v in range(len(start)):
        for tap in range(k * k):
            i, j = start[v] + tap // k - 1, end[v] + tap % k - 1
            inside = 0 <= i < n and 0 <= j < n and mask[i, j] > 0
            if inside:
                assert (start[table[v, tap]], end[table[v, tap]]) == (i, j)
            else:
                assert table[v, tap] == len(start)


@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_comparison_layers_equal_dense_at_valid_cells(name):
    """The 2D stage alone on O(1) inputs (comparison and ranker), sparse vs dense."""
    import keras

    from mgpn_keras.valid_cells.geometry import valid_cells
    from mgpn_keras.layers.choice_ranker import ChoiceRanker
    from mgpn_keras.layers.group_conv_comparison import GroupConvComparison
    from mgpn_keras.valid_cells.scatter import gather_valid, scatter_to_map

    g = GEOMETRIES[name]
    n, scales, c = g["num_clips"], g["num_scale_layers"], 16
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    cells = len(valid_cells(n, scales)[0])
    sparse_inputs = [rng.normal(size=(2, cells, w)).astype(np.float32) for w in (2 * c, c, c)]
    dense_inputs = [np.asarray(scatter_to_map(t, n, scales)) for t in sparse_inputs]
    dense = GroupConvComparison(c, n, scales, groups=4, kernel_size=7)
    dense(dense_inputs)
    randomise_batch_norm(dense.norms, rng)  # BatchNorm that is not the identity
    dense_out = np.asarray(dense(dense_inputs, training=False))  # (2, N, N, C)
    expected = np.asarray(gather_valid(dense_out, n, scales))  # (2, V, C)
    assert np.abs(expected).max() > 0.1  # a live signal, not all zeros
    for rows in (1, 3, 4):  # 3 divides no map's N: the last rectangle overhangs the map
        sparse = GroupConvComparison(c, n, scales, groups=4, kernel_size=7, layout="valid_cells",
                                     tile_rows=rows)
        sparse(sparse_inputs)
        sparse.set_weights(dense.get_weights())
        sparse_out = np.asarray(sparse(sparse_inputs))
        assert sparse_out.shape == (2, cells, c)
        np.testing.assert_allclose(sparse_out, expected, atol=1e-5, rtol=0)
    ranker = ChoiceRanker(n, scales)
    sparse_ranker = ChoiceRanker(n, scales, layout="valid_cells")
    sparse_ranker(sparse_out)
    ranker(dense_out)
    sparse_ranker.set_weights(ranker.get_weights())
    np.testing.assert_allclose(np.asarray(sparse_ranker(sparse_out)), np.asarray(ranker(dense_out)),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(GEOMETRIES))
def test_sparse_model_equals_dense_model(name):
    import keras

    from mgpn_keras.config import preset
    from mgpn_keras.model import build_mgpn, valid_cell_mask

    keras.utils.set_random_seed(7)
    cfg = preset(name, model=SMALL)
    dense = build_mgpn(cfg)
    _randomise_batch_norm(dense, seed=7)
    sparse = build_mgpn(cfg, layout="valid_cells")
    assert [w.shape for w in sparse.weights] == [w.shape for w in dense.weights]
    sparse.set_weights(dense.get_weights())  # same layers, same weight order
    x = _inputs(cfg.model)
    expected = np.asarray(dense(x, training=False))
    got = np.asarray(sparse(x, training=False))
    assert got.shape == expected.shape == (2, cfg.model.num_clips, cfg.model.num_clips)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert np.all(got[:, valid_cell_mask(cfg) == 0] == 0.0)
    assert got[0][valid_cell_mask(cfg) > 0].std() > 1e-3  # the scores differ between cells


@pytest.mark.parametrize("switches", [
    dict(use_conditioned_interaction=False),
    dict(use_fine_grained=False),
    dict(use_choice_comparison=False),
    dict(candidate_features="content"),
    dict(candidate_features="boundary", use_position=True),
])
def test_sparse_model_equals_dense_model_for_design_switches(switches):
    import keras

    from mgpn_keras.model import build_mgpn, inference_twin, model_layout

    keras.utils.set_random_seed(11)
    cfg = tiny_config(**switches)
    dense = build_mgpn(cfg)
    if cfg.model.use_choice_comparison:
        _randomise_batch_norm(dense, seed=11)
    sparse = inference_twin(dense, cfg, "valid_cells")
    assert model_layout(sparse) == "valid_cells" and model_layout(dense) == "dense"
    x = _inputs(cfg.model)
    np.testing.assert_allclose(np.asarray(sparse(x)), np.asarray(dense(x, training=False)), atol=1e-5, rtol=0)


def _fixture(name):
    d = require_fixtures()
    flat = json.loads((d / f"{name}_config.json").read_text())
    io = np.load(d / f"{name}_io.npz", allow_pickle=False)
    return flat, str(d / f"{name}_weights.npz"), io


@pytest.mark.parametrize("name", ["small", "small_gain"])
def test_sparse_model_matches_parity_fixtures(name):
    from mgpn_keras.convert import config_from_reference, load_reference_weights
    from mgpn_keras.model import build_mgpn

    flat, weights, io = _fixture(name)
    cfg = config_from_reference(flat)
    sparse = build_mgpn(cfg, layout="valid_cells")
    load_reference_weights(sparse, weights)
    feed = {"word_vectors": io["textual_input"].astype(np.float32),
            "query_mask": io["textual_mask"][..., 0].astype(np.float32),
            "clip_features": io["visual_input"].astype(np.float32)}
    got = np.asarray(sparse(feed, training=False))
    err = float(np.abs(got - io["score_map"][:, 0]).max())
    assert err <= 1e-5, f"{name}: sparse score_map differs from the reference by {err}"


def test_weights_saved_from_dense_load_into_valid_cells_and_it_refuses_training(tmp_path):
    import keras

    from mgpn_keras.model import build_mgpn

    keras.utils.set_random_seed(3)
    cfg = tiny_config()
    dense = build_mgpn(cfg)
    _randomise_batch_norm(dense, seed=3)
    path = tmp_path / "dense.weights.h5"
    dense.save_weights(path)
    sparse = build_mgpn(cfg, layout="valid_cells")
    sparse.load_weights(path)  # no conversion step
    x = _inputs(cfg.model)
    np.testing.assert_allclose(np.asarray(sparse(x)), np.asarray(dense(x, training=False)), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="inference only"):
        sparse(x, training=True)


def test_valid_cell_model_keras_file_round_trip(tmp_path):
    import keras

    from mgpn_keras.model import build_mgpn, model_layout

    keras.utils.set_random_seed(4)
    cfg = tiny_config()
    sparse = build_mgpn(cfg, layout="valid_cells")
    path = tmp_path / "sparse.keras"
    sparse.save(path)
    loaded = keras.models.load_model(path)
    x = _inputs(cfg.model)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(sparse(x)), atol=1e-6, rtol=0)
    assert model_layout(loaded) == "valid_cells"
    assert loaded.get_layer("comparison").layout == "valid_cells"


@pytest.mark.parametrize("comparison", ["stacked_conv", "non_local"])
def test_other_comparisons_refuse_valid_cells_and_auto_falls_back_to_dense(comparison):
    from mgpn_keras.config import apply_overrides
    from mgpn_keras.model import build_mgpn, model_layout
    from mgpn_keras.valid_cells.layout import resolve_layout

    cfg = tiny_config(comparison=comparison, num_clips=16, num_sample_clips=64,
                      num_scale_layers=[3])  # 16 + 15 + 14 + 13 of 256 cells: "auto" would pick valid cells
    assert resolve_layout(tiny_config(num_clips=16, num_sample_clips=64, num_scale_layers=[3]),
                          "auto") == "valid_cells"
    with pytest.raises(ValueError, match="valid-cell layout implements"):
        build_mgpn(cfg, layout="valid_cells")
    assert resolve_layout(cfg, "auto") == "dense"
    assert model_layout(build_mgpn(cfg, layout="auto")) == "dense"
    with pytest.raises(ValueError, match="eval.layout"):
        apply_overrides(cfg, {"eval.layout": "valid_cells"})


def test_auto_layout_per_preset():
    from mgpn_keras.config import PRESET_NAMES, preset
    from mgpn_keras.valid_cells.layout import resolve_layout, valid_cell_work, valid_fraction

    picks = {name: resolve_layout(preset(name), "auto") for name in PRESET_NAMES}
    # Measured (mgpn_keras/valid_cells/layout.py): valid cells faster on TACoS, ActivityNet and Charades-STA
    # I3D; on the 16-clip maps the rectangles cover all 256 cells.
    assert picks == {"charades_i3d": "valid_cells", "charades_vgg": "dense", "tacos": "valid_cells",
                     "activitynet": "valid_cells", "synthetic": "dense"}
    assert abs(valid_fraction(preset("charades_i3d")) - 428 / 1024) < 1e-12
    # Charades-STA I3D: 4 rectangles of 4 x 19 cells, then 4 of 4 x 16 (the 16 columns left
    # after row 16); its 36 coarse cells have 412 valid neighbours, and read at least those
    # and fewer than all 36 x 49 taps.
    coarse_work = valid_cell_work(preset("charades_i3d")) * 1024 - 4 * 76 - 4 * 64
    assert 412 / 49 <= coarse_work < 36
    assert resolve_layout(preset("charades_i3d")) == "dense"  # None: training's layout
    with pytest.raises(ValueError, match="expected one of"):
        resolve_layout(preset("tacos"), "sparse")
