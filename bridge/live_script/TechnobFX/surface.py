"""The Live control surface: polls the OSC socket on Live's main thread (Live's Python does not
run threads reliably, so the script schedules itself every tick, as AbletonOSC does)."""

from __future__ import annotations

import Live  # noqa: F401 - only inside Live
from ableton.v2.control_surface import ControlSurface

from .handlers import Handlers
from .server import LISTEN_PORT, LiveServer


class TechnobSurface(ControlSurface):
    def __init__(self, c_instance) -> None:  # noqa: ANN001
        ControlSurface.__init__(self, c_instance)
        app = Live.Application.get_application()
        version = f"{app.get_major_version()}.{app.get_minor_version()}"
        self.server = None
        try:
            self.server = LiveServer(Handlers(lambda: app.get_document(), version))
            self.show_message(f"TechnobFX: listening for OSC on 127.0.0.1:{LISTEN_PORT}")
        except OSError as exc:
            self.show_message(f"TechnobFX: cannot listen on port {LISTEN_PORT} ({exc})")
            return
        self.schedule_message(1, self.tick)

    def tick(self) -> None:
        if self.server is not None:
            self.server.process()
            self.schedule_message(1, self.tick)

    def disconnect(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        ControlSurface.disconnect(self)
