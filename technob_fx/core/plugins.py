"""Uniform access to pedalboard plugins: names, parameters, validated setting.

pedalboard's built-in effects expose parameters as properties; external VST3/AU plugins expose
``plugin.parameters``. This module gives both the same surface technob nodes have, so presets,
``--set`` and OSC treat every element of a chain alike.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AudioError, ParameterError, warn
from .node import EffectNode, ParameterSpec, coerce_bool

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
    """Current values of a pedalboard plugin's settable parameters, by name.

    For external plugins, the displayed values of ``plugin.parameters`` as plain ``float``,
    ``bool`` or ``str``; read-only ones (meters such as ``gain_reduction_db``, host settings such
    as ``buffer_size_frames``) are left out. A :class:`MultiMono` gives its plugin's.
    """
    if isinstance(plugin, MultiMono):
        return plugin.get_parameters()
    if is_external(plugin):
        out: dict[str, Any] = {}
        for key, par in plugin.parameters.items():
            if not par.is_automatable:
                continue
            value = getattr(plugin, key)
            if par.type is float:
                out[key] = as_typed(float(value))
            elif par.type is bool:
                out[key] = bool(value)
            else:
                out[key] = str(value)
        return out
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


def check_external_value(plugin: Any, key: str, value: Any, owner: str = "") -> Any:
    """Validate a value for parameter ``key`` of an external (VST3/AU) plugin, as built-ins are.

    Float parameters take finite numbers (or numeric text, with the parameter's unit or not)
    inside the range the plugin reports, never a ``bool``; boolean ones ``true``/``false``/0/1;
    text ones one of their listed values. Parameters the plugin marks as not automatable are
    read-only: meters (``gain_reduction_db``) and host settings (``buffer_size_frames``).

    Returns
    -------
    float, bool or str
        The value to hand to the plugin.

    Raises
    ------
    ParameterError
        Unknown or read-only parameter, wrong type, not finite or out of range (one line naming
        ``owner.key``).
    """
    import math

    import numpy as np

    where = f"{owner}.{key}" if owner else key
    params = plugin.parameters
    if key not in params:
        settable = [k for k, p in params.items() if p.is_automatable]
        raise ParameterError(
            f"{where}: unknown parameter of plugin {plugin.name!r}; known: {', '.join(settable[:40])}"
        )
    par = params[key]
    if not par.is_automatable:
        raise ParameterError(
            f"{where} is read-only (plugin {plugin.name!r} reports it, e.g. a meter or a host setting)"
        )
    if par.type is float:
        if isinstance(value, (bool, np.bool_)):
            raise ParameterError(f"{where} must be a number, got {value!r}")
        num: float | None = None
        if isinstance(value, (int, float, np.integer, np.floating)):
            num = float(value)
        elif isinstance(value, str):
            text = value.strip()
            label = (par.label or "").strip()
            if label and text.endswith(label):
                text = text[: -len(label)].strip()
            try:
                num = float(text)
            except ValueError:
                num = None
        if num is None:
            raise ParameterError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(num):
            raise ParameterError(f"{where} must be finite, got {value!r}")
        lo, hi = par.min_value, par.max_value
        if (lo is not None and num < lo) or (hi is not None and num > hi):
            unit = f" {par.label.strip()}" if (par.label or "").strip() else ""
            raise ParameterError(f"{where}={value!r} is out of range [{as_typed(lo)}, {as_typed(hi)}]{unit}")
        return num
    if par.type is bool:
        return coerce_bool(value, where)
    # text parameter: one of the values the plugin lists
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, float)):
        raise ParameterError(f"{where} must be one of {', '.join(map(str, par.valid_values[:20]))}; got {value!r}")
    text = str(value)
    if text not in par.valid_values:
        raise ParameterError(f"{where} must be one of {', '.join(map(str, par.valid_values[:20]))}; got {value!r}")
    return text


def _set_external(plugin: Any, key: str, value: Any, where: str) -> None:
    """Hand an already validated value to pedalboard (its own checks stay as a backstop)."""
    try:
        if _ORIGINAL_SETATTR:
            _ORIGINAL_SETATTR[0](plugin, key, value)
        else:
            setattr(plugin, key, value)
    except Exception as exc:  # noqa: BLE001 - pedalboard raises ValueError/TypeError
        raise ParameterError(f"{where}={value!r}: {exc}") from None


#: pedalboard's own ``ExternalPlugin.__setattr__``, once :func:`guard_parameters` wrapped it.
_ORIGINAL_SETATTR: list[Any] = []


def guard_parameters(plugin: Any) -> Any:
    """Make ``plugin.param = value`` on an external plugin validated like a technob parameter.

    pedalboard lets a VST3/AU parameter take NaN (it becomes the minimum), ``True`` for a float,
    and writes to meters. After this call, attribute assignment on ``plugin`` goes through
    :func:`check_external_value` (a ``ParameterError`` on a bad value). Other plugins, those
    technob never saw, keep pedalboard's behaviour. :class:`~technob_fx.core.chain.Chain` guards
    every external plugin it is given; so do :func:`load_plugin` and presets.

    Returns
    -------
    The same plugin.
    """
    if not is_external(plugin):
        return plugin
    from pedalboard import _pedalboard as pb

    mixin = pb._PythonExternalPluginMixin
    if not _ORIGINAL_SETATTR:
        original = mixin.__setattr__

        def __setattr__(self: Any, name: str, value: Any) -> None:  # noqa: N807
            if not name.startswith("_") and getattr(self, "_technob_guarded", False):
                if name in self.parameters:
                    value = check_external_value(self, name, value, owner=getattr(self, "_technob_name", ""))
            original(self, name, value)

        _ORIGINAL_SETATTR.append(original)
        mixin.__setattr__ = __setattr__
    plugin._technob_guarded = True
    return plugin


def vst3_folders() -> list[Path]:
    """Folders searched for a VST3 bundle when a plugin was loaded without technob (pedalboard
    does not keep its path): ``$VST3_PATH`` (``os.pathsep``-separated) first, then the system's
    standard VST3 folders."""
    import os
    import sys

    env = [Path(p) for p in os.environ.get("VST3_PATH", "").split(os.pathsep) if p]
    home = Path.home()
    if sys.platform == "darwin":
        std = [home / "Library/Audio/Plug-Ins/VST3", Path("/Library/Audio/Plug-Ins/VST3")]
    elif sys.platform == "win32":
        common = Path(os.environ.get("COMMONPROGRAMFILES", r"C:\Program Files\Common Files"))
        std = [common / "VST3"]
    else:
        std = [home / ".vst3", Path("/usr/lib/vst3"), Path("/usr/local/lib/vst3")]
    return env + std


def plugin_file(plugin: Any) -> Path | None:
    """The file an external plugin was loaded from.

    Known for plugins loaded by technob (:func:`load_plugin`, presets); for one loaded with
    ``pedalboard.load_plugin`` directly, the VST3 folders (:func:`vst3_folders`) are searched for
    the one bundle that holds a plugin of that name. ``None`` when not found or ambiguous.
    """
    known = getattr(plugin, "_technob_path", None)
    if known:
        return Path(known)
    import pedalboard

    cls = getattr(pedalboard, "VST3Plugin", None)
    if cls is None or not isinstance(plugin, cls):
        return None
    found: list[Path] = []
    for folder in vst3_folders():
        if not folder.is_dir():
            continue
        for bundle in sorted(folder.glob("*.vst3")):
            try:
                names = cls.get_plugin_names_for_file(str(bundle))
            except Exception:  # noqa: BLE001, S112 - an unloadable bundle is not this one
                continue
            if plugin.name in names and bundle.resolve() not in found:
                found.append(bundle.resolve())
    if len(found) != 1:
        return None
    plugin._technob_path = str(found[0])
    return found[0]


def load_plugin(
    path: str | Path, *, plugin_name: str | None = None, parameters: dict[str, Any] | None = None
) -> Any:
    """Load a VST3/AU plugin with validated parameters and a known file.

    Parameters
    ----------
    path : str or Path
        ``.vst3`` bundle (or ``.component`` on macOS).
    plugin_name : str, optional
        One plugin of a shell bundle.
    parameters : dict, optional
        Initial values (validated, see :func:`check_external_value`).

    Returns
    -------
    pedalboard.ExternalPlugin
        Guarded (see :func:`guard_parameters`), remembering its path for
        :meth:`Chain.to_preset <technob_fx.core.chain.Chain.to_preset>`.

    Raises
    ------
    PresetError
        Missing file or a plugin pedalboard cannot load.
    ParameterError
        A bad initial value.
    """
    import pedalboard

    from .errors import PresetError

    path = Path(path).expanduser()
    if not path.exists():
        raise PresetError(f"plugin file not found: {path}")
    try:
        kwargs = {"plugin_name": plugin_name} if plugin_name else {}
        plugin = pedalboard.load_plugin(str(path), **kwargs)
    except Exception as exc:  # noqa: BLE001 - pedalboard raises ImportError/ValueError/RuntimeError
        why = " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__
        raise PresetError(f"cannot load plugin {path}: {why}") from None
    plugin._technob_path = str(path.resolve())
    if plugin_name:
        plugin._technob_plugin_name = plugin_name
    guard_parameters(plugin)
    for key, value in (parameters or {}).items():
        set_plugin_parameter(plugin, key, value, owner=default_name(plugin))
    return plugin


def supports_channels(plugin: Any, channels: int) -> bool:
    """Whether a pedalboard plugin processes ``channels``-channel audio (tried on 64 samples of
    silence, then reset). Instruments, and plugins that fail for another reason, count as yes:
    processing reports their problem."""
    import numpy as np

    if getattr(plugin, "is_instrument", False):
        return True
    try:
        plugin.process(np.zeros((channels, 64), np.float32), 44100.0, reset=True)
    except Exception as exc:  # noqa: BLE001 - pedalboard: ValueError "does not support 2-channel"
        return "channel" not in str(exc)
    finally:
        plugin.reset()
    return True


def adopt_plugin(plugin: Any, name: str = "") -> Any:
    """What a :class:`~technob_fx.core.chain.Chain` keeps for a pedalboard plugin it is given.

    External plugins are guarded (:func:`guard_parameters`); one that cannot take stereo (a mono
    VST3 such as ZamComp) is wrapped in a :class:`MultiMono`, which runs one instance per channel.

    Raises
    ------
    PresetError
        A mono plugin whose file is unknown, so no second instance can be made.
    """
    if not is_external(plugin):
        return plugin
    guard_parameters(plugin)
    if name:
        plugin._technob_name = name
    if supports_channels(plugin, 2):
        return plugin
    return MultiMono(plugin, name=name or None)


def _default_value(par: Any, fallback: Any) -> Any:
    """The value a plugin parameter takes on loading (from its default raw value)."""
    from pedalboard._pedalboard import strip_common_float_suffixes

    try:
        if par.type is bool:
            return par.default_raw_value >= 0.5
        text = par.get_text_for_raw_value(par.default_raw_value)
        return as_typed(float(strip_common_float_suffixes(text))) if par.type is float else str(text)
    except Exception:  # noqa: BLE001 - a plugin that cannot say: the current value
        return fallback


class MultiMono(EffectNode):
    """A mono plugin on audio of any channel count: one instance per channel ("dual mono").

    The first instance is the plugin given; the others are loaded from its file and follow its
    parameters (copied before every block, so ``wrapper.plugin.ratio = 3`` reaches both sides).
    Each instance keeps its own state across ``reset=False`` blocks.

    Parameters
    ----------
    plugin : pedalboard.ExternalPlugin
        A plugin that takes one channel.
    name : str, optional
        Element name (default: the plugin's snake_case name).

    Raises
    ------
    PresetError
        The plugin's file is unknown (see :func:`plugin_file`).
    """

    def __init__(self, plugin: Any, *, name: str | None = None) -> None:
        from .errors import PresetError

        path = plugin_file(plugin)
        if path is None:
            raise PresetError(
                f"plugin {plugin.name!r} takes one channel and a stereo chain needs a second "
                "instance, but its file is unknown: load it with technob_fx.load_plugin(path) "
                "or from a preset"
            )
        self.__dict__["_instances"] = [guard_parameters(plugin)]
        super().__init__(name=name or default_name(plugin))
        self.path = path

    @property
    def plugin(self) -> Any:
        """The first instance (the plugin given); set parameters on it or on the wrapper."""
        return self._instances[0]

    @property
    def parameters(self) -> dict[str, ParameterSpec]:
        """The plugin's settable parameters as specs (range, unit, choices)."""
        out: dict[str, ParameterSpec] = {}
        plugin = self.plugin
        values = plugin_parameters(plugin)
        for key, par in plugin.parameters.items():
            if key not in values:  # read-only
                continue
            value = _default_value(par, values[key])
            if par.type is float:
                spec = ParameterSpec(key, float, value, par.min_value, par.max_value, unit=(par.label or "").strip())
            elif par.type is bool:
                spec = ParameterSpec(key, bool, value)
            else:
                spec = ParameterSpec(key, str, value, choices=tuple(map(str, par.valid_values)))
            out[key] = spec
        return out

    def get_parameters(self) -> dict[str, Any]:
        return plugin_parameters(self.plugin)

    def set_parameter(self, key: str, value: Any) -> None:
        with self._lock:
            value = check_external_value(self.plugin, key, value, owner=self.name)
            _set_external(self.plugin, key, value, f"{self.name}.{key}")

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        instances = self.__dict__.get("_instances")
        if instances and key in instances[0].parameters:
            return plugin_parameters(instances[0]).get(key, getattr(instances[0], key))
        raise AttributeError(f"{type(self).__name__} has no attribute {key!r}")

    def __setattr__(self, key: str, value: Any) -> None:
        instances = self.__dict__.get("_instances")
        if instances and not key.startswith("_") and key in instances[0].parameters:
            self.set_parameter(key, value)
        else:
            super().__setattr__(key, value)

    def reset(self) -> None:
        for inst in self._instances:
            inst.reset()

    def _instance(self, i: int) -> Any:
        import pedalboard

        while len(self._instances) <= i:
            kwargs = {}
            shell = getattr(self.plugin, "_technob_plugin_name", None)
            if shell:
                kwargs["plugin_name"] = shell
            clone = pedalboard.load_plugin(str(self.path), **kwargs)
            clone._technob_path = str(self.path)
            self._instances.append(guard_parameters(clone))
        return self._instances[i]

    def _follow(self) -> None:
        """Copy the first instance's parameters to the others (raw values, exact)."""
        src = list(self.plugin._parameters)
        for inst in self._instances[1:]:
            for a, b in zip(src, inst._parameters, strict=False):
                if a.is_automatable and b.raw_value != a.raw_value:
                    b.raw_value = a.raw_value

    def _run(self, audio, sample_rate, buffer_size, *, reset, frontend):  # noqa: ANN001, ARG002
        import numpy as np

        for i in range(audio.shape[0]):
            self._instance(i)
        self._follow()
        outs = [
            np.asarray(
                self._instances[i].process(
                    np.ascontiguousarray(audio[i : i + 1]), sample_rate, buffer_size=buffer_size, reset=False
                ),
                dtype=np.float32,
            )
            for i in range(audio.shape[0])
        ]
        return np.concatenate(outs, axis=0) if outs else audio

    def __repr__(self) -> str:
        return f"<MultiMono {self.name!r} {self.plugin.name!r} x{len(self._instances)} from {self.path}>"


def set_plugin_parameter(plugin: Any, key: str, value: Any, owner: str = "") -> None:
    """Set a pedalboard plugin parameter with range checking.

    Raises
    ------
    ParameterError
        Unknown or read-only parameter, wrong type, or value out of range (naming ``owner.key``).
    """
    where = f"{owner}.{key}" if owner else key
    if isinstance(plugin, MultiMono):
        plugin.set_parameter(key, value)
        return
    if is_external(plugin):
        value = check_external_value(plugin, key, value, owner)
        _set_external(plugin, key, value, where)
        return
    names = builtin_parameter_names(plugin)
    if key not in names:
        raise ParameterError(
            f"{where}: unknown parameter of {type(plugin).__name__}; known: {', '.join(names)}"
        )
    current = getattr(plugin, key, None)
    if isinstance(current, (int, float)) and not isinstance(current, bool):
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            raise ParameterError(f"{where} must be a number, got {value!r}")
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


#: Frequency parameters of pedalboard built-ins that must stay below Nyquist (above it the
#: filters' coefficients blow up: NaN output).
FREQUENCY_PARAMETERS: dict[str, tuple[str, ...]] = {
    "LowpassFilter": ("cutoff_frequency_hz",),
    "HighpassFilter": ("cutoff_frequency_hz",),
    "HighShelfFilter": ("cutoff_frequency_hz",),
    "LowShelfFilter": ("cutoff_frequency_hz",),
    "PeakFilter": ("cutoff_frequency_hz",),
    "LadderFilter": ("cutoff_hz",),
    "Phaser": ("centre_frequency_hz",),
}

#: Highest frequency a built-in filter is run at, as a fraction of the sample rate.
NYQUIST_FRACTION = 0.45


def clamp_below_nyquist(
    elements: list[tuple[str, Any]], sample_rate: float, warned: set[tuple[str, str, float]] | None = None
) -> list[tuple[Any, str, float]]:
    """Lower the cutoffs of built-in filters that sit above ``NYQUIST_FRACTION * sample_rate``
    for one call, so a preset made at 44.1 kHz holds at 8 kHz.

    The plugins' own values are not lost: call :func:`restore_parameters` with the returned list
    after processing. Each clamp is reported once per ``warned`` set with a
    :class:`~technob_fx.core.errors.TechnobWarning`.

    Parameters
    ----------
    elements : list of (name, plugin)
        Pedalboard plugins (others are ignored).
    sample_rate : float
        Hz.
    warned : set, optional
        ``(name, key, sample_rate)`` already reported; updated.

    Returns
    -------
    list of (plugin, key, original value)
    """
    limit = NYQUIST_FRACTION * float(sample_rate)
    changed: list[tuple[Any, str, float]] = []
    for name, plugin in elements:
        for key in FREQUENCY_PARAMETERS.get(type(plugin).__name__, ()):
            value = float(getattr(plugin, key))
            if value <= limit:
                continue
            setattr(plugin, key, limit)
            changed.append((plugin, key, value))
            tag = (name, key, float(sample_rate))
            if warned is None or tag not in warned:
                if warned is not None:
                    warned.add(tag)
                warn(
                    f"{name}.{key}={as_typed(value):g} Hz is above the Nyquist limit at "
                    f"{float(sample_rate):g} Hz; using {as_typed(limit):g} Hz ({NYQUIST_FRACTION:g} x the sample rate)"
                )
    return changed


def restore_parameters(changed: list[tuple[Any, str, float]]) -> None:
    """Undo :func:`clamp_below_nyquist`."""
    for plugin, key, value in changed:
        setattr(plugin, key, value)


class PluginNode:
    """Adapter: a pedalboard plugin as a chain element, with the surface of a :class:`Node`.

    A :class:`~technob_fx.core.chain.Chain` wraps every pedalboard plugin it holds in one, so it
    treats nodes, nested chains and plugins alike (``parameters``, ``set_parameter``,
    ``get_parameter``, ``latency``, ``reset``, ``_step``, ``_finish``); ``chain["reverb"]`` still
    gives the plugin itself. Consecutive plugins run as one ``PluginNode`` around a native
    ``pedalboard.Pedalboard`` (``members`` names them).

    Parameters are validated (:func:`set_plugin_parameter`); built-in filters are held below
    Nyquist for each call (:func:`clamp_below_nyquist`); a plugin's exception becomes an
    :class:`~technob_fx.core.errors.AudioError` naming the element.

    Parameters
    ----------
    plugin : pedalboard.Plugin
        The plugin (or a ``Pedalboard`` of consecutive ones).
    name : str, optional
        Element name (default: the snake_case class name).
    members : list of (name, plugin), optional
        The plugins run in ``plugin`` with their element names (default: ``[(name, plugin)]``).
    """

    #: pedalboard plugins compensate their own latency.
    latency = 0

    def __init__(self, plugin: Any, name: str = "", members: list[tuple[str, Any]] | None = None) -> None:
        self.plugin = plugin
        self.name = name or default_name(plugin)
        self.members = members
        # only built-in filters are clamped below Nyquist: skip the check for the others
        self._filters = any(type(p).__name__ in FREQUENCY_PARAMETERS for _, p in (members or [(name, plugin)]))

    @property
    def parameters(self) -> dict[str, Any]:
        """Current parameter values by name (:func:`plugin_parameters`)."""
        return plugin_parameters(self.plugin)

    def set_parameter(self, key: str, value: Any) -> None:
        """Set one parameter, validated (:func:`set_plugin_parameter`)."""
        set_plugin_parameter(self.plugin, key, value, owner=self.name)

    def get_parameter(self, key: str) -> Any:
        """Current value of one parameter.

        Raises
        ------
        ParameterError
            Unknown name.
        """
        params = plugin_parameters(self.plugin)
        if key not in params:
            raise ParameterError(f"{self.name}: unknown parameter {key!r}")
        return params[key]

    def reset(self) -> None:
        """Clear the plugin's state."""
        self.plugin.reset()

    def process(self, audio: Any, sample_rate: float, buffer_size: int = 8192, reset: bool = True, *,
                warned: set[tuple[str, str, float]] | None = None) -> Any:
        """Run the plugin on ``(channels, samples)`` float32 audio; float32 C-contiguous out.

        Raises
        ------
        AudioError
            The plugin failed (the message names the element).
        """
        if audio.shape[1] == 0:
            return audio
        members = self.members if self.members is not None else ((self.name, self.plugin),)
        clamped = clamp_below_nyquist(members, sample_rate, warned) if self._filters else []
        try:
            out = self.plugin.process(audio, sample_rate, buffer_size=buffer_size, reset=reset)
        except Exception as exc:  # noqa: BLE001 - surface the element name
            raise AudioError(f"{self.name}: plugin failed: {exc}") from None
        finally:
            restore_parameters(clamped)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _step(self, name: str, audio: Any, sample_rate: float, buffer_size: int, reset: bool, run: Any) -> Any:
        """One call from a chain (:class:`~technob_fx.core.node.ChainRun`)."""
        return self.process(audio, sample_rate, buffer_size, reset, warned=run.warned)

    def _finish(self, name: str, run: Any) -> None:
        """The end of a stream: nothing to do."""

    def __repr__(self) -> str:
        return f"<PluginNode {self.name!r} {self.plugin!r}>"
