"""Ableton Live Remote Scripts shipped with technob-fx (copied into Live by
``technob bridge install-live-script``; see :mod:`bridge.ableton`)."""
