"""The core: the node protocol, chains, audio I/O, the shared spectral front-end and result types.

Nothing here imports a stage, the DAW bridge, the CLI or the demo (``tests/test_layers.py``).
"""
