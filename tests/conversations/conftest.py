from tests.quality.conftest import run, sessions

__all__ = ["run", "sessions"]
