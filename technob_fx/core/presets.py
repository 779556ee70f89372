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
    builtin_parameter_names,
    is_external,
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
    import pedalboard

    unknown = set(entry) - RESERVED_KEYS - {"path", "plugin_name", "parameters"}
    if unknown:
        raise PresetError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} for type 'plugin' (put plugin parameters under [chain.parameters])")
    if "path" not in entry:
        raise PresetError(f"{where}: type 'plugin' needs a 'path'")
    path = Path(entry["path"]).expanduser()
    if not path.is_absolute():
        path = base / path
    if check_path is not None:
        path = check_path(path, f"{where}.path")
    if not path.exists():
        raise PresetError(f"{where}.path: plugin file not found: {path}")
    try:
        kwargs = {"plugin_name": entry["plugin_name"]} if "plugin_name" in entry else {}
        plugin = pedalboard.load_plugin(str(path), **kwargs)
    except Exception as exc:  # noqa: BLE001 - pedalboard raises ImportError/ValueError
        raise PresetError(f"{where}.path: cannot load plugin {path}: {exc}") from None
    plugin._technob_source = str(entry["path"])  # type: ignore[attr-defined]
    for key, value in (entry.get("parameters") or {}).items():
        try:
            set_plugin_parameter(plugin, key, value, owner=entry.get("name", plugin.name))
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
        if isinstance(el, Node):
            if not el.type_name or el.type_name not in NODE_TYPES:
                raise PresetError(f"element {el_name!r}: node type {type(el).__name__} is not registered")
            entry: dict[str, Any] = {"type": el.type_name}
            if el_name != el.type_name:
                entry["name"] = el_name
            entry.update({k: _toml_value(v) for k, v in el.get_parameters().items()})
        elif is_external(el):
            src = getattr(el, "_technob_source", None) or getattr(el, "path_to_plugin_file", None)
            if not src:
                raise PresetError(f"element {el_name!r}: external plugin has no known file path")
            entry = {"type": "plugin", "name": el_name, "path": str(src)}
            entry["parameters"] = {k: _toml_value(v) for k, v in plugin_parameters(el).items()}
        else:
            cls_name = type(el).__name__
            if cls_name not in BUILTIN_EFFECTS:
                raise PresetError(f"element {el_name!r}: {cls_name} cannot be saved in a preset")
            entry = {"type": cls_name}
            from .plugins import default_name

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
