import os

# Tests drive routing rounds themselves; the background ticker would race them.
os.environ.setdefault("KEFU_ROUTING_TICK", "0")
