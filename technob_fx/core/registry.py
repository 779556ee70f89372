"""Registry of technob node types by preset name.

Presets name nodes by ``type_name`` (``type = "wow_flutter"``). Entries are ``"module:Class"``
strings imported on first use, so loading a preset imports only the stages it uses.
"""

from __future__ import annotations

import importlib

from .errors import PresetError

NODE_TYPES: dict[str, str] = {
    # -- effects (foundation) --
    "stereo_width": "technob_fx.stages.effects:StereoWidth",
    "soft_clip": "technob_fx.stages.effects:SoftClip",
    "wow_flutter": "technob_fx.stages.effects:WowFlutter",
    "vinyl_noise": "technob_fx.stages.effects:VinylNoise",
    "true_peak_limiter": "technob_fx.stages.effects:TruePeakLimiter",
    # -- analysis nodes (issue 3) --
    "beat_tracker": "technob_fx.stages.beats:BeatTracker",
    "segmenter": "technob_fx.stages.segmentation:Segmenter",
    "key_detector": "technob_fx.stages.key:KeyDetector",
    "pitch_tracker": "technob_fx.stages.pitch:PitchTracker",
    "features": "technob_fx.stages.features:FeatureExtractor",
    # -- separation and quantization nodes (issue 4) --
    "hpss": "technob_fx.stages.hpss:HarmonicPercussive",
    "demucs": "technob_fx.stages.stems:DemucsSeparator",
    "quantize": "technob_fx.stages.quantize:Quantize",
    # -- generator nodes (issue 6) --
    # -- notes and chords (issue 15) --
    "note_transcriber": "technob_fx.stages.notes:NoteTranscriber",
}


def node_class(type_name: str) -> type:
    """The node class registered as ``type_name``.

    Raises
    ------
    PresetError
        Unknown type name (the message lists the known ones).
    """
    target = NODE_TYPES.get(type_name)
    if target is None:
        raise PresetError(f"unknown node type {type_name!r}; known: {', '.join(sorted(NODE_TYPES))}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)
