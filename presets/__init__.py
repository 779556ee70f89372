"""Shipped presets (TOML). Installed as ``technob_fx.preset_files``; found by name with ``technob presets list``."""
