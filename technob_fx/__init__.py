"""technob-fx: music analysis, stem separation and tempo quantization as chainable nodes.

Nodes are called like pedalboard plugins (``node(audio, sample_rate) -> audio``) and mix freely
with pedalboard's effects and VST3/AU plugins in a :class:`Chain`. Heavy modules (librosa, torch,
demucs) load lazily, on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it; resolved on first attribute access (PEP 562).
_LAZY = {
    "Chain": "technob_fx.core.chain",
    "ChainOutput": "technob_fx.core.chain",
    "Node": "technob_fx.core.node",
    "EffectNode": "technob_fx.core.node",
    "AnalyzerNode": "technob_fx.core.node",
    "Param": "technob_fx.core.node",
    "ParameterSpec": "technob_fx.core.node",
    "Result": "technob_fx.core.node",
    "Frontend": "technob_fx.core.frontend",
    "BeatGrid": "technob_fx.core.results",
    "Segment": "technob_fx.core.results",
    "Segmentation": "technob_fx.core.results",
    "KeyEstimate": "technob_fx.core.results",
    "NoteEvent": "technob_fx.core.results",
    "read_audio": "technob_fx.core.io",
    "write_audio": "technob_fx.core.io",
    "stream_audio": "technob_fx.core.io",
    "audio_info": "technob_fx.core.io",
    "resample": "technob_fx.core.io",
    "synth_techno": "technob_fx.synth",
    # nodes, called like pedalboard plugins
    "StereoWidth": "technob_fx.stages.effects",
    "SoftClip": "technob_fx.stages.effects",
    "WowFlutter": "technob_fx.stages.effects",
    "VinylNoise": "technob_fx.stages.effects",
    "TruePeakLimiter": "technob_fx.stages.effects",
    "BeatTracker": "technob_fx.stages.beats",
    "Segmenter": "technob_fx.stages.segmentation",
    "KeyDetector": "technob_fx.stages.key",
    "PitchTracker": "technob_fx.stages.pitch",
    "FeatureExtractor": "technob_fx.stages.features",
    "HarmonicPercussive": "technob_fx.stages.hpss",
    "DemucsSeparator": "technob_fx.stages.stems",
    "Quantize": "technob_fx.stages.quantize",
    "analyze": "technob_fx.stages.analysis",
    "analyze_file": "technob_fx.stages.analysis",
    "Analysis": "technob_fx.stages.analysis",
    "load_preset": "technob_fx.core.chain",
    "load_plugin": "technob_fx.core.plugins",
    "list_presets": "technob_fx.core.presets",
    "TechnobError": "technob_fx.core.errors",
    "AudioError": "technob_fx.core.errors",
    "ParameterError": "technob_fx.core.errors",
    "PresetError": "technob_fx.core.errors",
    "ModelError": "technob_fx.core.errors",
    "DependencyError": "technob_fx.core.errors",
    "PathError": "technob_fx.core.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'technob_fx' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from .core.chain import (  # noqa: F401
        Chain,
        ChainOutput,
        load_preset,  # noqa: F401
    )
    from .core.errors import (  # noqa: F401
        AudioError,
        DependencyError,
        ModelError,
        ParameterError,
        PathError,
        PresetError,
        TechnobError,
    )
    from .core.frontend import Frontend  # noqa: F401
    from .core.io import audio_info, read_audio, resample, stream_audio, write_audio  # noqa: F401
    from .core.node import AnalyzerNode, EffectNode, Node, Param, ParameterSpec, Result  # noqa: F401
    from .core.plugins import load_plugin  # noqa: F401
    from .core.presets import list_presets  # noqa: F401
    from .core.results import BeatGrid, KeyEstimate, NoteEvent, Segment, Segmentation  # noqa: F401
    from .stages.analysis import Analysis, analyze, analyze_file  # noqa: F401
    from .stages.beats import BeatTracker  # noqa: F401
    from .stages.effects import SoftClip, StereoWidth, TruePeakLimiter, VinylNoise, WowFlutter  # noqa: F401
    from .stages.features import FeatureExtractor  # noqa: F401
    from .stages.hpss import HarmonicPercussive  # noqa: F401
    from .stages.key import KeyDetector  # noqa: F401
    from .stages.pitch import PitchTracker  # noqa: F401
    from .stages.quantize import Quantize  # noqa: F401
    from .stages.segmentation import Segmenter  # noqa: F401
    from .stages.stems import DemucsSeparator  # noqa: F401
    from .synth import synth_techno  # noqa: F401
