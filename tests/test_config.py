"""Config presets, overrides, validation errors, and the JSON/YAML round trip."""

import pytest

from mgpn_keras import config as C


def test_presets_carry_reference_numbers():
    tacos = C.preset("tacos")
    assert (tacos.model.input_size, tacos.model.pool_stride, tacos.model.num_clips) == (4096, 2, 128)
    assert tacos.model.gru_layers == 3 and tacos.model.num_scale_layers == [15, 8, 8, 8]
    assert (tacos.loss.min_iou, tacos.loss.max_iou, tacos.eval.nms_threshold) == (0.3, 0.7, 0.4)
    assert tacos.eval.iou_thresholds == [0.1, 0.3, 0.5, 0.7]
    anet = C.preset("activitynet")
    assert anet.model.use_position and anet.train.batch_size == 64 and anet.eval.nms_threshold == 0.52
    assert anet.model.input_size == 500 and anet.model.num_clips == 64
    ch = C.preset("charades_i3d")
    assert ch.train.lr_decay_epochs == [7, 12] and ch.train.global_clipnorm == 10
    vgg = C.preset("charades_vgg")
    assert (vgg.model.input_size, vgg.model.num_clips, vgg.eval.nms_threshold) == (4096, 16, 0.44)
    for name in C.PRESET_NAMES:
        cfg = C.preset(name)
        assert cfg.model.hidden_size % cfg.model.groups == 0
        C.validate(cfg)


def test_reference_schedule_per_epoch():
    from mgpn_keras.training.schedule import learning_rate_for_epoch as lr

    ch = C.preset("charades_i3d")
    assert [lr(ch, e) for e in (0, 5, 6, 10, 11, 14)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5])
    anet = C.preset("activitynet")
    assert [lr(anet, e) for e in (3, 4, 6, 7)] == pytest.approx([1e-3, 1e-4, 1e-4, 1e-5])
    tacos = C.preset("tacos")
    assert {lr(tacos, e) for e in range(15)} == {1e-3}


def test_overrides_dotted_bare_and_strings():
    cfg = C.preset("tacos", hidden_size=128)
    assert cfg.model.hidden_size == 128
    cfg = C.apply_overrides(cfg, {"train.epochs": "3", "eval.recall": "[1, 10]"})
    assert cfg.train.epochs == 3 and cfg.eval.recall == [1, 10]
    cfg = C.preset("tacos", model={"hidden_size": 512})
    assert cfg.model.hidden_size == 512


@pytest.mark.parametrize("override,words", [
    ({"model.hidden_size": 100}, ["model.hidden_size", "100", "multiple of model.groups"]),
    ({"model.num_sample_clips": 250}, ["model.num_sample_clips", "250", "multiple of model.pool_stride"]),
    ({"model.num_scale_layers": [15, 8, 8]}, ["model.num_scale_layers", "fits num_clips - 1 = 31"]),
    ({"model.comparison": "magic"}, ["model.comparison", "magic"]),
    ({"eval.best_metric": "R3@0.5"}, ["eval.best_metric", "R1@0.5"]),
    ({"loss.min_iou": 1.0}, ["loss.min_iou", "max_iou"]),
])
def test_invalid_values_name_key_value_and_allowed(override, words):
    with pytest.raises(ValueError) as err:
        C.apply_overrides(C.preset("charades_i3d"), override)
    for word in words:
        assert word in str(err.value)


def test_unknown_keys_are_rejected():
    with pytest.raises(ValueError, match="hidden_sise"):
        C.apply_overrides(C.preset("tacos"), {"model.hidden_sise": 3})
    with pytest.raises(ValueError, match="unknown config key"):
        C.apply_overrides(C.preset("tacos"), {"hiddn": 3})
    with pytest.raises(ValueError, match="unknown key"):
        C.from_dict({"model": {"nope": 1}})
    with pytest.raises(ValueError, match="unknown preset"):
        C.preset("kinetics")


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_save_load_round_trip(tmp_path, suffix):
    cfg = C.preset("activitynet", hidden_size=128)
    path = tmp_path / f"cfg{suffix}"
    C.save_config(cfg, path)
    assert C.load_config(path) == cfg


def test_broken_config_file_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        C.load_config(path)
    path.write_text('{"model": {"hidden_size": 3}}')
    with pytest.raises(ValueError, match="broken.json.*model.hidden_size"):
        C.load_config(path)
