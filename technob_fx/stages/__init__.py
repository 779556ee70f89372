"""The stages: analysis (beats, sections, key, pitch, features), separation (HPSS, demucs),
quantization and effects, each a node. Stages import only :mod:`technob_fx.core`."""
