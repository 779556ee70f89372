"""Uniform access to pedalboard plugins: names, parameters, validated setting.

pedalboard's built-in effects expose parameters as properties; external VST3/AU plugins expose
``plugin.parameters``. This module gives both the same surface technob nodes have, so presets,
``--set`` and OSC treat every element of a chain alike.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ParameterError

#: Declared ranges of pedalboard built-in parameters that pedalboard itself does not check.
#: ``(minimum, maximum, unit)``; ``None`` for an open end.
BUILTIN_RANGES: dict[str, dict[str, tuple[float | None, float | None, str]]] = {
    "Gain": {"gain_db": (-96.0, 48.0, "dB")},
    "Limiter": {"threshold_db": (-60.0, 0.0, "dB"), "release_ms": (0.1, 5000.0, "ms")},
    "Compressor": {
        "threshold_db": (-96.0, 0.0, "dB"),
        "ratio": (1.0, 100.0, ""),
        "attack_ms": (0.01, 1000.0, "ms"),
        "release_ms": (0.1, 5000.0, "ms"),
    },
    "LowpassFilter": {"cutoff_frequency_hz": (1.0, 96000.0, "Hz")},
    "HighpassFilter": {"cutoff_frequency_hz": (1.0, 96000.0, "Hz")},
    "LadderFilter": {
        "cutoff_hz": (1.0, 96000.0, "Hz"),
        "resonance": (0.0, 1.0, ""),
        "drive": (1.0, 100.0, ""),
    },
    "HighShelfFilter": {
        "cutoff_frequency_hz": (1.0, 96000.0, "Hz"),
        "gain_db": (-48.0, 48.0, "dB"),
        "q": (0.01, 100.0, ""),
    },
    "LowShelfFilter": {
        "cutoff_frequency_hz": (1.0, 96000.0, "Hz"),
        "gain_db": (-48.0, 48.0, "dB"),
        "q": (0.01, 100.0, ""),
    },
    "PeakFilter": {
        "cutoff_frequency_hz": (1.0, 96000.0, "Hz"),
        "gain_db": (-48.0, 48.0, "dB"),
        "q": (0.01, 100.0, ""),
    },
    "Distortion": {"drive_db": (0.0, 100.0, "dB")},
    "Clipping": {"threshold_db": (-96.0, 24.0, "dB")},
    "Delay": {"delay_seconds": (0.0, 30.0, "s"), "feedback": (0.0, 1.0, ""), "mix": (0.0, 1.0, "")},
    "Chorus": {
        "rate_hz": (0.0, 100.0, "Hz"),
        "depth": (0.0, 1.0, ""),
        "centre_delay_ms": (0.0, 100.0, "ms"),
        "feedback": (-1.0, 1.0, ""),
        "mix": (0.0, 1.0, ""),
    },
    "Phaser": {
        "rate_hz": (0.0, 100.0, "Hz"),
        "depth": (0.0, 1.0, ""),
        "centre_frequency_hz": (1.0, 20000.0, "Hz"),
        "feedback": (-1.0, 1.0, ""),
        "mix": (0.0, 1.0, ""),
    },
    "NoiseGate": {
        "threshold_db": (-96.0, 0.0, "dB"),
        "ratio": (1.0, 100.0, ""),
        "attack_ms": (0.01, 1000.0, "ms"),
        "release_ms": (0.1, 5000.0, "ms"),
    },
    "PitchShift": {"semitones": (-72.0, 72.0, "semitones")},
    "Bitcrush": {"bit_depth": (0.0, 32.0, "bits")},
    "Resample": {"target_sample_rate": (100.0, 384000.0, "Hz")},
    "MP3Compressor": {"vbr_quality": (0.0, 10.0, "")},
}

#: Built-in pedalboard effects a preset may name by class name.
BUILTIN_EFFECTS = (
    "Bitcrush", "Chorus", "Clipping", "Compressor", "Convolution", "Delay", "Distortion",
    "GSMFullRateCompressor", "Gain", "HighShelfFilter", "HighpassFilter", "IIRFilter", "Invert",
    "LadderFilter", "Limiter", "LowShelfFilter", "LowpassFilter", "MP3Compressor", "NoiseGate",
    "PeakFilter", "Phaser", "PitchShift", "Resample", "Reverb",
)  # fmt: skip


def is_plugin(obj: Any) -> bool:
    """True for any ``pedalboard.Plugin`` (built-in, external, ``Pedalboard``, ``Mix``)."""
    import pedalboard

    return isinstance(obj, pedalboard.Plugin)


def is_external(obj: Any) -> bool:
    """True for a VST3/AU plugin loaded with ``pedalboard.load_plugin``."""
    import pedalboard

    return isinstance(obj, pedalboard.ExternalPlugin)


def snake_case(name: str) -> str:
    """``"HighpassFilter"`` -> ``"highpass_filter"``; other text to a safe identifier."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    s = re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()
    return s or "plugin"


def default_name(plugin: Any) -> str:
    """Default chain name of a pedalboard plugin."""
    if is_external(plugin):
        return snake_case(getattr(plugin, "name", "") or "plugin")
    return snake_case(type(plugin).__name__)


def builtin_parameter_names(plugin: Any) -> list[str]:
    """Names of a built-in plugin's parameter properties."""
    cls = type(plugin)
    names = []
    for attr in dir(cls):
        if attr.startswith("_"):
            continue
        if isinstance(getattr(cls, attr, None), property):
            names.append(attr)
    skip = {"is_effect", "is_instrument", "reported_latency_samples"}
    return [n for n in names if n not in skip]


def plugin_parameters(plugin: Any) -> dict[str, Any]:
    """Current parameter values of a pedalboard plugin, by name.

    For external plugins, the raw (displayed) values of ``plugin.parameters``.
    """
    if is_external(plugin):
        return {k: getattr(plugin, k) for k in plugin.parameters}
    out = {}
    for key in builtin_parameter_names(plugin):
        try:
            value = getattr(plugin, key)
        except Exception:  # noqa: BLE001, S112 - some properties are write-only/complex
            continue
        if isinstance(value, float):
            value = as_typed(value)
        if isinstance(value, (int, float, bool, str)):
            out[key] = value
    return out


def as_typed(value: float) -> float:
    """A plugin's float parameter as a person typed it: ``1.5``, not ``1.4999998`` (pedalboard
    keeps parameters in single precision, some in other units, e.g. ``gain_db`` as a linear
    gain). Six significant digits, more than any knob is set to, and stable: saving and loading
    a preset gives back the same text."""
    import math

    if not math.isfinite(value):
        return value
    return float(f"{value:.6g}")


def set_plugin_parameter(plugin: Any, key: str, value: Any, owner: str = "") -> None:
    """Set a pedalboard plugin parameter with range checking.

    Raises
    ------
    ParameterError
        Unknown parameter, wrong type, or value out of range (naming ``owner.key``).
    """
    where = f"{owner}.{key}" if owner else key
    if is_external(plugin):
        if key not in plugin.parameters:
            raise ParameterError(
                f"{where}: unknown parameter of plugin {plugin.name!r}; "
                f"known: {', '.join(list(plugin.parameters)[:40])}"
            )
        try:
            setattr(plugin, key, value)
        except Exception as exc:  # noqa: BLE001
            raise ParameterError(f"{where}={value!r}: {exc}") from None
        return
    names = builtin_parameter_names(plugin)
    if key not in names:
        raise ParameterError(
            f"{where}: unknown parameter of {type(plugin).__name__}; known: {', '.join(names)}"
        )
    current = getattr(plugin, key, None)
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        try:
            num = float(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{where} must be a number, got {value!r}") from None
        if num != num or num in (float("inf"), float("-inf")):
            raise ParameterError(f"{where} must be finite, got {value!r}")
        lo, hi, unit = BUILTIN_RANGES.get(type(plugin).__name__, {}).get(key, (None, None, ""))
        if (lo is not None and num < lo) or (hi is not None and num > hi):
            raise ParameterError(f"{where}={value!r} is out of range [{lo}, {hi}] {unit}".rstrip())
        value = num
    try:
        setattr(plugin, key, value)
    except Exception as exc:  # noqa: BLE001 - pedalboard raises ValueError/TypeError
        raise ParameterError(f"{where}={value!r}: {exc}") from None
