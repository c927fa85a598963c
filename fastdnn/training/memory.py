"""Refuse work whose arrays cannot fit, before allocating them.

A network such as ``--layers 12288,100000000,1`` asks for terabytes; with Linux's memory
overcommit a large allocation can succeed and the process be killed by the kernel when it
touches the pages.  The initialisers and the trainer add up the bytes they are about to
allocate and raise ``MemoryError`` naming them when they exceed the memory available.
"""
from __future__ import annotations

import os

__all__ = ["available_bytes", "check_fits", "format_bytes"]


def available_bytes():
    """Memory available to this process: Linux's MemAvailable, else the physical memory,
    else None (unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n):
    """'1.5 GiB' style."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_fits(nbytes, what, available=None):
    """MemoryError naming ``what`` and the bytes when ``nbytes`` exceed the memory
    available (``available`` overrides the reading, for tests)."""
    avail = available_bytes() if available is None else available
    if avail is not None and nbytes > avail:
        raise MemoryError(f"{what} would take {nbytes:,} bytes ({format_bytes(nbytes)}) but only "
                          f"{avail:,} bytes ({format_bytes(avail)}) of memory are available; "
                          f"nothing was allocated")
