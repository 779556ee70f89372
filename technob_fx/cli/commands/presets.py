"""``technob presets list`` and ``technob presets show NAME``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list shipped presets or show one",
                       description="List the shipped presets, or show one's chain and every parameter.")
    ps = p.add_subparsers(dest="presets_command", metavar="ACTION", required=True)
    pl = ps.add_parser("list", help="list shipped presets with their descriptions")
    pl.set_defaults(func=run_list)
    sh = ps.add_parser("show", help="show a preset's elements and parameters")
    sh.add_argument("name", help="preset name or .toml file")
    sh.set_defaults(func=run_show)


def run_list(args: argparse.Namespace) -> int:
    from ...core.presets import list_presets, read_preset

    for name, path in list_presets().items():
        desc = read_preset(path).get("preset", {}).get("description", "")
        print(f"{name:20s} {desc}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ...core.chain import load_preset
    from ...core.node import Node

    chain = load_preset(args.name)
    print(f"# {chain.source}")
    from ...core.plugins import MultiMono, is_external

    for name, el in chain.items():
        kind = getattr(el, "type_name", "") if isinstance(el, Node) else type(el).__name__
        if isinstance(el, MultiMono):
            kind = f"plugin {el.plugin.name!r}, dual mono, {el.path}"
        elif is_external(el):
            kind = f"plugin {el.name!r}"
        print(f"{name}  [{kind}]")
        if isinstance(el, Node):
            for key, spec in el.parameters.items():
                print(f"    {key} = {getattr(el, key)!r}   ({spec.describe().split('  ', 1)[0].split(' ', 1)[1]})")
        else:
            from ...core.plugins import plugin_parameters

            for key, value in plugin_parameters(el).items():
                print(f"    {key} = {value!r}")
    return 0
