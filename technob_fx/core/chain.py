"""``Chain``: technob nodes and pedalboard plugins in one processing chain.

pedalboard's ``Pedalboard`` refuses Python-written plugins, so a :class:`Chain` holds both kinds
in any order. Consecutive pedalboard plugins run together as one native ``pedalboard.Pedalboard``
(one call into C++, no per-plugin Python overhead); technob nodes run in between. Consecutive
analyzer nodes share one :class:`~technob_fx.core.frontend.Frontend`, so the STFT and onset envelope
are computed once.

Example
-------
>>> import pedalboard
>>> from technob_fx import Chain
>>> from technob_fx.stages.effects import StereoWidth
>>> chain = Chain([pedalboard.Compressor(threshold_db=-12), StereoWidth(width=1.2),
...                pedalboard.Reverb(room_size=0.3)])
>>> out = chain(audio, 44100)          # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio import all_finite, as_audio, check_sample_rate, restore_layout
from .errors import AudioError, ParameterError, PresetError, TechnobError
from .frontend import Frontend
from .node import AnalyzerNode, Node, ParameterSpec
from .plugins import (
    adopt_plugin,
    clamp_below_nyquist,
    default_name,
    is_plugin,
    plugin_parameters,
    restore_parameters,
    set_plugin_parameter,
)

#: Progress callback: ``callback(fraction_done in [0, 1], message)``.
ProgressCallback = Callable[[float, str], None]

Element = Any  # Node | Chain | pedalboard.Plugin


@dataclass
class ChainOutput:
    """What one :meth:`Chain.run` or :meth:`Chain.process_file` produced.

    Attributes
    ----------
    audio : np.ndarray or None
        Processed audio (``None`` when streamed to a file).
    sample_rate : float
        Hz.
    results : dict
        Analyzer results by node name.
    timings : dict
        Seconds spent in each element (native groups are named ``"a+b"``).
    duration : float
        Seconds of audio processed.
    """

    audio: np.ndarray | None
    sample_rate: float
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio per second of processing (``x real time``)."""
        total = sum(self.timings.values())
        return self.duration / total if total > 0 else float("inf")


class Chain:
    """An ordered chain of technob nodes and pedalboard plugins, called like a plugin.

    Parameters
    ----------
    elements : iterable
        :class:`~technob_fx.core.node.Node` instances, nested :class:`Chain` s, and any
        ``pedalboard.Plugin`` (built-in effects, ``load_plugin`` VST3/AU, ``Pedalboard``,
        ``Mix``), in any order.
    names : iterable of str, optional
        Names of the elements (default: node names, snake_case plugin class names; duplicates
        get ``_2``, ``_3``...). Used by ``chain["reverb"]``, ``--set`` and OSC.

    Attributes
    ----------
    results : dict
        Analyzer results of the last run, by node name.
    timings : dict
        Seconds per element for the last run or stream.
    """

    def __init__(self, elements: Iterable[Element] = (), names: Iterable[str] | None = None) -> None:
        self._elements: list[Element] = []
        self._names: list[str] = []
        self._groups: list[tuple[str, list[int], Any]] | None = None
        self.lock = threading.RLock()
        self.results: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.source: Path | None = None  # preset file it came from, if any
        names_list = list(names) if names is not None else None
        for i, element in enumerate(elements):
            self.append(element, name=names_list[i] if names_list else None)

    # -- list-like surface -------------------------------------------------------------------

    def _unique(self, base: str) -> str:
        name, k = base, 2
        while name in self._names:
            name, k = f"{base}_{k}", k + 1
        return name

    def append(self, element: Element, name: str | None = None) -> None:
        """Add an element at the end."""
        self.insert(len(self._elements), element, name)

    def insert(self, index: int, element: Element, name: str | None = None) -> None:
        """Insert an element before ``index``.

        External (VST3/AU) plugins get validated parameters; a mono one runs once per channel
        (see :func:`~technob_fx.core.plugins.adopt_plugin`).
        """
        if is_plugin(element):
            element = adopt_plugin(element, name or default_name(element))
        if isinstance(element, Node):
            base = name or element.name
        elif isinstance(element, Chain):
            base = name or "chain"
        elif is_plugin(element):
            base = name or default_name(element)
        else:
            raise TechnobError(
                f"chain elements must be technob nodes or pedalboard plugins, got {type(element).__name__}"
            )
        if name is not None and name in self._names:
            raise TechnobError(f"duplicate element name {name!r} in chain")
        uname = self._unique(base)
        if isinstance(element, Node):
            element.name = uname
        with self.lock:
            self._elements.insert(index, element)
            self._names.insert(index, uname)
            self._groups = None

    def remove(self, key: int | str) -> Element:
        """Remove and return an element by index or name."""
        i = self.index(key)
        with self.lock:
            self._names.pop(i)
            self._groups = None
            return self._elements.pop(i)

    def index(self, key: int | str) -> int:
        """Position of an element given by index or name."""
        if isinstance(key, int):
            if not -len(self._elements) <= key < len(self._elements):
                raise IndexError(f"chain has {len(self)} elements; no index {key}")
            return key % len(self._elements)
        try:
            return self._names.index(key)
        except ValueError:
            raise ParameterError(
                f"no element named {key!r} in chain; elements: {', '.join(self._names) or 'none'}"
            ) from None

    def __getitem__(self, key: int | str) -> Element:
        return self._elements[self.index(key)]

    def __len__(self) -> int:
        return len(self._elements)

    def __iter__(self) -> Iterator[Element]:
        return iter(list(self._elements))

    @property
    def names(self) -> list[str]:
        """Element names in order."""
        return list(self._names)

    def items(self) -> list[tuple[str, Element]]:
        """``(name, element)`` pairs in order."""
        return list(zip(self._names, self._elements, strict=True))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={type(e).__name__}" for n, e in self.items())
        return f"<Chain [{inner}]>"

    # -- parameters ---------------------------------------------------------------------------

    @property
    def parameters(self) -> dict[str, ParameterSpec | Any]:
        """Every settable parameter as ``"element.param"`` -> spec (nodes) or current value."""
        out: dict[str, Any] = {}
        for name, el in self.items():
            if isinstance(el, Node):
                for key, spec in el.parameters.items():
                    out[f"{name}.{key}"] = spec
            elif isinstance(el, Chain):
                for key, spec in el.parameters.items():
                    out[f"{name}.{key}"] = spec
            else:
                for key, value in plugin_parameters(el).items():
                    out[f"{name}.{key}"] = value
        return out

    def set_parameter(self, path: str, value: Any) -> None:
        """Set ``"element.param"`` (validated). Takes effect from the next block.

        Raises
        ------
        ParameterError
            Unknown element or parameter, bad value.
        """
        if "." not in path:
            raise ParameterError(f"parameter {path!r} must be written element.param")
        name, key = path.split(".", 1)
        el = self[name]
        with self.lock:
            if isinstance(el, Node):
                el.set_parameter(key, value)
            elif isinstance(el, Chain):
                el.set_parameter(key, value)
            else:
                set_plugin_parameter(el, key, value, owner=name)

    def get_parameter(self, path: str) -> Any:
        """Current value of ``"element.param"``."""
        if "." not in path:
            raise ParameterError(f"parameter {path!r} must be written element.param")
        name, key = path.split(".", 1)
        el = self[name]
        if isinstance(el, (Node, Chain)):
            if isinstance(el, Node) and key not in el.parameters:
                raise ParameterError(f"{name}: unknown parameter {key!r}")
            return el.get_parameter(key) if isinstance(el, Chain) else getattr(el, key)
        params = plugin_parameters(el)
        if key not in params:
            raise ParameterError(f"{name}: unknown parameter {key!r}")
        return params[key]

    # -- processing ---------------------------------------------------------------------------

    def _compile(self) -> list[tuple[str, list[int], Any]]:
        """Group consecutive pedalboard plugins into one native ``Pedalboard``."""
        if self._groups is not None:
            return self._groups
        import pedalboard

        groups: list[tuple[str, list[int], Any]] = []
        run: list[int] = []

        def flush() -> None:
            if run:
                plugins = [self._elements[j] for j in run]
                native = plugins[0] if len(plugins) == 1 else pedalboard.Pedalboard(plugins)
                groups.append(("+".join(self._names[j] for j in run), list(run), native))
                run.clear()

        for i, el in enumerate(self._elements):
            if is_plugin(el):
                run.append(i)
            else:
                flush()
                groups.append((self._names[i], [i], el))
        flush()
        self._groups = groups
        return groups

    def reset(self) -> None:
        """Clear the state of every element (pedalboard plugins included)."""
        for el in self._elements:
            el.reset()
        self.results = {}
        self.timings = {}

    def __call__(
        self,
        input_array: np.ndarray,
        sample_rate: float,
        buffer_size: int = 8192,
        reset: bool = True,
    ) -> np.ndarray:
        return self.process(input_array, sample_rate, buffer_size, reset)

    def process(
        self,
        input_array: np.ndarray,
        sample_rate: float,
        buffer_size: int = 8192,
        reset: bool = True,
    ) -> np.ndarray:
        """Run the chain like ``pedalboard.Pedalboard.process``.

        Parameters
        ----------
        input_array : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
            Never modified.
        sample_rate : float
            Hz.
        buffer_size : int
            Block size handed to pedalboard plugins.
        reset : bool
            ``True``: whole-buffer processing (state cleared, analyzers analyse this buffer).
            ``False``: the next block of a stream (analyzers accumulate; call :meth:`finalize`
            at the end).

        Returns
        -------
        np.ndarray, float32, same layout as the input.
        """
        sr = check_sample_rate(sample_rate)
        audio, was_mono = as_audio(input_array, name="chain input", allow_empty=not reset)
        out = self._process(audio, sr, buffer_size, reset)
        return restore_layout(out, was_mono)

    def _process(self, audio: np.ndarray, sr: float, buffer_size: int, reset: bool) -> np.ndarray:
        with self.lock:
            if reset:
                self.results = {}
                self.timings = {}
            frontend: Frontend | None = None
            for name, _idx, el in self._compile():
                t0 = time.perf_counter()
                if isinstance(el, Node):
                    if isinstance(el, AnalyzerNode) and reset:
                        if frontend is None or not frontend.matches(audio, sr):
                            frontend = Frontend(audio, sr)
                        out = el.process(audio, sr, buffer_size, reset, frontend=frontend)
                        if el.result is not None:
                            self.results[name] = el.result
                    else:
                        out = el.process(audio, sr, buffer_size, reset)
                elif isinstance(el, Chain):
                    out = el._process(audio, sr, buffer_size, reset)
                    for key, value in el.results.items():
                        self.results[f"{name}.{key}"] = value
                else:
                    if audio.shape[1] == 0:
                        out = audio
                    else:
                        members = [(self._names[j], self._elements[j]) for j in _idx]
                        clamped = clamp_below_nyquist(members, sr, self.__dict__.setdefault("_nyquist_warned", set()))
                        try:
                            out = el.process(audio, sr, buffer_size=buffer_size, reset=reset)
                        except Exception as exc:  # noqa: BLE001 - surface the element name
                            raise AudioError(f"{name}: plugin failed: {exc}") from None
                        finally:
                            restore_parameters(clamped)
                    out = np.ascontiguousarray(out, dtype=np.float32)
                self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
                if out.ndim == 1:
                    out = out[np.newaxis, :]
                if out is not audio and not all_finite(out):
                    raise AudioError(f"{name} produced NaN or infinite samples")
                audio = out
        return audio

    @property
    def latency(self) -> int:
        """Total streaming delay of the technob nodes in the chain, samples.

        pedalboard plugins compensate their own latency and count as 0.
        """
        return sum(int(el.latency) for el in self._elements if isinstance(el, (Node, Chain)))

    def finalize(self) -> dict[str, Any]:
        """End a stream: compute the results of analyzers fed with ``reset=False`` blocks."""
        with self.lock:
            for name, el in self.items():
                if isinstance(el, AnalyzerNode):
                    result = el.finalize()
                    if result is not None:
                        self.results[name] = result
                elif isinstance(el, Chain):
                    for key, value in el.finalize().items():
                        self.results[f"{name}.{key}"] = value
            return dict(self.results)

    def run(
        self, input_array: np.ndarray, sample_rate: float, buffer_size: int = 8192
    ) -> ChainOutput:
        """Process a whole buffer and return audio, results and per-element timing."""
        out = self.process(input_array, sample_rate, buffer_size, reset=True)
        n = out.shape[-1]
        return ChainOutput(out, float(sample_rate), dict(self.results), dict(self.timings), n / float(sample_rate))

    def process_file(
        self,
        input_path: str | Path,
        output_path: str | Path | None,
        *,
        block_size: int = 65536,
        sample_rate: float | None = None,
        buffer_size: int = 8192,
        progress: ProgressCallback | None = None,
        quality: str | float | None = None,
        bit_depth: int | None = None,
    ) -> ChainOutput:
        """Stream a file through the chain block by block with bounded memory.

        Parameters
        ----------
        input_path : path
            Audio file to read (never modified).
        output_path : path or None
            Where to write the result (atomically). ``None`` to only analyse.
        block_size : int
            Samples per block read from the file.
        sample_rate : float, optional
            Resample the input to this rate first (Hz).
        buffer_size : int
            Block size handed to pedalboard plugins.
        progress : callable, optional
            ``progress(fraction, message)`` after each block.

        Returns
        -------
        ChainOutput
            ``audio`` is ``None``; ``results`` holds the analyzers' results of the whole stream.

        Notes
        -----
        Nodes with a streaming :attr:`latency` (e.g. HPSS) are compensated: the chain is fed
        ``latency`` samples of silence at the end and the first ``latency`` output samples are
        dropped, so the file is aligned with the input and as long as it. Analyzers placed after
        such a node see the delayed signal.
        """
        from .io import audio_info
        from .runner import per_block, run_file

        sr = check_sample_rate(sample_rate if sample_rate is not None else audio_info(input_path).sample_rate)
        self.reset()  # the one file runner streams, compensates latency and writes atomically
        rep = run_file(input_path, per_block(lambda b: self._process(b, sr, buffer_size, reset=False)),
                       None if output_path is None else {"out": output_path}, block_size=block_size,
                       sample_rate=sample_rate, latency=self.latency, progress=progress, finish=self.finalize,
                       quality=quality, bit_depth=bit_depth)
        return ChainOutput(None, sr, rep.result, dict(self.timings), rep.duration)

    def timing_report(self, duration: float | None = None) -> str:
        """Per-element timing of the last run as text (with x real time when ``duration``)."""
        lines = []
        for name, secs in self.timings.items():
            rt = f"  {duration / secs:8.1f}x real time" if duration and secs > 0 else ""
            lines.append(f"{name:32s} {secs * 1000:9.1f} ms{rt}")
        return "\n".join(lines)

    # -- presets ------------------------------------------------------------------------------

    @classmethod
    def from_preset(cls, name_or_path: str | Path, overrides: dict[str, Any] | None = None, *,
                    check_path: Callable[[Path, str], Path] | None = None) -> Chain:
        """Build a chain from a preset name (see ``technob presets list``) or a TOML file.

        ``overrides`` maps ``"element.param"`` to values applied after loading; ``check_path``
        vets the plugin and impulse files the preset names (:func:`presets.build_elements`).
        """
        from .presets import build_elements, read_preset, resolve_preset

        path = resolve_preset(name_or_path)
        chain = cls()
        for element, name, where in build_elements(read_preset(path), path, check_path=check_path):
            try:
                chain.append(element, name=name)
            except TechnobError as exc:
                raise PresetError(f"{where}: {exc}") from None
        chain.source = path
        for key, value in (overrides or {}).items():
            try:
                chain.set_parameter(key, value)
            except ParameterError as exc:
                raise PresetError(f"{path}: override {key}={value!r}: {exc}") from None
        return chain

    def to_preset(self, path: str | Path, *, description: str = "") -> Path:
        """Write this chain as a TOML preset (atomically) that :meth:`from_preset` reads back."""
        import tomli_w

        from .io import atomic_write_text
        from .presets import elements_to_dict

        path = Path(path)
        for name, el in self.items():
            if isinstance(el, Chain):
                raise PresetError(f"element {name!r}: nested chains cannot be saved as presets yet")
        data = elements_to_dict(self.items(), name=path.stem, description=description)
        return atomic_write_text(path, tomli_w.dumps(data))


def load_preset(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> Chain:
    """Load a preset by shipped name or file path (the same as :meth:`Chain.from_preset`).

    Parameters
    ----------
    name_or_path : str or Path
        ``"techno_master"``, ``"lofi"``... or a ``.toml`` file.
    overrides : dict, optional
        ``{"element.param": value}`` applied after building (e.g. from ``--set``).

    Returns
    -------
    Chain

    Raises
    ------
    PresetError
        Bad file, unknown type/parameter, value out of range, missing plugin file; the message
        names the file and the key.
    """
    return Chain.from_preset(name_or_path, overrides=overrides)
