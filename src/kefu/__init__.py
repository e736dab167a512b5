"""kefu (客服): an open-source omnichannel customer-service platform for retail banks."""

__version__ = "0.1.0"
