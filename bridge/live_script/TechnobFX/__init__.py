"""TechnobFX: a small Ableton Live Remote Script that puts technob-fx stems on tracks.

Install it beside AbletonOSC with ``technob bridge install-live-script`` (it copies this folder
into Live's ``User Library/Remote Scripts``), restart Live and pick ``TechnobFX`` as a Control
Surface in Preferences > Link, Tempo & MIDI. It listens for OSC on 127.0.0.1:11002 (only this
machine) and answers the sender:

* ``/technob/live/test`` -> ``/technob/live/test ok <script version> <Live major.minor>``
* ``/technob/live/add_stem <name> <path> <position beats>`` -> a new audio track named ``name``
  at the end of the set holding ``path`` as an unwarped arrangement clip at ``position``
  (Live 12's ``Track.create_audio_clip``); replies ``/technob/live/add_stem <name> <track index>``
* any failure -> ``/technob/live/error <address> <message>``

AbletonOSC (github.com/ideoforms/AbletonOSC) does everything else (tempo, cue points); it has no
way to put an audio file on a track, which is why this script exists.
"""


def create_instance(c_instance):  # noqa: ANN001, ANN201 - Live's entry point
    from .surface import TechnobSurface

    return TechnobSurface(c_instance)
