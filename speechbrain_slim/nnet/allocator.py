"""Keeping freed memory in the process, so that inference passes do not page-fault.

An offline pass of SlimDemucs allocates a few large temporaries (the upsampled signal,
the level-0 and level-1 block outputs: ~10 MB each per 10 s of audio). With glibc's
defaults, allocations above its (adaptive) mmap threshold are returned to the kernel
when freed and the top of the heap is trimmed, so every pass faults all of them in
again, zero-filled: measured on the shipped model (10 s, one thread) ~1,500 to ~3,800
page faults per pass, 25-30 ms of a 50-115 ms pass, **the same at every UF**. It is
the largest part of the floor that kept small UFs from saving time.

:func:`retain_freed_memory` raises glibc's mmap threshold to 64 MiB and its trim
threshold to 256 MiB (``mallopt``), so freed temporaries are reused by the next pass.
The process then keeps up to its peak usage (not more), which is what PyTorch's own
caching allocators do on GPUs. It is called once, by the first SlimDemucs forward
without autograd (inference); set ``SPEECHBRAIN_SLIM_MALLOC=default`` to leave the
allocator alone. It does nothing on systems without glibc.

Authors
 * speechbrain-slim contributors 2026
"""

import ctypes
import ctypes.util
import os

__all__ = ["retain_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

MMAP_THRESHOLD = 64 << 20  # allocations above this are still mmapped (and returned)
TRIM_THRESHOLD = 256 << 20  # free memory kept at the top of the heap
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_state = {"done": False, "applied": False}


def retain_freed_memory():
    """Sets glibc's mmap and trim thresholds once per process (see the module docstring).

    Returns
    -------
    bool
        Whether the thresholds are set (False without glibc or with
        ``SPEECHBRAIN_SLIM_MALLOC=default``).

    Example
    -------
    >>> isinstance(retain_freed_memory(), bool)
    True
    """
    if _state["done"]:
        return _state["applied"]
    _state["done"] = True
    if os.environ.get("SPEECHBRAIN_SLIM_MALLOC", "").lower() == "default":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _state["applied"] = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _state["applied"]
