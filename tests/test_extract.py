"""`mgpn extract`: videos made here with PyAV, tiny backbones saved here, the layouts prepare reads.

No weights or videos are downloaded or shipped: every video is a few seconds of a moving pattern
encoded in the test (30, 29.97 and 7 fps, and a variable-frame-rate file), every backbone a tiny
Keras model saved as a SavedModel and a .keras file.
"""

import json
import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from video_helpers import (clip_backbone, frame_backbone, level, write_spec,  # noqa: E402
                           write_video)

pytest.importorskip("av")  # a declared dependency; named here so a broken install says so

SIZE = (48, 64)  # height, width of the encoded videos
# (file, fps, frames, timestamps): the duration is frames / fps, or the last time + 1 / fps.
VFR_TIMES = [0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.9, 1.0, 1.05, 1.1, 1.2, 1.3, 1.5, 1.6, 1.7, 1.8,
             1.9, 2.0, 2.2, 2.4]
VIDEOS = {
    "steady30.mp4": (30, 90, None),
    "ntsc.mp4": (Fraction(30000, 1001), 90, None),
    "slow7.avi": (7, 21, None),
    "vfr.mkv": (10, len(VFR_TIMES), VFR_TIMES),
}
DURATIONS = {"steady30": 3.0, "ntsc": 90 * 1001 / 30000, "slow7": 3.0, "vfr": 2.5}
CLIP_FRAMES, CLIP_SIZE, WIDTH = 4, (16, 16), 12
SPEC = dict(name="tiny", frames_per_clip=CLIP_FRAMES, fps=8, stride_frames=4,
            frame_size=list(CLIP_SIZE), resize="short_side_center_crop", short_side=20,
            pixel_range="-1_1", feature_width=WIDTH)


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """Videos, a spec file and one tiny clip backbone saved both ways."""
    root = tmp_path_factory.mktemp("extract")
    videos = root / "videos"
    for name, (fps, frames, times) in VIDEOS.items():
        write_video(videos / name, fps, frames, SIZE, times=times)
    (videos / "README.txt").write_text("not a video; ignored and counted")
    model = clip_backbone(CLIP_FRAMES, CLIP_SIZE, WIDTH)
    model.save(root / "backbone.keras")
    model.export(str(root / "backbone_savedmodel"), verbose=False)
    spec = write_spec(root / "tiny.json", **SPEC)
    return dict(root=root, videos=videos, keras=root / "backbone.keras",
                savedmodel=root / "backbone_savedmodel", spec=spec, model=model)


def grey_backbone(rank: int = 4):
    """A 'backbone' reading the grey level of the frames' top half (which frame it saw)."""
    import tensorflow as tf

    from mgpn_keras.extract import Backbone

    if rank == 4:
        fn = lambda x: tf.reduce_mean(x[:, 4:20], axis=[1, 2, 3])[:, None] * 255.0  # noqa: E731
    else:
        fn = lambda x: tf.reduce_mean(x[:, :, 4:20], axis=[1, 2, 3, 4])[:, None]  # noqa: E731
    return Backbone(fn, rank, "grey-level")


def frames_seen(features):
    levels = np.array([level(i) for i in range(len(VFR_TIMES) + 2)], np.float32)
    return [int(np.argmin(np.abs(levels - v))) for v in features[:, 0]]


# ----------------------------------------------------------------------------- clip counts
@pytest.mark.parametrize("name", list(VIDEOS))
@pytest.mark.parametrize("sampling", ["fps", "native", "seconds"])
def test_clip_counts_equal_duration_times_rate(kit, name, sampling):
    from mgpn_keras.extract import FeatureSpec, video_features

    fps, frames, _ = VIDEOS[name]
    spec = {"fps": FeatureSpec("s", frames_per_clip=2, fps=6, stride_frames=3, frame_size=(48, 64)),
            "native": FeatureSpec("s", frames_per_clip=3, stride_frames=2, frame_size=(48, 64)),
            "seconds": FeatureSpec("s", frames_per_clip=1, stride_seconds=0.4,
                                   frame_size=(48, 64))}[sampling]
    out = video_features(kit["videos"] / name, spec, grey_backbone(5))
    duration = DURATIONS[Path(name).stem]
    assert out.duration == pytest.approx(duration, abs=1e-6)
    assert out.num_frames == frames
    if sampling == "fps":  # 6 fps, a clip every 3 frames: 2 clips per second, rounded up
        expected = math.ceil(math.ceil(duration * 6 - 1e-6) / 3)
        assert expected == math.ceil(duration * 2 - 1e-6)
    elif sampling == "native":  # every other frame of the file
        expected = math.ceil(frames / 2)
    else:
        expected = math.ceil(duration / 0.4 - 1e-6)
    assert out.features.shape == (expected, 1)


def test_resampling_a_variable_frame_rate_file_takes_the_frame_on_screen(kit):
    from mgpn_keras.extract import FeatureSpec, video_features

    spec = FeatureSpec("s", frames_per_clip=1, fps=10, stride_frames=1, frame_size=SIZE)
    out = video_features(kit["videos"] / "vfr.mkv", spec, grey_backbone())
    on_screen = [max(i for i, t in enumerate(VFR_TIMES) if t <= k / 10 + 1e-9) for k in range(25)]
    assert frames_seen(out.features) == on_screen  # 0.25 s is skipped, 0.5 s held for 0.4 s
    native = video_features(kit["videos"] / "vfr.mkv",
                            FeatureSpec("s", frames_per_clip=1, stride_frames=1, frame_size=SIZE),
                            grey_backbone())
    assert frames_seen(native.features) == list(range(len(VFR_TIMES)))


def test_clips_hold_consecutive_frames_and_the_last_one_repeats(kit):
    from mgpn_keras.extract import FeatureSpec
    from mgpn_keras.extract.clips import cut_clips
    from mgpn_keras.extract.decoding import VideoReader

    reader = VideoReader(kit["videos"] / "slow7.avi", SIZE)
    spec = FeatureSpec("s", frames_per_clip=4, stride_frames=3, frame_size=SIZE)
    clips = list(cut_clips(iter(reader), spec, lambda: reader.duration))
    assert len(clips) == 7  # starts 0, 3, ..., 18 of 21 frames
    levels = np.array([level(i) for i in range(21)], np.float32)
    seen = [[int(np.argmin(np.abs(levels - f[4:20].mean()))) for f in clip] for clip in clips]
    assert seen[0] == [0, 1, 2, 3] and seen[1] == [3, 4, 5, 6]
    assert seen[-1] == [18, 19, 20, 20]  # past the end: the last frame again


# ----------------------------------------------------------------------------- the command
def _dark_video(path, frames: int = 12, fps: int = 6):
    """A black video: no frame of `pattern` is this dark."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = SIZE[1], SIZE[0], "yuv420p"
        black = np.zeros((*SIZE, 3), np.uint8)
        for _ in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(black, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_consecutive_videos_share_backbone_calls_and_fail_alone(kit, tmp_path):
    """`videos_features`: a call takes `batch_size` clips whichever videos they come from, each
    video's features equal its extraction alone, and a broken file or a backbone failing on
    one video's clips fails that video only, in its place."""
    import tensorflow as tf

    from mgpn_keras.datasets.errors import DataError
    from mgpn_keras.extract import (Backbone, FeatureSpec, VideoError, video_features,
                                    videos_features)

    spec = FeatureSpec("s", frames_per_clip=2, fps=6, stride_frames=3, frame_size=(48, 64))
    grey = grey_backbone(5)
    calls = []

    def counted(x):
        calls.append(int(x.shape[0]))
        if float(tf.reduce_min(tf.reduce_mean(x[:, :, 4:20], axis=[1, 2, 3, 4]))) < 8 / 255:
            raise ValueError("this backbone cannot take dark clips")
        return grey.fn(x)

    backbone = Backbone(counted, 5, "grey-level")
    (tmp_path / "broken.mp4").write_text("not a video\n")
    dark = _dark_video(tmp_path / "dark.mp4")
    names = ["steady30.mp4", "slow7.avi", "vfr.mkv", "ntsc.mp4"]
    paths = [kit["videos"] / names[0], kit["videos"] / names[1], tmp_path / "broken.mp4",
             kit["videos"] / names[2], dark, kit["videos"] / names[3]]
    alone = {p: video_features(p, spec, grey) for p in paths if p.parent == kit["videos"]}

    got = list(videos_features(paths, spec, backbone, batch_size=7))
    assert [p for p, _ in got] == paths  # in their order, failures in their place
    results = dict(got)
    for path, want in alone.items():
        np.testing.assert_array_equal(results[path].features, want.features)
        assert results[path].duration == want.duration
    assert isinstance(results[tmp_path / "broken.mp4"], VideoError)
    assert "this backbone cannot take dark clips" in str(results[dark])
    # Clips (2 a second): steady30 6, slow7 6, vfr 5, dark 4, ntsc 7. Calls: steady30's 6 and
    # slow7's first; slow7's other 5, run when the broken file fails (so that slow7 comes out
    # before it); vfr's 5 and dark's first 2, which fails, then again per video: vfr's 5
    # (kept), dark's 2 (its error; its other clips are not read); ntsc's 7.
    assert [len(v.features) for v in alone.values()] == [6, 6, 5, 7]
    assert calls == [7, 5, 7, 5, 2, 7]

    with pytest.raises(DataError, match="width 1, spec"):  # still raised by video_features
        video_features(kit["videos"] / names[0], FeatureSpec(
            "s", frames_per_clip=2, fps=6, stride_frames=3, frame_size=(48, 64),
            feature_width=3), grey)


def test_extract_writes_what_prepare_reads_and_resumes(kit, tmp_path, capsys):
    from mgpn_keras.cli import main
    from mgpn_keras.datasets import features as feats

    out = tmp_path / "features"
    args = ["extract", "--videos", str(kit["videos"]), "--backbone", str(kit["savedmodel"]),
            "--spec", str(kit["spec"]), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "4 videos extracted" in printed and "1 non-video files ignored" in printed
    durations = json.loads((out / "durations.json").read_text())
    assert durations == pytest.approx(DURATIONS, abs=1e-6)
    written = {}
    with feats.open_feature_store(out) as store:  # prepare's own reader
        for video, duration in DURATIONS.items():
            x = store.get(video)
            assert x.dtype == np.float32 and x.shape == (math.ceil(duration * 2 - 1e-6), WIDTH)
            written[video] = x
    # The .keras file of the same model gives the same features, into one HDF5 file.
    h5 = tmp_path / "features.hdf5"
    assert main(args[:4] + [str(kit["keras"])] + args[5:-1] + [str(h5), "--no-progress"]) == 0
    with feats.open_feature_store(h5) as store:
        for video, x in written.items():
            np.testing.assert_allclose(store.get(video), x, rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "features.parts").exists()
    assert json.loads((tmp_path / "features.durations.json").read_text()) == durations

    # Resume: finished videos are kept (files untouched), a missing one is extracted again.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npy")}
    (out / "ntsc.npy").unlink()
    assert main(args) == 0
    assert "1 videos extracted" in capsys.readouterr().out
    for p in out.glob("*.npy"):
        if p.name != "ntsc.npy":
            assert p.stat().st_mtime_ns == stamps[p.name]
    np.testing.assert_array_equal(np.load(out / "ntsc.npy"), written["ntsc"])
    # A second run into a folder another run is writing stops at once, naming the folder.
    from mgpn_keras.runs.lock import hold_run_folder

    with hold_run_folder(out, "extract"):
        with pytest.raises(SystemExit, match="is in use by process"):
            main(args)
    # Another spec into the same folder is refused, naming the folder.
    other = write_spec(tmp_path / "other.json", **{**SPEC, "fps": 4})
    with pytest.raises(SystemExit, match="holds features of another spec or backbone"):
        main(args[:6] + [str(other)] + args[7:])


@pytest.mark.slow
def test_a_killed_run_keeps_finished_videos_and_resumes(kit, tmp_path):
    import os
    import signal
    import subprocess
    import time

    videos = tmp_path / "many"
    count = 5  # the kill comes once the first video is recorded: the others are left
    for k in range(count):
        write_video(videos / f"v{k}.mp4", 30, 60, SIZE)
    out = tmp_path / "out"
    spec = write_spec(tmp_path / "dense.json", **{**SPEC, "fps": 30, "stride_frames": 1})
    # `-c` rather than `-m mgpn_keras.cli`: runpy cannot run a module through the Keras
    # registration hook's loader (mgpn_keras/_keras_hook.py has no get_code).
    command = [sys.executable, "-c", "import sys; from mgpn_keras.cli import main; "
               "sys.exit(main(sys.argv[1:]))", "extract", "--videos", str(videos),
               "--backbone", str(kit["keras"]), "--spec", str(spec), "--out", str(out),
               "--no-progress", "--batch-size", "4"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    durations = out / "durations.json"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if durations.is_file() and json.loads(durations.read_text() or "{}"):
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, f"the run ended first ({process.returncode})"
    finished = json.loads(durations.read_text())
    assert 1 <= len(finished) < count, "the run finished before it could be killed"
    stamps = {v: (out / f"{v}.npy").stat().st_mtime_ns for v in finished}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(json.loads(durations.read_text())) == sorted(f"v{k}" for k in range(count))
    assert {v: (out / f"{v}.npy").stat().st_mtime_ns for v in finished} == stamps
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"v{k}.npy" for k in range(count)] + [".mgpn-lock", "durations.json", "extract.json"])
    assert all(np.load(out / f"v{k}.npy").shape == (60, WIDTH) for k in range(count))


def test_bad_files_fail_with_their_names(kit, tmp_path):
    import av

    from mgpn_keras.cli import main

    bad = tmp_path / "bad"
    bad.mkdir()
    write_video(bad / "good.mp4", 30, 30, SIZE)
    with av.open(str(bad / "zero.mp4"), "w") as container:  # a video stream, not one frame
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    cases = {"text.mp4": ("not a video\n", "cannot be read as a video"),
             "empty.avi": ("", "the file is empty"),
             "zero.mp4": (None, "has no video")}
    for name, (content, _) in cases.items():
        if content is not None:
            (bad / name).write_text(content)
    for name, (_, message) in cases.items():
        alone = tmp_path / name
        alone.mkdir()
        (alone / name).write_bytes((bad / name).read_bytes())
        with pytest.raises(SystemExit) as info:
            main(["extract", "--videos", str(alone), "--backbone", str(kit["keras"]), "--spec",
                  str(kit["spec"]), "--out", str(tmp_path / f"out-{name}"), "--no-progress"])
        text = str(info.value)
        assert name in text and message in text and "\n" not in text
    # --skip-bad: the good video is written, the three bad ones recorded; exit status 1.
    out = tmp_path / "out"
    assert main(["extract", "--videos", str(bad), "--backbone", str(kit["keras"]), "--spec",
                 str(kit["spec"]), "--out", str(out), "--skip-bad", "--no-progress"]) == 1
    info = json.loads((out / "extract.json").read_text())
    assert sorted(info["failed"]) == ["empty", "text", "zero"] and info["clips"] == {"good": 2}
    assert [p.name for p in out.glob("*.npy")] == ["good.npy"]


# ----------------------------------------------------------------------------- specs, backbones
def test_named_and_user_specs(tmp_path):
    from mgpn_keras.extract import NAMED_SPECS, load_spec

    widths = {"charades_i3d": 1024, "charades_vgg": 4096, "tacos_c3d": 4096,
              "activitynet_c3d": 4096}
    for name in NAMED_SPECS:
        spec = load_spec(name)
        assert spec.name == name and spec.feature_width == widths[name] and spec.source
    assert load_spec("charades_vgg").frames_per_clip == 1
    assert load_spec("charades_i3d").clips_per_second() == 3.0  # 24 fps, every 8 frames
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text("frames_per_clip: 8\nstride_seconds: 0.5\nframe_size: [112, 112]\n")
    mine = load_spec(yaml_file)
    assert mine.name == "mine" and mine.clips_per_second() == 2.0
    for content, message in [({"stride_frames": 2, "stride_seconds": 1.0}, "exactly one"),
                             ({"stride_frames": 2, "colour": "rgb"}, "unknown keys"),
                             ({"stride_frames": 0}, "stride_frames must be a positive"),
                             ({"stride_frames": 2, "pixel_range": "0_2"}, "pixel_range")]:
        path = write_spec(tmp_path / "bad.json", **content)
        with pytest.raises(ValueError, match=message):
            load_spec(path)
    with pytest.raises(ValueError, match="not a named spec"):
        load_spec("charades_c3d")


def test_per_frame_backbone_and_backbone_errors(kit, tmp_path, monkeypatch):
    from mgpn_keras.datasets.errors import DataError
    from mgpn_keras.extract import FeatureSpec, load_backbone, video_features

    frame_model = frame_backbone((32, 32), width=WIDTH)
    frame_model.save(tmp_path / "frames.keras")
    backbone = load_backbone(tmp_path / "frames.keras")
    assert backbone.input_rank == 4
    per_frame = FeatureSpec("f", frames_per_clip=1, fps=2, stride_frames=1, frame_size=(32, 32))
    out = video_features(kit["videos"] / "steady30.mp4", per_frame, backbone, batch_size=4)
    assert out.features.shape == (6, WIDTH)
    clips_of_two = FeatureSpec("f", frames_per_clip=2, fps=2, stride_frames=1, frame_size=(32, 32))
    with pytest.raises(DataError, match="takes frames"):
        video_features(kit["videos"] / "steady30.mp4", clips_of_two, backbone)
    wrong_size = FeatureSpec("f", frames_per_clip=1, fps=2, stride_frames=1, frame_size=(24, 32))
    with pytest.raises(DataError, match=r"takes inputs of shape \(batch, 32, 32, 3\)"):
        video_features(kit["videos"] / "steady30.mp4", wrong_size, backbone)
    wrong_width = FeatureSpec("f", frames_per_clip=1, fps=2, stride_frames=1,
                              frame_size=(32, 32), feature_width=WIDTH + 1)
    with pytest.raises(DataError, match=f"width {WIDTH}, spec 'f' expects {WIDTH + 1}"):
        video_features(kit["videos"] / "steady30.mp4", wrong_width, backbone)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_backbone(tmp_path / "missing.keras")

    # A plain tf.Module SavedModel (no Keras): its one input-signature function is the backbone.
    import tensorflow as tf

    class GreyLevel(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, *SIZE, 3], tf.float32)])
        def __call__(self, frames):
            return tf.reduce_mean(frames[:, 4:20], axis=[1, 2, 3])[:, None] * 255.0

    tf.saved_model.save(GreyLevel(), str(tmp_path / "grey_savedmodel"))
    spec = FeatureSpec("g", frames_per_clip=1, fps=10, stride_frames=1, frame_size=SIZE)
    loaded = video_features(kit["videos"] / "vfr.mkv", spec,
                            load_backbone(tmp_path / "grey_savedmodel"))
    in_process = video_features(kit["videos"] / "vfr.mkv", spec, grey_backbone())
    np.testing.assert_allclose(loaded.features, in_process.features, rtol=1e-6)
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # as if kagglehub were not installed
    with pytest.raises(ImportError, match="pip install kagglehub"):
        load_backbone("kaggle:someone/i3d/tensorFlow2/default")


# ----------------------------------------------------------------------------- end to end
TINY_SETTINGS = ["model.input_size=12", "model.word_dim=50", "model.num_sample_clips=16",
                 "model.pool_stride=2", "model.num_clips=8", "model.hidden_size=16",
                 "model.gru_layers=1", "model.num_scale_layers=[3, 2]", "model.groups=4",
                 "model.kernel_size=3", "train.epochs=1", "train.batch_size=4",
                 "eval.batch_size=8"]


def _write_charades_sta(root: Path, durations: dict, splits: dict) -> None:
    """Charades-STA annotation files for our videos; Charades_v1's `length` from durations.json."""
    from data_layouts import SENTENCES

    for split, videos in splits.items():
        rows = ["id,subject,scene,length"] + [f"{v},S,Kitchen,{durations[v]}" for v in videos]
        (root / f"Charades_v1_{split}.csv").write_text("\n".join(rows) + "\n")
        lines = [f"{v} {s} {e}##{sentence}" for v in videos for sentence, s, e in SENTENCES]
        (root / f"charades_sta_{split}.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_videos_to_trained_model_to_moments_of_a_video_file(kit, tmp_path, capsys):
    """mgpn extract -> mgpn prepare -> train.py (one epoch) -> mgpn export -> predict --video."""
    from mgpn_keras.cli import main
    from mgpn_keras.extract import predict_video
    from mgpn_keras.retrieval.loaded_export import load_export, predict
    from mgpn_keras.cli import train as train_py  # what train.py runs

    data = tmp_path / "charades"
    features = data / "I3D" / "raw"  # the preset's usual place: no --features needed
    assert main(["extract", "--videos", str(kit["videos"]), "--backbone", str(kit["savedmodel"]),
                 "--spec", str(kit["spec"]), "--out", str(features), "--no-progress"]) == 0
    durations = json.loads((features / "durations.json").read_text())
    _write_charades_sta(data, durations, {"train": ["steady30", "ntsc", "slow7"],
                                          "test": ["vfr", "steady30"]})
    sets = [a for s in TINY_SETTINGS for a in ("--set", s)]
    shards = tmp_path / "shards"
    assert main(["prepare", "--preset", "charades_i3d", "--data-dir", str(data), "--out",
                 str(shards), "--no-progress", *sets]) == 0
    manifest = json.loads((shards / "manifest.json").read_text())
    assert manifest["counts"] == {"train": 9, "test": 6}  # 3 usable sentences per video
    run = tmp_path / "run"
    assert train_py.main(["--preset", "charades_i3d", "--shards", str(shards), "--output-dir",
                          str(run), "--quiet", *sets]) == 0
    assert set(json.loads((run / "results.json").read_text())) == {"test"}
    export = tmp_path / "export" / "1"
    assert main(["export", "--run-dir", str(run), "--out", str(export)]) == 0
    capsys.readouterr()

    video = kit["videos"] / "vfr.mkv"
    plot = tmp_path / "moments.png"
    assert main(["predict", "--export", str(export), "--video", str(video), "--spec",
                 str(kit["spec"]), "--backbone", str(kit["keras"]), "--query",
                 "A person opens the door", "--json", "--plot", str(plot)]) == 0
    answer = json.loads(capsys.readouterr().out)
    moments = answer[0]["moments"]
    assert answer[0]["query"] == "A person opens the door" and moments
    assert all(0.0 <= m["start"] < m["end"] <= durations["vfr"] + 1e-6 for m in moments)
    assert plot.stat().st_size > 0
    # The Python API: the same features as `mgpn extract` wrote, the same moments as the
    # export gives for them.
    loaded = load_export(export)
    result = predict_video(loaded, video, ["A person opens the door"], kit["spec"], kit["keras"])
    np.testing.assert_allclose(result.features, np.load(features / "vfr.npy"), rtol=1e-5,
                               atol=1e-6)
    assert result.duration == pytest.approx(durations["vfr"])
    direct = predict(loaded, ["A person opens the door"], np.load(features / "vfr.npy"),
                     durations["vfr"])
    np.testing.assert_allclose(result.moments[0], direct[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose([[m["start"], m["end"], m["score"]] for m in moments],
                               direct[0], rtol=1e-4, atol=1e-4)
    # A video longer than the retriever's window goes through windowed retrieval.
    from mgpn_keras.retrieval.retriever import MomentRetriever

    windowed = MomentRetriever.from_run(run, window_seconds=1.5, window_overlap_seconds=0.5)
    steady = kit["videos"] / "steady30.mp4"
    long_result = predict_video(windowed, steady, ["A person opens the door"], kit["spec"],
                                kit["keras"])
    assert windowed.windows(len(long_result.features), long_result.duration) is not None
    np.testing.assert_allclose(
        long_result.moments[0],
        windowed.retrieve(np.load(features / "steady30.npy"), durations["steady30"],
                          ["A person opens the door"])[0], rtol=1e-4, atol=1e-4)
    assert all(0 <= s < e <= durations["steady30"] + 1e-6 for s, e, _ in long_result.moments[0])
