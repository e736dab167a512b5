"""SGIP 1.2: codec (:mod:`.pdus`), SP client with listener, SMG simulator."""

from .client import SgipClient
from .link import SgipLink
from .receiver import SgipReceiver
from .simulator import SgipSimulator

__all__ = ["SgipClient", "SgipLink", "SgipReceiver", "SgipSimulator"]
