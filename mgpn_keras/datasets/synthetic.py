"""The synthetic benchmark: a small moment-retrieval task that needs the whole query and video.

Each video is a sequence of 3-6 events separated by background; an event is an (action, object)
pair of real English words. A query describes one event through one of several sentence templates
and synonyms ("someone tosses a mug." for (throw, cup)). The clip features of an event are fixed
random codes of its action and of its object (the same codes in every split) plus a per-video
scene code and Gaussian noise; background clips hold only scene and noise.

The events of a video are drawn from a small grid of 2-3 actions x 2-3 objects, and only events
that share their action with another event AND their object with another event are queried: a
model that reads only the verb, only the noun, or only the video's content finds a distractor
as plausible as the target. Moments fall anywhere, so the moment prior alone does poorly
(benchmarks/synthetic_baselines.py).

The files are the ActivityNet Captions layout, read by the ActivityNet reader:
`{train,val,test}.json` (video -> duration, timestamps in seconds, sentences; plus "events", the
canonical "action object" of each sentence, and "all_events", [action, object, start, end] of
every event of the video, queried or not) and `features/{video_id}.npy`, (clips, 128) float16.
Every split has its own videos; templates and synonyms are shared. All words are in GloVe 6B.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from mgpn_keras import atomic

FORMAT = "mgpn_keras.synthetic/1"
MARKER = "synthetic.json"
SPLITS = ("train", "val", "test")

# canonical action -> third-person verb phrases used in sentences
ACTIONS = {
    "hold": ("holds", "grips", "clutches"),
    "throw": ("throws", "tosses", "hurls"),
    "wash": ("washes", "cleans", "rinses"),
    "carry": ("carries", "hauls", "lugs"),
    "push": ("pushes", "shoves", "nudges"),
    "kick": ("kicks", "punts"),
    "paint": ("paints", "colors", "decorates"),
    "repair": ("repairs", "fixes", "mends"),
    "drop": ("drops", "releases"),
    "inspect": ("inspects", "examines", "studies"),
    "shake": ("shakes", "rattles", "jiggles"),
    "lift": ("lifts", "raises", "hoists"),
}
# canonical object -> nouns used in sentences
OBJECTS = {
    "box": ("box", "crate", "carton"),
    "ball": ("ball",),
    "chair": ("chair", "seat"),
    "bottle": ("bottle", "flask"),
    "book": ("book", "novel"),
    "bag": ("bag", "sack"),
    "cup": ("cup", "mug"),
    "lamp": ("lamp", "lantern"),
    "bucket": ("bucket", "pail"),
    "shoe": ("shoe", "sneaker"),
    "bicycle": ("bicycle", "bike"),
    "umbrella": ("umbrella", "parasol"),
    "phone": ("phone", "telephone", "cellphone"),
    "hammer": ("hammer", "mallet"),
}
TEMPLATES = (
    "a person {v} the {o}.",
    "someone {v} a {o}",
    "the man {v} the {o} .",
    "a woman {v} a {o} in the room.",
    "then the person {v} the {o}",
    "we see someone who {v} a {o}.",
    "next, a man {v} the {o}.",
    "the girl {v} her {o}",
    "a boy {v} his {o} again.",
    "after that, someone {v} the {o}",
)


_GRIDS = ((2, 2), (2, 3), (3, 2), (3, 3))


def words() -> set[str]:
    """Every word the benchmark's sentences can use, as `QueryTokenizer` splits them."""
    text = " ".join(TEMPLATES) + " " + " ".join(v for vs in ACTIONS.values() for v in vs) + " " \
        + " ".join(o for os_ in OBJECTS.values() for o in os_)
    text = text.replace("{v}", " ").replace("{o}", " ").replace(",", " , ").replace(".", " . ")
    return set(text.split())


def write(out_dir: str | os.PathLike, seed: int = 0, *, train_queries: int = 3000,
          val_queries: int = 500, test_queries: int = 1000, min_clips: int = 40,
          max_clips: int = 150, min_events: int = 3, max_events: int = 6,
          feature_dim: int = 128, noise: float = 1.0, clip_seconds: float = 0.5) -> Path:
    """Write the synthetic benchmark (ActivityNet layout) and return its folder.

    Deterministic for a seed. When `out_dir` already holds it with the same parameters
    (`synthetic.json`), nothing is written again.

    Args:
        out_dir: output folder.
        seed: random seed.
        train_queries, val_queries, test_queries: queries per split.
        min_clips, max_clips: range of a video's feature clips.
        min_events, max_events: range of events per video.
        feature_dim: width of a clip feature (the synthetic preset's input_size is 128).
        noise: norm of the per-clip Gaussian noise relative to that of one code (codes have
            unit norm; an event clip holds action + object + 0.5 scene).
        clip_seconds: seconds per clip (duration = clips * clip_seconds).
    """
    params = dict(format=FORMAT, seed=seed, train_queries=train_queries, val_queries=val_queries,
                  test_queries=test_queries, min_clips=min_clips, max_clips=max_clips,
                  min_events=min_events, max_events=max_events, feature_dim=feature_dim,
                  noise=noise, clip_seconds=clip_seconds)
    if not 3 <= min_events <= max_events <= 9:  # a queried event needs two distractors
        raise ValueError(f"events per video: expected 3 <= min_events <= max_events <= 9, got "
                         f"{min_events}..{max_events}")
    if not 3 * max_events <= min_clips <= max_clips:
        raise ValueError(f"clips per video: expected {3 * max_events} (3 x max_events) <= "
                         f"min_clips <= max_clips, got {min_clips}..{max_clips}")
    out = Path(out_dir)
    marker = out / MARKER
    if marker.is_file():
        old = json.loads(marker.read_text(encoding="utf-8"))
        if old.get("params") == params and _complete(out, old):
            return out
    marker.unlink(missing_ok=True)
    for stale in atomic.leftover_temporaries(out, "features"):  # a write killed before the end
        shutil.rmtree(stale, ignore_errors=True)

    codes = np.random.default_rng([seed, 1000])
    action_code = {a: _unit(codes, feature_dim) for a in ACTIONS}
    object_code = {o: _unit(codes, feature_dim) for o in OBJECTS}
    counts = {"train": train_queries, "val": val_queries, "test": test_queries}
    videos = {}
    # The features folder is written whole and replaces the old one in one step; its files are
    # not flushed one by one (1,200 flushes took 7 s, 13x the writing), the marker written
    # last is what says the data set is complete.
    with atomic.atomic_path(out / "features", directory=True) as feature_dir:
        for split_no, split in enumerate(SPLITS):
            rng = np.random.default_rng([seed, split_no])
            annotations: dict[str, dict] = {}
            remaining = counts[split]
            while remaining > 0:
                video_id = f"v_syn_{split}{len(annotations):05d}"
                anno, feats = _video(rng, action_code, object_code, params)
                keep = min(remaining, len(anno["sentences"]))
                for key in ("timestamps", "sentences", "events"):  # a partial last video
                    anno[key] = anno[key][:keep]
                remaining -= keep
                annotations[video_id] = anno
                np.save(feature_dir / f"{video_id}.npy", feats.astype(np.float16))
            atomic.write_text(out / f"{split}.json", json.dumps(annotations) + "\n")
            videos[split] = len(annotations)
    atomic.write_json(marker, {"params": params, "videos": videos, "queries": counts})
    return out


def _complete(out: Path, marker: dict) -> bool:
    expected = sum(marker.get("videos", {}).values())
    return all((out / f"{s}.json").is_file() for s in SPLITS) \
        and len(list((out / "features").glob("*.npy"))) == expected


def _unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    v = rng.standard_normal(dim)
    return v / np.linalg.norm(v)


def _video(rng, action_code, object_code, p) -> tuple[dict, np.ndarray]:
    """One video: its annotation (queried events only) and its (clips, dim) features."""
    actions, objects = list(ACTIONS), list(OBJECTS)
    while True:
        num_events = int(rng.integers(p["min_events"], p["max_events"] + 1))
        # The smallest grid that holds the events, so that most events share with others.
        shapes = [(a, o) for a, o in _GRIDS if a * o == min(
            x * y for x, y in _GRIDS if x * y >= num_events)]
        grid_a, grid_o = shapes[int(rng.integers(len(shapes)))]
        a_set = rng.choice(actions, grid_a, replace=False)
        o_set = rng.choice(objects, grid_o, replace=False)
        grid = [(a, o) for a in a_set for o in o_set]
        events = [grid[i] for i in rng.choice(len(grid), num_events, replace=False)]
        queried = [k for k, (a, o) in enumerate(events)
                   if any(a2 == a and o2 != o for a2, o2 in events)
                   and any(o2 == o and a2 != a for a2, o2 in events)]
        if queried:
            break
    # Log-uniform lengths: short videos are as common as long ones, relative to their size.
    num_clips = int(round(np.exp(rng.uniform(np.log(p["min_clips"]), np.log(p["max_clips"])))))
    # Alternate gap, event, gap, ..., event, gap; an event is on average 5 times a gap.
    weights = np.empty(2 * num_events + 1)
    weights[0::2] = rng.uniform(0.0, 1.0, num_events + 1)
    weights[1::2] = rng.uniform(1.0, 4.0, num_events)
    bounds = np.round(np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum()
                      * num_clips).astype(int)
    spans, previous_end = [], 0
    for k in range(num_events):
        # At least two clips each, never overlapping (min_clips >= 3 x max_events leaves room).
        start = max(int(bounds[2 * k + 1]), previous_end)
        end = min(max(int(bounds[2 * k + 2]), start + 2), num_clips)
        spans.append((start, end))
        previous_end = end

    dim = p["feature_dim"]
    scene = _unit(rng, dim)
    # Background: scene (norm 1) + noise; events: 0.5 scene + action + object + noise.
    clips = scene + rng.standard_normal((num_clips, dim)) * (p["noise"] / np.sqrt(dim))
    for (a, o), (start, end) in zip(events, spans):
        clips[start:end] += action_code[a] + object_code[o] - 0.5 * scene

    sec = p["clip_seconds"]
    anno = {"duration": round(num_clips * sec, 3), "timestamps": [], "sentences": [],
            "events": [],
            "all_events": [[a, o, round(s * sec, 3), round(e * sec, 3)]
                           for (a, o), (s, e) in zip(events, spans)]}
    for k in queried:
        a, o = events[k]
        template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
        verb = ACTIONS[a][int(rng.integers(len(ACTIONS[a])))]
        noun = OBJECTS[o][int(rng.integers(len(OBJECTS[o])))]
        start, end = spans[k]
        anno["timestamps"].append([round(start * sec, 3), round(end * sec, 3)])
        anno["sentences"].append(template.format(v=verb, o=noun))
        anno["events"].append(f"{a} {o}")
    return anno, clips.astype(np.float32)
