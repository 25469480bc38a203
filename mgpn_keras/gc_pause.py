"""`paused_gc()`: Python's cyclic garbage collector off while a driver builds many objects.

Reading a corpus makes hundreds of thousands of small objects (records, token lists, ids) that
hold no reference cycles; reference counting frees them without the collector. In a process
that has imported TensorFlow, each full collection the allocations trigger walks TensorFlow's
own objects too, a million or so: reading and tokenising synthetic x10 (45,000 queries) took
0.7-1.4 s with the collector on and about half with it paused (measured, same process).
"""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def paused_gc():
    """Disable the cyclic collector for the block; restore its former state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
