"""WeChat official-account channel: callback, crypto, the 5-second rule, API client and simulator."""
