"""A local stand-in for WeChat: the server API (token, menus, tags, messages, media) and the
follower's side (signed, encrypted callbacks to kefu). Tests and the demo run against it."""

from kefu.channels.wechat.simulator.server import DEFAULT_ROUTERS, SimError, build_app
from kefu.channels.wechat.simulator.state import SimApp, SimulatorState

__all__ = ["DEFAULT_ROUTERS", "SimApp", "SimError", "SimulatorState", "build_app"]
