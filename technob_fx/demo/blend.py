"""``technob demo`` step: a tiny Lo-Fi x Classical dataset from synthesised genres, new music at three blends.

Registered in :data:`technob_fx.demo.DEMO_STEPS` as ``"technob_fx.demo.blend:demo_step"``.
"""

from __future__ import annotations

from . import DemoContext


def demo_step(ctx: DemoContext) -> None:
    """Synthesise genre folders, build the dataset, learn, train the classifier, generate at three blends.

    Writes under ``ctx.out_dir / "blend"``: ``genres[_quick]/`` (the synthesised recordings),
    ``dataset[_quick]/`` (chunks, mels, manifest, model with the learned chord/melody models and
    note samples, classifier) and ``blend_<b>/`` (mix, stems, MIDI with drums, chords, bass and lead)
    for blend 0, 0.5 and 1, all in generative mode (new music, one key, same seed); adds
    ``summary["blend"]``.
    """
    from ..blend.classifier import train_classifier
    from ..blend.dataset import DatasetConfig, build_dataset
    from ..blend.generate import generate
    from ..blend.genres import make_genre_folders
    from ..blend.learn import learn
    from ..core.progress import scaled

    root = ctx.out_dir / "blend"
    quick = bool(ctx.quick)
    files, seconds, chunk = (3, 16.0, 8.0) if quick else (4, 60.0, 30.0)
    bars = 4 if quick else 16
    prog = ctx.progress
    tag = "_quick" if quick else ""  # quick and full runs use other settings: other folders
    dirs = make_genre_folders(root / f"genres{tag}", files=files, seconds=seconds, seed=3)
    ds = root / f"dataset{tag}"
    rep = build_dataset({g: [d] for g, d in dirs.items()}, ds,
                        config=DatasetConfig(chunk_seconds=chunk, n_mels=64 if quick else 128, val_fraction=0.25),
                        jobs=1 if quick else 2, progress=scaled(prog, 0.0, 0.3))
    ctx.log(f"  dataset: {rep.chunks_total} chunks of {chunk:g} s from {rep.sources} synthesised recordings "
            f"({rep.x_realtime:.0f}x real time) -> {ds / 'manifest.csv'}")
    model = learn(ds, progress=scaled(prog, 0.3, 0.5))
    counts = model.score.get("counts", {})
    ctx.log(f"  learned: Lo-Fi {model.tempo['p10']:.0f}-{model.tempo['p90']:.0f} BPM, swing {model.swing:.2f}, "
            f"{len(model.patterns)} drum patterns; from the transcriptions {counts.get('chord_bars', 0)} chord "
            f"bars, {counts.get('phrases', 0)} melodic phrases, {counts.get('voicings', 0)} voicings; "
            f"note samples cut from the recordings: "
            + ", ".join(f"{g} {len(v)}" for g, v in sorted(model.samples.items())))
    clf, tr = train_classifier(ds, epochs=6 if quick else 20, crop=96 if quick else 128,
                               progress=scaled(prog, 0.5, 0.75))
    acc = "n/a" if tr.val_accuracy is None else f"{tr.val_accuracy:.0%}"
    ctx.log(f"  classifier: validation accuracy {acc} on {tr.val_chunks} chunks of unseen recordings")
    from ..core.io import read_audio

    curve, content = {}, {}
    for i, blend in enumerate((0.0, 0.5, 1.0)):
        g = generate(ds, root / f"blend_{blend:g}", blend=blend, bars=bars, seed=0,
                     progress=scaled(prog, 0.75 + 0.08 * i, 0.83 + 0.08 * i))
        audio, sr = read_audio(g.files["mix"])
        curve[f"{blend:g}"] = round(clf.predict_proba(audio, sr).get("lofi", float("nan")), 3)
        content[f"{blend:g}"] = {"chords": g.info["chords"], "colour": g.info["colour"], "swing": g.info["swing"],
                                 "lead": g.info["instruments"]["lead"], "drum_bands": g.info["drum_bands"]}
        ctx.log(f"  blend {blend:g}: {' '.join(g.info['chords'])} ({g.info['colour']}), swing "
                f"{g.info['swing']:.2f}, lead: {g.info['instruments']['lead']} samples, drums: "
                f"{', '.join(g.info['drum_bands']) or 'none'}")
    ctx.log(f"  generated {bars} bars at {g.tempo:g} BPM in {g.key} ({g.sample_rate:g} Hz, -1 dBTP); classifier "
            "Lo-Fi probability by blend: " + ", ".join(f"{k}: {v:.2f}" for k, v in curve.items()))
    ctx.summary["blend"] = {
        "dataset_chunks": rep.chunks_total, "val_accuracy": tr.val_accuracy, "tempo": g.tempo, "key": g.key,
        "lofi_probability_by_blend": curve, "content_by_blend": content,
        "files": [str(p.relative_to(ctx.out_dir)) for p in g.files.values()],
    }
