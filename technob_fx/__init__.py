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
    "Chain": "technob_fx.chain",
    "ChainOutput": "technob_fx.chain",
    "Node": "technob_fx.node",
    "EffectNode": "technob_fx.node",
    "AnalyzerNode": "technob_fx.node",
    "Param": "technob_fx.node",
    "ParameterSpec": "technob_fx.node",
    "Result": "technob_fx.node",
    "Frontend": "technob_fx.frontend",
    "BeatGrid": "technob_fx.results",
    "Segment": "technob_fx.results",
    "Segmentation": "technob_fx.results",
    "KeyEstimate": "technob_fx.results",
    "NoteEvent": "technob_fx.results",
    "read_audio": "technob_fx.io",
    "write_audio": "technob_fx.io",
    "stream_audio": "technob_fx.io",
    "audio_info": "technob_fx.io",
    "resample": "technob_fx.io",
    "synth_techno": "technob_fx.synth",
    "load_preset": "technob_fx.presets",
    "list_presets": "technob_fx.presets",
    "TechnobError": "technob_fx.errors",
    "AudioError": "technob_fx.errors",
    "ParameterError": "technob_fx.errors",
    "PresetError": "technob_fx.errors",
    "ModelError": "technob_fx.errors",
    "DependencyError": "technob_fx.errors",
    "PathError": "technob_fx.errors",
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
    from .chain import Chain, ChainOutput  # noqa: F401
    from .errors import (  # noqa: F401
        AudioError,
        DependencyError,
        ModelError,
        ParameterError,
        PathError,
        PresetError,
        TechnobError,
    )
    from .frontend import Frontend  # noqa: F401
    from .io import audio_info, read_audio, resample, stream_audio, write_audio  # noqa: F401
    from .node import AnalyzerNode, EffectNode, Node, Param, ParameterSpec, Result  # noqa: F401
    from .presets import list_presets, load_preset  # noqa: F401
    from .results import BeatGrid, KeyEstimate, NoteEvent, Segment, Segmentation  # noqa: F401
    from .synth import synth_techno  # noqa: F401
