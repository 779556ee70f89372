"""The node protocol: parameters, effect nodes and analyzer nodes.

A node is called exactly like a :class:`pedalboard.Plugin`::

    out = node(audio, sample_rate, buffer_size=8192, reset=True)

``audio`` is ``float32`` of shape ``(channels, samples)`` (or ``(samples,)`` for mono, which is
given back 1-D). ``reset=True`` clears internal state first (whole-buffer processing);
``reset=False`` continues from the previous call (streaming a file block by block).

Parameters are typed attributes declared with :class:`Param`: each has a type, a default, a range
(or a set of choices) and a unit. Assigning an out-of-range value raises
:class:`~technob_fx.core.errors.ParameterError`. ``Node.parameters`` lists them so presets, the CLI's
``--set node.param=value`` and the OSC bridge can set any parameter by name.

Two kinds of node:

* :class:`EffectNode` transforms audio (implement :meth:`EffectNode.process_block`).
* :class:`AnalyzerNode` returns its input unchanged and leaves a :class:`Result` on
  ``node.result`` (implement :meth:`AnalyzerNode.analyze`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, get_type_hints

import numpy as np

from .audio import as_audio, check_sample_rate, restore_layout
from .errors import AudioError, ParameterError

if TYPE_CHECKING:
    from .frontend import Frontend

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def coerce_bool(value: Any, where: str) -> bool:
    """A switch value: a bool, 0/1, or "true"/"false"/"1"/"0"/"on"/"off" (any case).

    Raises
    ------
    ParameterError
        Naming ``where`` and the bad value.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "on", "off"}:
        return value.strip().lower() in {"true", "1", "on"}
    raise ParameterError(f"{where} must be true or false, got {value!r}")


@dataclass(frozen=True)
class ParameterSpec:
    """Declared metadata of one node parameter.

    Attributes
    ----------
    name : str
        Attribute name (``snake_case``).
    type : type
        ``float``, ``int``, ``bool`` or ``str``.
    default : Any
        Default value.
    minimum, maximum : float or None
        Inclusive numeric range (``None`` for unbounded or non-numeric).
    choices : tuple of str or None
        Allowed values of a ``str`` parameter.
    unit : str
        Unit shown to users: ``"Hz"``, ``"dB"``, ``"s"``, ``"%"``, ``"BPM"``...
    doc : str
        One-line description.
    """

    name: str
    type: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    unit: str = ""
    doc: str = ""

    def describe(self) -> str:
        """One line: ``name (type, unit) default=... range=...``."""
        rng = ""
        if self.choices is not None:
            rng = " choices=" + "|".join(self.choices)
        elif self.minimum is not None or self.maximum is not None:
            rng = f" range=[{self.minimum}, {self.maximum}]"
        unit = f", {self.unit}" if self.unit else ""
        return f"{self.name} ({self.type.__name__}{unit}) default={self.default!r}{rng}  {self.doc}"

    def validate(self, value: Any, owner: str = "") -> Any:
        """Coerce ``value`` to the declared type and check its range.

        Raises
        ------
        ParameterError
            Naming ``owner.name``, the bad value and the allowed range.
        """
        where = f"{owner}.{self.name}" if owner else self.name
        t = self.type
        if t is bool:
            return coerce_bool(value, where)
        if t is str:
            if not isinstance(value, str):
                raise ParameterError(f"{where} must be a string, got {value!r}")
            if self.choices is not None and value not in self.choices:
                raise ParameterError(
                    f"{where} must be one of {', '.join(self.choices)}; got {value!r}"
                )
            return value
        # numeric
        if isinstance(value, (bool, np.bool_)):
            raise ParameterError(f"{where} must be a number, got {value!r}")
        try:
            if isinstance(value, str):
                value = value.strip()
            num = float(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{where} must be a number, got {value!r}") from None
        if not math.isfinite(num):
            raise ParameterError(f"{where} must be finite, got {value!r}")
        if t is int:
            if num != int(num):
                raise ParameterError(f"{where} must be a whole number, got {value!r}")
            num = int(num)
        lo, hi = self.minimum, self.maximum
        if (lo is not None and num < lo) or (hi is not None and num > hi):
            unit = f" {self.unit}" if self.unit else ""
            raise ParameterError(f"{where}={value!r} is out of range [{lo}, {hi}]{unit}")
        return t(num)


class Param(Generic[T]):
    """Declare a typed, range-checked parameter as a class attribute of a :class:`Node`.

    Example
    -------
    >>> class Tilt(EffectNode):
    ...     gain_db = Param(float, 0.0, -12.0, 12.0, unit="dB", doc="tilt gain")
    """

    def __init__(
        self,
        type: type[T],  # noqa: A002 - mirrors the attribute's meaning
        default: T,
        minimum: float | None = None,
        maximum: float | None = None,
        *,
        choices: tuple[str, ...] | list[str] | None = None,
        unit: str = "",
        doc: str = "",
    ) -> None:
        if type not in (float, int, bool, str):
            raise TypeError(f"unsupported parameter type {type!r}")
        self._args = dict(
            type=type,
            default=default,
            minimum=minimum,
            maximum=maximum,
            choices=tuple(choices) if choices is not None else None,
            unit=unit,
            doc=doc,
        )
        self.spec: ParameterSpec | None = None
        self.attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.spec = ParameterSpec(name=name, **self._args)
        self.spec.validate(self.spec.default, owner.__name__)  # a bad default is a bug
        self.attr = "_p_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__.get(self.attr, self.spec.default)  # type: ignore[union-attr]

    def __set__(self, obj: Any, value: Any) -> None:
        assert self.spec is not None
        obj.__dict__[self.attr] = self.spec.validate(value, getattr(obj, "name", type(obj).__name__))
        obj._parameter_changed(self.spec.name)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            bad = ~np.isfinite(value)
            value = value.astype(object)
            value[bad] = None  # JSON has no NaN: null (read back as NaN into float arrays)
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _decode(tp: Any, value: Any) -> Any:
    """Rebuild a field value from JSON according to its type annotation."""
    if value is None:
        return None
    origin = getattr(tp, "__origin__", None)
    args = getattr(tp, "__args__", ())
    if tp is np.ndarray or origin is np.ndarray:
        return np.asarray(value, dtype=np.float64)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return tp.from_dict(value) if hasattr(tp, "from_dict") else tp(**value)
    if origin in (list, tuple) and args:
        inner = args[0]
        items = [_decode(inner, v) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict and len(args) == 2:
        return {k: _decode(args[1], v) for k, v in value.items()}
    # Optional[X] / X | None
    if args and type(None) in args:
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _decode(non_none[0], value)
    return value


class Result:
    """Mixin for analysis results: dataclasses that round-trip through JSON.

    ``numpy`` arrays become lists on the way out and ``float64`` arrays on the way back
    (annotate such fields as ``np.ndarray``). Nested result dataclasses and lists of them
    round-trip too.
    """

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (arrays as lists, non-finite floats as ``None``)."""
        return _encode(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        hints = get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
        return cls(**{k: _decode(hints.get(k), v) for k, v in data.items()})

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """Serialise to JSON text; with ``path``, also write it atomically."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            from .io import atomic_write_text

            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Any:
        """Parse JSON text, or read it from a file path."""
        text = str(text_or_path)
        if isinstance(text_or_path, Path) or not text.lstrip().startswith(("{", "[")):
            text = Path(text_or_path).read_text()
        return cls.from_dict(json.loads(text))


# --------------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------------


@dataclass
class ChainRun:
    """What a :class:`~technob_fx.core.chain.Chain` shares with its elements during one call.

    Every chain element (a :class:`Node`, a nested ``Chain``, a
    :class:`~technob_fx.core.plugins.PluginNode`) takes one step with ``_step(name, audio, sr,
    buffer_size, reset, run)`` and ends a stream with ``_finish(name, run)``; this is the ``run``.

    Attributes
    ----------
    results : dict
        Analyzer results by element name (the chain's ``results``).
    provided : dict
        Analyzer results by :attr:`AnalyzerNode.provides` name, for the later analyzers' ``needs``.
    frontend : Frontend or None
        The front-end of the audio the analyzers see now (shared while no effect changes it).
    warned : set
        Nyquist clamps already reported (:func:`~technob_fx.core.plugins.clamp_below_nyquist`).
    """

    results: dict[str, Any]
    provided: dict[str, Any] = field(default_factory=dict)
    frontend: Frontend | None = None
    warned: set[tuple[str, str, float]] = field(default_factory=set)


class Node:
    """Base class of every technob-fx processing node.

    Subclasses declare parameters with :class:`Param` and set ``type_name``, the key used in
    presets (``type = "stereo_width"``). ``name`` is the instance name inside a chain (used by
    ``--set name.param=value`` and OSC); it defaults to ``type_name``.
    """

    #: Key of this node type in presets and the registry.
    type_name: ClassVar[str] = ""
    #: True for analyzers (input passed through unchanged).
    is_analyzer: ClassVar[bool] = False

    def __init__(self, *, name: str | None = None, **params: Any) -> None:
        self.name = name or self.type_name or type(self).__name__
        self._lock = threading.RLock()
        self._sample_rate: float | None = None
        unknown = set(params) - set(self.parameters)
        if unknown:
            raise ParameterError(
                f"{self.name}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(self.parameters) or 'none'}"
            )
        for key, value in params.items():
            setattr(self, key, value)

    # -- parameters ---------------------------------------------------------------------------

    @classmethod
    def parameter_specs(cls) -> dict[str, ParameterSpec]:
        """All declared parameters of this node type, by name, in declaration order."""
        specs: dict[str, ParameterSpec] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Param) and value.spec is not None:
                    specs[key] = value.spec
        return specs

    @property
    def parameters(self) -> dict[str, ParameterSpec]:
        """Declared parameters by name (see :class:`ParameterSpec`)."""
        return self.parameter_specs()

    @property
    def latency(self) -> int:
        """Delay of the output when streamed with ``reset=False``, samples (0 for most nodes).

        A node with latency (e.g. :class:`~technob_fx.stages.hpss.HarmonicPercussive`) gives its input
        back ``latency`` samples late while streaming and its remaining output when fed that many
        more samples; :meth:`Chain.process_file <technob_fx.core.chain.Chain.process_file>` compensates.
        """
        return 0

    def get_parameters(self) -> dict[str, Any]:
        """Current parameter values by name."""
        return {k: getattr(self, k) for k in self.parameters}

    def get_parameter(self, key: str) -> Any:
        """Current value of one parameter.

        Raises
        ------
        ParameterError
            Unknown name.
        """
        if key not in self.parameters:
            raise ParameterError(f"{self.name}: unknown parameter {key!r}")
        return getattr(self, key)

    def set_parameter(self, key: str, value: Any) -> None:
        """Set one parameter by name (validated); thread-safe against a running block.

        Raises
        ------
        ParameterError
            Unknown name or invalid value.
        """
        if key not in self.parameters:
            raise ParameterError(
                f"{self.name}: unknown parameter {key!r}; known: {', '.join(self.parameters) or 'none'}"
            )
        with self._lock:
            setattr(self, key, value)

    def _parameter_changed(self, key: str) -> None:
        """Hook called after a parameter changes (override to recompute coefficients)."""

    # -- processing ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Clear internal state (delay lines, filters, accumulated analysis)."""

    def __call__(
        self,
        input_array: np.ndarray,
        sample_rate: float,
        buffer_size: int = 8192,
        reset: bool = True,
    ) -> np.ndarray:
        return self.process(input_array, sample_rate, buffer_size=buffer_size, reset=reset)

    def process(
        self,
        input_array: np.ndarray,
        sample_rate: float,
        buffer_size: int = 8192,
        reset: bool = True,
        *,
        frontend: Frontend | None = None,
    ) -> np.ndarray:
        """Process audio like ``pedalboard.Plugin.process``.

        Parameters
        ----------
        input_array : np.ndarray, shape ``(channels, samples)`` or ``(samples,)``
            Audio. It is never modified.
        sample_rate : float
            Sample rate in Hz.
        buffer_size : int
            Maximum block size in samples used internally (as in pedalboard).
        reset : bool
            Clear state before processing (``False`` to continue a stream).
        frontend : Frontend, optional
            Shared spectral front-end of this exact audio (set by :class:`~technob_fx.Chain`).

        Returns
        -------
        np.ndarray
            Processed audio, ``float32``, same layout as the input.
        """
        sr = check_sample_rate(sample_rate)
        audio, was_mono = as_audio(input_array, name=f"{self.name} input", allow_empty=not reset)
        return restore_layout(self._checked(audio, sr, buffer_size, reset, frontend), was_mono)

    def _checked(self, audio: np.ndarray, sr: float, buffer_size: int, reset: bool,
                 frontend: Frontend | None = None) -> np.ndarray:
        """:meth:`process` of audio already validated (float32 ``(channels, samples)``, finite)
        at a checked rate; a chain calls it so the audio is not checked again at every node."""
        if buffer_size < 1:
            raise AudioError(f"buffer_size must be >= 1, got {buffer_size}")
        with self._lock:
            if reset or self._sample_rate != sr:
                self.reset()
            self._sample_rate = sr
            return self._run(audio, sr, int(buffer_size), reset=reset, frontend=frontend)

    def _run(
        self,
        audio: np.ndarray,
        sample_rate: float,
        buffer_size: int,
        *,
        reset: bool,
        frontend: Frontend | None,
    ) -> np.ndarray:
        raise NotImplementedError

    # -- as a chain element ---------------------------------------------------------------------

    def _step(self, name: str, audio: np.ndarray, sample_rate: float, buffer_size: int, reset: bool,
              run: ChainRun) -> np.ndarray:
        """One call from a chain (see :class:`ChainRun`): process ``audio`` (validated by the chain)."""
        return self._checked(audio, sample_rate, buffer_size, reset)

    def _finish(self, name: str, run: ChainRun) -> None:
        """The end of a stream in a chain: nothing to do for an effect."""

    # -- description --------------------------------------------------------------------------

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_parameters().items())
        return f"<{type(self).__name__} {self.name!r} {params}>"


class EffectNode(Node):
    """A node that transforms audio.

    Implement :meth:`process_block`. It receives at most ``buffer_size`` samples at a time only
    if the subclass sets ``blockwise = True``; by default it gets the whole input of the call.
    Stateful effects keep their state on ``self`` and clear it in :meth:`reset`, so that calling
    with ``reset=False`` on consecutive blocks gives the same output as one whole-buffer call.
    """

    #: Split calls into ``buffer_size`` blocks before :meth:`process_block`.
    blockwise: ClassVar[bool] = False
    #: Set (to the reason) by nodes that need the whole track in one call: a stream of
    #: ``reset=False`` blocks is then refused with an ``AudioError`` naming the node.
    whole_buffer_only: ClassVar[str | None] = None

    def process_block(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        """Transform one block.

        Parameters
        ----------
        audio : np.ndarray, float32, shape ``(channels, samples)``
            Read-only input block (do not modify in place).
        sample_rate : float
            Hz.

        Returns
        -------
        np.ndarray, float32, shape ``(channels_out, samples)``
        """
        raise NotImplementedError

    def _run(self, audio, sample_rate, buffer_size, *, reset, frontend):  # noqa: ANN001
        if not reset and self.whole_buffer_only:
            raise AudioError(f"{self.name}: {self.whole_buffer_only}")
        if not self.blockwise or audio.shape[1] <= buffer_size:
            out = self.process_block(audio, sample_rate)
        else:
            parts = [
                self.process_block(audio[:, i : i + buffer_size], sample_rate)
                for i in range(0, audio.shape[1], buffer_size)
            ]
            out = np.concatenate(parts, axis=1)
        return np.ascontiguousarray(out, dtype=np.float32)


class AnalyzerNode(Node):
    """A node that measures audio and passes it through unchanged.

    Implement :meth:`analyze`. With ``reset=True`` the node analyses the buffer it is given.
    With ``reset=False`` (streaming) each block is handed to :meth:`accumulate`, and the result
    is computed by :meth:`finalize` at the end of the stream (the :class:`~technob_fx.Chain`
    calls it). The default accumulation keeps the blocks; analyzers that must bound memory on
    long streams override :meth:`accumulate` / :meth:`finalize`.

    Analyzers form a chain of results: an analyzer declares the results it uses (:attr:`needs`,
    e.g. ``("grid",)``) and the one it gives (:attr:`provides`, e.g. ``"grid"``). A
    :class:`~technob_fx.core.chain.Chain` hands each analyzer, in :attr:`inputs`, the results of
    the earlier analyzers that provide what it needs, so in ``Chain([BeatTracker(min_bpm=110),
    Segmenter()])`` the segmenter cuts on the tracker's grid instead of tracking beats again.
    Alone (or with no provider before it) an analyzer computes what it needs itself.
    """

    is_analyzer: ClassVar[bool] = True
    #: Names of earlier results this analyzer uses when a chain has them (``("grid",)``).
    needs: ClassVar[tuple[str, ...]] = ()
    #: Name under which a chain hands this analyzer's result to later ones (``"grid"``), or None.
    provides: ClassVar[str | None] = None

    def __init__(self, *, name: str | None = None, **params: Any) -> None:
        super().__init__(name=name, **params)
        self.result: Any = None
        self._blocks: list[np.ndarray] = []
        #: Results of earlier analyzers by provided name (set by the chain around each run).
        self.inputs: dict[str, Any] = {}

    def analyze(self, audio: np.ndarray, sample_rate: float, frontend: Frontend | None = None) -> Any:
        """Measure a whole buffer.

        Parameters
        ----------
        audio : np.ndarray, float32, shape ``(channels, samples)``
        sample_rate : float
            Hz.
        frontend : Frontend
            Shared front-end of this audio (always given: the chain's shared one, or a fresh
            one); take the STFT / onset envelope from it instead of recomputing.

        Returns
        -------
        Result
            A JSON-serialisable result dataclass.
        """
        raise NotImplementedError

    def reset(self) -> None:
        self.result = None
        self._blocks = []
        self._first: np.ndarray | None = None

    def accumulate(self, audio: np.ndarray, sample_rate: float) -> None:
        """Keep one streamed block for :meth:`finalize` (override to bound memory)."""
        self._blocks.append(audio.copy())

    def finalize(self) -> Any:
        """Compute the result of a stream from the accumulated blocks; sets ``self.result``.

        A single whole-buffer call (``reset=True`` and no ``reset=False`` blocks after it)
        keeps the result it already has.
        """
        if self._sample_rate is None or not self._blocks:
            return self.result
        audio = np.concatenate(self._blocks, axis=1)
        self._blocks = []
        if audio.shape[1]:
            from .frontend import Frontend

            self.result = self.analyze(audio, self._sample_rate, Frontend(audio, self._sample_rate))
        return self.result

    def _step(self, name: str, audio: np.ndarray, sample_rate: float, buffer_size: int, reset: bool,
              run: ChainRun) -> np.ndarray:
        """One call from a chain: analyse with the shared front-end and the earlier results this
        analyzer needs; leave the result in ``run.results`` (and ``run.provided``)."""
        if not reset:
            return self._checked(audio, sample_rate, buffer_size, reset)
        if run.frontend is None or not run.frontend.matches(audio, sample_rate):
            from .frontend import Frontend

            run.frontend = Frontend(audio, sample_rate)
        with self._inputs_from(run):
            out = self._checked(audio, sample_rate, buffer_size, reset, run.frontend)
        self._keep(name, self.result, run)
        return out

    def _finish(self, name: str, run: ChainRun) -> None:
        """The end of a stream in a chain: :meth:`finalize` with the earlier results it needs."""
        with self._inputs_from(run):
            result = self.finalize()
        self._keep(name, result, run)

    @contextlib.contextmanager
    def _inputs_from(self, run: ChainRun) -> Iterator[None]:
        """``self.inputs`` = the earlier results this analyzer needs, for the duration of a call."""
        self.inputs = {k: run.provided[k] for k in self.needs if k in run.provided}
        try:
            yield
        finally:
            self.inputs = {}

    def _keep(self, name: str, result: Any, run: ChainRun) -> None:
        if result is not None:
            run.results[name] = result
            if self.provides:
                run.provided[self.provides] = result

    def _run(self, audio, sample_rate, buffer_size, *, reset, frontend):  # noqa: ANN001
        if reset:
            # Whole-buffer analysis now; the buffer may also be the first block of a stream
            # (pedalboard's convention: reset=True, then reset=False blocks).
            if frontend is None or not frontend.matches(audio, sample_rate):
                from .frontend import Frontend

                frontend = Frontend(audio, sample_rate)
            self.result = self.analyze(audio, sample_rate, frontend)
            self._first = audio
        else:
            if self._first is not None:
                self.accumulate(self._first, sample_rate)
                self._first = None
            self.result = None  # stale until finalize()
            self.accumulate(audio, sample_rate)
        return audio


def parse_value(text: str) -> Any:
    """A parameter value typed as text (``--set``, OSC strings): ``"1.5"`` -> 1.5, ``"3"`` -> 3, ``"true"`` -> True, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text
