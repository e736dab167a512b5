"""A local stand-in for Weibo's open API (OAuth2, @mentions, comments, 私信 push and replies,
commercial search, hourly limits, error codes) with a control API and generated traffic; tests,
benchmarks and the demo run against it. See docs/channels/weibo-simulator.md."""

from kefu.channels.weibo.simulator.server import build_app
from kefu.channels.weibo.simulator.state import SimError, WeiboState, weibo_time
from kefu.channels.weibo.simulator.traffic import SimPost, crisis, generate

__all__ = ["SimError", "SimPost", "WeiboState", "build_app", "crisis", "generate", "weibo_time"]
