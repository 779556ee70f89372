"""Reproduce ``technob_fx/stages/models/beat_tcn.npz``: the beat/downbeat activation network.

Music is rendered by :mod:`technob_fx.synth.traps` with exact beat and downbeat labels, and real
drum loops are laid under rendered music; features come from the same front-end the tracker uses
(:func:`technob_fx.stages.beatnet.features`), and the network is trained with torch on the CPU.

Training music (no benchmark file; the loops group ``loops`` of the benchmark is never used):

* **random techno** -- :class:`~technob_fx.synth.traps.TechnoSpec` drawn at random per track: tempo
  100-180 BPM, every kick / hat / clap / bass / stab design, four-to-the-floor, broken and half-time
  kick patterns, random 16-step hat, clap, bass and stab patterns, swing, dub delay, 2-bar stops,
  free ambient intros, beatless breakdowns, loudness -14 to -6 LUFS. The benchmark's 16 techno
  fixtures are fixed specs rendered with seed 0; these are other specs and seeds >= 1000.
* **other music** -- the non-techno makers of :mod:`~technob_fx.synth.traps` (chorale, minuet,
  waltz, siciliano, Lo-Fi, trumpet) with seeds >= 1000 (the benchmark renders them with seed 0).
* **real drum loops** (210 tracks) -- the 7 loops of :data:`benchmarks.datasets.LOOPS` marked for
  training (Sonic Pi's CC0 sample pack: the amen break, percussion, garage and industrial loops;
  ``../shared/data/samples``, or ``$TECHNOB_SAMPLES`` pointing at Sonic Pi's ``etc/samples``),
  resampled to 0.8-1.3 x their tempo (the amen also to 160-178 BPM), repeated on the bars of a
  random arrangement whose own drums are off or quiet, muted in its breakdowns and at random
  (10 %). Without these loops the network put real breakbeats and a real drum-and-bass track on
  their off-beats.

Run (about 36 minutes on 2 CPU cores: 7.5 to render 500 tracks, 3 for the loop tracks, 25 to
train)::

    python -m training.train_beats            # render (cached), train, write the .npz
    python -m training.train_beats --tracks 40 --loop-tracks 14 --minutes 2 --out /tmp/beat_tcn.npz   # a smoke run

The result depends on torch's CPU kernels and thread count, so a rerun gives a network of the same
quality, not the same bytes.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.datasets import LOOPS, cache_root
from technob_fx.core.frontend import FPS, Frontend
from technob_fx.stages.beatnet import N_BANDS, WEIGHTS, features
from technob_fx.synth import traps

SR = 44100
NON_TECHNO = ("chorale", "minuet", "waltz", "siciliano_68", "lofi_swing", "trumpet_90")
DILATIONS = tuple(2**i for i in range(10))
CHANNELS = 24
KERNEL = 5
DATA_VERSION = 1


# ----------------------------------------------------------------------------------------------
# Music
# ----------------------------------------------------------------------------------------------

def _random_pattern(rng: np.random.Generator, density: float, *, must: tuple[int, ...] = (), avoid_on: bool = False) -> str:
    p = []
    for i in range(16):
        if i in must:
            p.append("x")
        elif avoid_on and i % 4 == 0:
            p.append(".")
        else:
            r = rng.random()
            p.append("." if r > density else ("x" if r < density * 0.6 else "o"))
    return "".join(p)


def random_spec(rng: np.random.Generator) -> traps.TechnoSpec:
    """A random techno / house / breaks / dnb arrangement and sound."""
    bpm = float(rng.choice([rng.uniform(100, 180), rng.uniform(118, 150)]))
    style = rng.choice(["four", "four", "four", "broken", "half"], p=[0.3, 0.25, 0.15, 0.15, 0.15])
    if style == "four":
        kick: str | tuple[str, ...] = traps.FOUR if rng.random() < 0.8 else "x...x...x...x.x."
    elif style == "broken":
        kick = tuple(_random_pattern(rng, 0.18, must=(0,)) for _ in range(int(rng.integers(1, 5))))
    else:
        kick = tuple(rng.choice(["x.........x.....", "x.....x...x.....", "x.x.......x.....", "x.........x..x.."],
                                size=int(rng.integers(1, 3))).tolist())
    if style == "half":
        clap: str | tuple[str, ...] = rng.choice(["........x.......", "....x.......x...", "....x..o....x..o"]).item()
    else:
        clap = rng.choice([traps.BACKBEAT, traps.BACKBEAT, "....x.......x..x", "............x...",
                           _random_pattern(rng, 0.12)]).item()
    hatc = rng.choice([traps.SIXTEENTHS, "x.x.x.x.x.x.x.x.", "..x...x...x...x.", _random_pattern(rng, 0.5)]).item()
    hato = rng.choice([traps.OFF8, traps.OFF8, "..x...x...x...xx", _random_pattern(rng, 0.2, avoid_on=True)]).item()
    bass = rng.choice([traps.OFF8, ".xxx.xxx.xxx.xxx", "x..x..x...x..x..", ".x.x.x.x.x.x.x.x", "x.......x.......",
                       _random_pattern(rng, float(rng.uniform(0.2, 0.8)))]).item()
    stab = rng.choice(["......x.......x.", "..x...x...x...x.", "...x..x....x..x.", _random_pattern(rng, 0.2)]).item()
    n_sec = int(rng.integers(3, 7))
    labels = ["intro"] + [str(rng.choice(["build", "drop", "drop", "breakdown"])) for _ in range(n_sec - 2)] + ["outro"]
    structure = tuple((lab, int(rng.choice([4, 8, 8, 16]))) for lab in labels)
    n_bars = sum(b for _, b in structure)
    stops = tuple(sorted(int(s) for s in rng.choice(np.arange(4, max(5, n_bars - 4)), size=int(rng.integers(1, 3)),
                                                    replace=False))) if rng.random() < 0.15 else ()
    return traps.TechnoSpec(
        bpm=bpm, structure=structure, mode=str(rng.choice(list(traps.SCALES))), progression=tuple(int(d) for d in rng.integers(0, 7, 4)),
        chord_bars=int(rng.choice([1, 2])), sevenths=bool(rng.random() < 0.3),
        kick=str(rng.choice(traps.Voices.KICKS)), kick_gain=float(rng.uniform(0.35, 1.0)), kick_pattern=kick,
        hat=str(rng.choice(traps.Voices.HATS)), hatc_pattern=hatc, hatc_gain=float(rng.uniform(0.0, 0.5)),
        hato_pattern=hato, hato_gain=float(rng.uniform(0.0, 1.0)),
        clap=str(rng.choice(traps.Voices.CLAPS)), clap_pattern=clap, clap_gain=float(rng.uniform(0.0, 0.9)),
        bass=str(rng.choice(["bass", "sub", "acid", "reese", "fm_bass"])), bass_pattern=bass,
        bass_gain=float(rng.uniform(0.2, 0.9)), bass_len=float(rng.uniform(0.15, 0.6)),
        stab=str(rng.choice(["stab", "rhodes", "pluck"])), stab_pattern=stab, stab_gain=float(rng.choice([0.0, rng.uniform(0.2, 0.7)])),
        pad_gain=float(rng.uniform(0.05, 0.35)), lead_gain=float(rng.choice([0.0, rng.uniform(0.1, 0.35)])),
        swing=float(0.5 if rng.random() < 0.7 else rng.uniform(0.54, 0.66)),
        delay_feedback=float(0.0 if rng.random() < 0.7 else rng.uniform(0.3, 0.75)),
        reverb=float(rng.uniform(0.05, 0.35)), stops=stops,
        ambient_intro=float(0.0 if rng.random() < 0.85 else rng.uniform(4.0, 20.0)),
        wobble=bool(style == "half" and rng.random() < 0.4), target_lufs=float(rng.uniform(-14.0, -6.0)),
    )


def render(i: int, n_other_every: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Track ``i`` of the training set: ``(features (2 * N_BANDS, n), beat frames, downbeat frames)``."""
    seed = 1000 + i
    if i % n_other_every == n_other_every - 1:
        name = NON_TECHNO[(i // n_other_every) % len(NON_TECHNO)]
        audio, truth = traps.make_trap(name, seed=seed, duration=float(np.random.default_rng(seed).uniform(40, 90)),
                                       sample_rate=SR)
    else:
        spec = random_spec(np.random.default_rng([seed, 7]))
        audio, truth = traps.render_spec(spec, name=f"train{i}", seed=seed, sample_rate=SR)
    x = features(Frontend(audio, SR).log_mel())
    return x, np.round(truth.beats * FPS).astype(np.int64), np.round(truth.downbeats * FPS).astype(np.int64)


#: The real drum loops trained on (name -> beats per loop): :data:`benchmarks.datasets.LOOPS` marked
#: for training. The others are the benchmark's ``loops`` group, never trained on.
TRAIN_LOOPS = {name: n for name, (n, trained) in LOOPS.items() if trained}
LOOP_DATA_VERSION = 2


def samples_dir() -> Path:
    """``$TECHNOB_SAMPLES``, else the shared data's ``samples`` folder (Sonic Pi's ``etc/samples``)."""
    from benchmarks.datasets import SHARED_DATA

    env = os.environ.get("TECHNOB_SAMPLES")
    return Path(env) if env else SHARED_DATA / "samples"


def render_loop_track(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Loop track ``i``: a real drum loop, resampled to a random tempo and repeated on the bars of
    a random arrangement (drums of the arrangement off or quiet, loop muted in breakdowns and at
    random), ``(features, beat frames, downbeat frames)`` as :func:`render`."""
    from scipy.signal import resample

    from technob_fx.core.io import read_audio

    rng = np.random.default_rng([5000 + i, 11])
    names = sorted(TRAIN_LOOPS)
    name = names[i % len(names)]
    n_beats = TRAIN_LOOPS[name]
    loop, lsr = read_audio(samples_dir() / f"{name}.flac")[:2]
    loop = loop.mean(axis=0)
    native = 60.0 * n_beats / (loop.size / lsr)
    bpm = float(np.clip(native * rng.uniform(0.8, 1.3), 80.0, 180.0))
    if rng.random() < 0.3 and name.startswith("loop_amen"):
        bpm = float(rng.uniform(160.0, 178.0))  # drum and bass
    spec = random_spec(rng)
    quiet = float(rng.choice([0.0, 0.0, rng.uniform(0.1, 0.4)]))
    spec = traps.TechnoSpec(**{**spec.__dict__, "bpm": bpm, "kick_gain": spec.kick_gain * quiet, "clap_gain": spec.clap_gain * quiet,
                                "hatc_gain": spec.hatc_gain * quiet, "hato_gain": spec.hato_gain * quiet, "swing": 0.5,
                                "stops": (), "ambient_intro": 0.0})
    audio, truth = traps.render_spec(spec, name=f"loop{i}", seed=5000 + i, sample_rate=SR)
    length = int(round(n_beats * 60.0 / bpm * SR))
    drum = resample(loop, int(round(loop.size * SR / lsr))).astype(np.float32)
    drum = resample(drum, length).astype(np.float32)
    beats = np.asarray(truth.beats)
    first = int(np.argmin(np.abs(beats - truth.downbeats[0])))
    mix = np.zeros(audio.shape[1], np.float32)
    breakdown = [(seg.start, seg.end) for seg in truth.segments if seg.label == "breakdown"]
    for k in range(first, beats.size, n_beats):
        t = float(beats[k])
        if rng.random() < 0.1 or any(a <= t < b for a, b in breakdown):
            continue
        s = int(round(t * SR))
        e = min(mix.size, s + length)
        mix[s:e] += drum[: e - s]
    music_rms = float(np.sqrt(np.mean(audio**2)) + 1e-9)
    drum_rms = float(np.sqrt(np.mean(mix**2)) + 1e-9)
    out = audio + (mix * music_rms / drum_rms * rng.uniform(0.7, 2.0))[None]
    out = out / max(1.0, float(np.abs(out).max()) / 0.98)
    x = features(Frontend(out.astype(np.float32), SR).log_mel())
    # beats before the first downbeat are real beats of the arrangement too
    return x, np.round(beats * FPS).astype(np.int64), np.round(np.asarray(truth.downbeats) * FPS).astype(np.int64)


#: The two training sets: cache folder and the renderer of track ``i``.
_SETS = {"rendered": (f"beat_train-v{DATA_VERSION}", render),
         "loops": (f"beat_train-loops-v{LOOP_DATA_VERSION}", render_loop_track)}


def _cache_dir(kind: str = "rendered") -> Path:
    return cache_root() / _SETS[kind][0]


def _render_cached(i: int, kind: str = "rendered") -> Path:
    path = _cache_dir(kind) / f"{i:05d}.npz"
    if not path.exists():
        x, b, d = _SETS[kind][1](i)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, x=x.astype(np.float16), beats=b, downbeats=d)
        os.replace(tmp, path)
    return path


def build(n_tracks: int, jobs: int, kind: str = "rendered") -> list[Path]:
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    paths = []
    with ProcessPoolExecutor(jobs) as ex:
        for k, p in enumerate(ex.map(functools.partial(_render_cached, kind=kind), range(n_tracks))):
            paths.append(p)
            if (k + 1) % 20 == 0 or k + 1 == n_tracks:
                print(f"  rendered {k + 1}/{n_tracks} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return paths


# ----------------------------------------------------------------------------------------------
# Network (the torch twin of technob_fx.stages.beatnet.BeatNet)
# ----------------------------------------------------------------------------------------------

def make_model():  # noqa: ANN201 (torch is imported lazily)
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.conv = nn.Conv1d(CHANNELS, CHANNELS, KERNEL, dilation=d, padding=d * (KERNEL - 1) // 2)
            self.mix = nn.Conv1d(CHANNELS, CHANNELS, 1)
            self.drop = nn.Dropout(0.1)

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            return h + self.mix(self.drop(nn.functional.elu(self.conv(h))))

    class TCN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Conv1d(2 * N_BANDS, CHANNELS, 3, padding=1)
            self.drop = nn.Dropout(0.1)
            self.blocks = nn.ModuleList([Block(d) for d in DILATIONS])
            self.out = nn.Conv1d(CHANNELS, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.drop(nn.functional.elu(self.inp(x)))
            for b in self.blocks:
                h = b(h)
            return self.out(h)

    return TCN()


def export(model, path: Path) -> None:  # noqa: ANN001
    params = {}
    sd = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    params["inp.w"], params["inp.b"] = sd["inp.weight"], sd["inp.bias"]
    params["out.w"], params["out.b"] = sd["out.weight"], sd["out.bias"]
    for i in range(len(DILATIONS)):
        for part in ("conv", "mix"):
            params[f"block{i}.{part}.w"] = sd[f"blocks.{i}.{part}.weight"]
            params[f"block{i}.{part}.b"] = sd[f"blocks.{i}.{part}.bias"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, dilations=np.array(DILATIONS, np.int64), **params)
    os.replace(tmp, path)


def _targets(n: int, frames: np.ndarray) -> np.ndarray:
    """1 on the labelled frame, 0.5 on its neighbours (Böck's target widening)."""
    t = np.zeros(n, np.float32)
    f = frames[(frames >= 0) & (frames < n)]
    for off in (-1, 1):
        g = f + off
        g = g[(g >= 0) & (g < n)]
        t[g] = np.maximum(t[g], 0.5)
    t[f] = 1.0
    return t


def train(paths: list[Path], minutes: float, seed: int, out: Path, crop: int = 3000, batch: int = 6) -> dict:
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = []
    for p in paths:
        with np.load(p) as z:
            x = z["x"].astype(np.float32)
            data.append((x, _targets(x.shape[1], z["beats"]), _targets(x.shape[1], z["downbeats"])))
    model = make_model()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    pos_weight = torch.tensor([[4.0], [12.0]])
    t0 = time.perf_counter()
    budget = minutes * 60.0
    step, losses = 0, []
    while time.perf_counter() - t0 < budget:
        frac = (time.perf_counter() - t0) / budget
        for g in opt.param_groups:  # cosine decay
            g["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
        xs, ys = [], []
        for _ in range(batch):
            x, b, d = data[int(rng.integers(len(data)))]
            n = x.shape[1]
            s = int(rng.integers(0, max(1, n - crop)))
            xc = x[:, s : s + crop]
            y = np.stack([b[s : s + crop], d[s : s + crop]])
            if xc.shape[1] < crop:
                pad = crop - xc.shape[1]
                xc = np.pad(xc, ((0, 0), (0, pad)), constant_values=0.0)
                xc[:N_BANDS, -pad:] = -1.0  # silence
                y = np.pad(y, ((0, 0), (0, pad)))
            xc = xc.copy()
            # augmentation: a spectral tilt (another mix / master), +-12 dB across the bands
            tilt = float(rng.uniform(-12, 12)) / 80.0
            xc[:N_BANDS] = np.clip(xc[:N_BANDS] + tilt * np.linspace(-0.5, 0.5, N_BANDS)[:, None], -1.0, 0.0)
            xs.append(xc)
            ys.append(y)
        xb, yb = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
        model.train()
        logits = model(xb)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yb, pos_weight=pos_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
        step += 1
        if step % 50 == 0:
            print(f"  step {step}: loss {np.mean(losses[-50:]):.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    model.eval()
    export(model, out)
    return {"steps": step, "final_loss": float(np.mean(losses[-50:])), "params": int(n_params),
            "train_s": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.train_beats", description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=500, help="training tracks to render (cached)")
    ap.add_argument("--loop-tracks", type=int, default=210, help="tracks built on real drum loops (cached; 0: none)")
    ap.add_argument("--minutes", type=float, default=25.0, help="training time budget, minutes")
    ap.add_argument("--jobs", type=int, default=2, help="rendering processes")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args(argv)
    missing = [n for n in TRAIN_LOOPS if not (samples_dir() / f"{n}.flac").is_file()]
    if args.loop_tracks and missing:
        print(f"train_beats: error: drum loops {', '.join(missing)} not found in {samples_dir()} (set TECHNOB_SAMPLES to "
              "Sonic Pi's etc/samples, or --loop-tracks 0 to train without them)", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    print(f"rendering {args.tracks} tracks into {_cache_dir()}", flush=True)
    paths = build(args.tracks, args.jobs)
    if args.loop_tracks:
        print(f"rendering {args.loop_tracks} loop tracks into {_cache_dir('loops')} (loops from {samples_dir()})", flush=True)
        paths += build(args.loop_tracks, args.jobs, "loops")
    render_s = time.perf_counter() - t0
    print(f"training for {args.minutes:g} min", flush=True)
    info = train(paths, args.minutes, args.seed, args.out)
    info.update(render_s=render_s, tracks=args.tracks, loop_tracks=args.loop_tracks, seed=args.seed, torch=torch.__version__,
                sha256=hashlib.sha256(args.out.read_bytes()).hexdigest())
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
