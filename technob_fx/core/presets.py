"""Presets: chains described in human-editable TOML files.

A preset is a ``[preset]`` table and an ordered ``[[chain]]`` array, one table per element::

    [preset]
    name = "lofi"
    description = "Dusty low-passed tape and vinyl"

    [[chain]]                       # a pedalboard built-in, by class name
    type = "LowpassFilter"
    cutoff_frequency_hz = 5500.0

    [[chain]]                       # a technob node, by its type name
    type = "wow_flutter"
    name = "tape"                   # optional element name (for --set tape.depth_ms=2)
    depth_ms = 1.8

    [[chain]]                       # an external VST3/AU plugin
    type = "plugin"
    path = "plugins/MyVerb.vst3"    # relative to the preset file
    plugin_name = "MyVerb"          # optional: one plugin of a shell
    [chain.parameters]
    mix = 0.3

Keys besides ``type``, ``name`` and ``enabled`` are parameters. Shipped presets live in the
``presets/`` folder and are found by name (``"lofi"``); any other argument is a file path.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ParameterError, PresetError
from .node import Node
from .plugins import (
    BUILTIN_EFFECTS,
    MultiMono,
    builtin_parameter_names,
    default_name,
    is_external,
    load_plugin,
    plugin_file,
    plugin_parameters,
    set_plugin_parameter,
)
from .registry import NODE_TYPES, node_class

RESERVED_KEYS = {"type", "name", "enabled"}

#: ``check_path(path, where) -> path``: vets every file a preset names (plugins, impulse
#: responses) before it is opened; raises a TechnobError to refuse (the OSC server's PathPolicy).
PathCheck = Callable[[Path, str], Path]


def presets_dir() -> Path:
    """Folder of the shipped presets (``presets/`` of the source tree or the installed copy)."""
    try:
        return Path(str(resources.files("technob_fx.preset_files")))
    except ModuleNotFoundError:  # pragma: no cover - running from an odd layout
        return Path(__file__).resolve().parent.parent / "presets"


def list_presets() -> dict[str, Path]:
    """Shipped presets by name -> file."""
    return {p.stem: p for p in sorted(presets_dir().glob("*.toml"))}


def resolve_preset(name_or_path: str | Path) -> Path:
    """A preset name or a path -> the preset file.

    Raises
    ------
    PresetError
        Neither a shipped preset nor an existing file.
    """
    shipped = list_presets()
    key = str(name_or_path)
    if key in shipped:
        return shipped[key]
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise PresetError(
        f"no preset named {key!r} and no such file; shipped presets: {', '.join(shipped) or 'none'}"
    )


def read_preset(path: Path) -> dict[str, Any]:
    """Parse a preset file into a dict (validated shape, not yet built)."""
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"{path}: cannot read ({exc})") from None
    unknown = set(data) - {"preset", "chain"}
    if unknown:
        raise PresetError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}; expected [preset] and [[chain]]")
    chain = data.get("chain", [])
    if not isinstance(chain, list) or not all(isinstance(e, dict) for e in chain):
        raise PresetError(f"{path}: 'chain' must be an array of tables ([[chain]])")
    meta = data.get("preset", {})
    if not isinstance(meta, dict):
        raise PresetError(f"{path}: [preset] must be a table")
    unknown_meta = set(meta) - {"name", "description", "sample_rate"}
    if unknown_meta:
        raise PresetError(f"{path}: [preset] has unknown key(s) {', '.join(sorted(unknown_meta))}")
    return data


def _build_builtin(cls_name: str, params: dict[str, Any], where: str, base: Path,
                   check_path: PathCheck | None = None) -> Any:
    import pedalboard

    cls = getattr(pedalboard, cls_name)
    if cls_name == "Convolution":
        ir = params.pop("impulse_response_filename", None)
        if ir is None:
            raise PresetError(f"{where}: Convolution needs impulse_response_filename")
        ir_path = (base / ir) if not Path(ir).is_absolute() else Path(ir)
        if check_path is not None:
            ir_path = check_path(ir_path, f"{where}.impulse_response_filename")
        if not ir_path.is_file():
            raise PresetError(f"{where}.impulse_response_filename: file not found: {ir_path}")
        from .errors import AudioError
        from .io import audio_info

        try:  # pedalboard takes any file and passes the audio through unchanged when it is not audio
            info = audio_info(ir_path)
        except AudioError as exc:
            raise PresetError(f"{where}.impulse_response_filename: {exc}") from None
        if info.frames < 1:
            raise PresetError(f"{where}.impulse_response_filename: {ir_path} holds no audio")
        plugin = cls(str(ir_path))
    else:
        plugin = cls()
    known = builtin_parameter_names(plugin)
    for key, value in params.items():
        if key not in known:
            raise PresetError(f"{where}: unknown parameter {key!r} of {cls_name}; known: {', '.join(known)}")
        try:
            set_plugin_parameter(plugin, key, value, owner=cls_name)
        except ParameterError as exc:
            raise PresetError(f"{where}: {exc}") from None
    return plugin


def _build_external(entry: dict[str, Any], where: str, base: Path, check_path: PathCheck | None = None) -> Any:
    unknown = set(entry) - RESERVED_KEYS - {"path", "plugin_name", "parameters"}
    if unknown:
        raise PresetError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} for type 'plugin' (put plugin parameters under [chain.parameters])")
    if "path" not in entry:
        raise PresetError(f"{where}: type 'plugin' needs a 'path'")
    if not isinstance(entry["path"], str) or not entry["path"].strip():
        raise PresetError(f"{where}.path must be a file path (text), got {entry['path']!r}")
    shell = entry.get("plugin_name")
    if shell is not None and not isinstance(shell, str):
        raise PresetError(f"{where}.plugin_name must be text, got {shell!r}")
    params = entry.get("parameters") or {}
    if not isinstance(params, dict):
        raise PresetError(f"{where}.parameters must be a table ([chain.parameters])")
    path = Path(entry["path"]).expanduser()
    if not path.is_absolute():
        path = base / path
    if check_path is not None:
        path = check_path(path, f"{where}.path")
    if not path.exists():
        raise PresetError(f"{where}.path: plugin file not found: {path}")
    try:
        plugin = load_plugin(path, plugin_name=shell)
    except PresetError as exc:
        raise PresetError(f"{where}.path: {exc}") from None
    plugin._technob_source = str(entry["path"])  # type: ignore[attr-defined]
    owner = entry.get("name") or default_name(plugin)
    for key, value in params.items():
        try:
            set_plugin_parameter(plugin, key, value, owner=owner)
        except ParameterError as exc:
            raise PresetError(f"{where}.parameters: {exc}") from None
    return plugin


def build_elements(data: dict[str, Any], source: Path, base: Path | None = None, *,
                   check_path: PathCheck | None = None) -> list[tuple[Any, str | None, str]]:
    """Build the elements of parsed preset data (see :func:`read_preset`), in order.

    ``check_path(path, where)``, when given, vets each plugin and impulse-response file before it
    is opened (and may refuse it by raising).

    Returns
    -------
    list of (element, name, where)
        Technob nodes and pedalboard plugins with their optional names (disabled entries left
        out) and where each comes from (``"FILE: chain[i] (type 'x')"``, for error messages);
        :meth:`technob_fx.core.chain.Chain.from_preset` appends them to a chain.
    """
    base = base if base is not None else source.parent
    elements: list[tuple[Any, str | None, str]] = []
    for i, entry in enumerate(data.get("chain", [])):
        where = f"{source}: chain[{i}]"
        if "type" not in entry:
            raise PresetError(f"{where}: missing 'type'")
        kind = entry["type"]
        if not isinstance(kind, str):
            raise PresetError(f"{where}.type must be a string, got {kind!r}")
        if entry.get("enabled", True) is False:
            continue
        name = entry.get("name")
        if name is not None and (not isinstance(name, str) or not name.isidentifier()):
            raise PresetError(f"{where}.name must be an identifier, got {name!r}")
        params = {k: v for k, v in entry.items() if k not in RESERVED_KEYS}
        if kind == "plugin":  # errors name the key path: "chain[3].path"
            element = _build_external(entry, where, base, check_path)
        elif kind in NODE_TYPES:
            where = f"{where} (type {kind!r})"
            cls = node_class(kind)
            known = cls.parameter_specs()
            for key in params:
                if key not in known:
                    raise PresetError(f"{where}: unknown parameter {key!r}; known: {', '.join(known) or 'none'}")
            try:
                element = cls(name=name, **params)
            except ParameterError as exc:
                raise PresetError(f"{where}: {exc}") from None
        elif kind in BUILTIN_EFFECTS:
            where = f"{where} (type {kind!r})"
            element = _build_builtin(kind, params, where, base, check_path)
        else:
            raise PresetError(
                f"{where}: unknown type {kind!r}; technob nodes: {', '.join(sorted(NODE_TYPES))}; "
                f"pedalboard effects: {', '.join(BUILTIN_EFFECTS)}; or 'plugin' for VST3/AU"
            )
        elements.append((element, name, where))
    return elements


def _toml_value(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return value


def elements_to_dict(items: list[tuple[str, Any]], *, name: str = "", description: str = "") -> dict[str, Any]:
    """Describe a chain's ``(name, element)`` pairs as preset data (the inverse of
    :func:`build_elements`). Nested chains are refused by the caller."""
    entries: list[dict[str, Any]] = []
    for el_name, el in items:
        if isinstance(el, MultiMono) or is_external(el):
            plugin = el.plugin if isinstance(el, MultiMono) else el
            src = plugin_file(plugin)
            if src is None:
                raise PresetError(
                    f"element {el_name!r}: the file of plugin {plugin.name!r} is unknown (loaded with "
                    "pedalboard.load_plugin outside the VST3 folders); load it with technob_fx.load_plugin(path)"
                )
            entry = {"type": "plugin", "name": el_name, "path": str(src)}
            shell = getattr(plugin, "_technob_plugin_name", None)
            if shell:
                entry["plugin_name"] = shell
            # Only what differs from the plugin's defaults: a plugin's own default may sit between
            # the values its display shows (ZamDelay's 160 ms is 159.99), so writing it back would
            # change the sound; a value a person set is read back exactly.
            params = plugin.parameters
            entry["parameters"] = {
                k: _toml_value(v) for k, v in plugin_parameters(plugin).items()
                if params[k].raw_value != params[k].default_raw_value
            }
        elif isinstance(el, Node):
            if not el.type_name or el.type_name not in NODE_TYPES:
                raise PresetError(f"element {el_name!r}: node type {type(el).__name__} is not registered")
            entry: dict[str, Any] = {"type": el.type_name}
            if el_name != el.type_name:
                entry["name"] = el_name
            entry.update({k: _toml_value(v) for k, v in el.get_parameters().items()})
        else:
            cls_name = type(el).__name__
            if cls_name not in BUILTIN_EFFECTS:
                raise PresetError(f"element {el_name!r}: {cls_name} cannot be saved in a preset")
            entry = {"type": cls_name}
            if el_name != default_name(el):
                entry["name"] = el_name
            entry.update({k: _toml_value(v) for k, v in plugin_parameters(el).items()})
        entries.append(entry)
    meta: dict[str, Any] = {}
    if name:
        meta["name"] = name
    if description:
        meta["description"] = description
    return {"preset": meta, "chain": entries}
