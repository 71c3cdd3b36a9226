"""Timers and peak memory that every section shares, so all modes are measured the same way: the
device is synchronised only around a timed region, never inside it, and each mode's memory is
counted from a clean baseline."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import sys
import time
from collections.abc import Callable, Iterator

import torch

from util.trainer import configure_determinism

MIB = 2**20


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work; a no-op on a CPU, where every call is synchronous."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _proc_status_kib(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status in KiB (Linux), or None elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def release_memory(device: torch.device) -> None:
    """Free what the previous mode left: Python garbage, the CUDA cache, and free heap pages (glibc),
    so the next mode's memory baseline is not inflated by memory the allocator kept."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """Peak memory of one mode: ``torch.cuda.max_memory_allocated`` on a GPU; on a CPU, the peak
    resident set size above the RSS before the mode was built (from /proc, no extra packages)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        release_memory(device)
        self.baseline_kib = _proc_status_kib("VmRSS")

    def reset(self) -> None:
        """Start the peak from here (after warm-up: compilation and autotuning are not training)."""
        if self.device.type == "cuda":
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif not _reset_peak_rss():
            self.baseline_kib = None

    def peak_mib(self) -> float | None:
        """The peak since ``reset`` in MiB; None on a CPU where /proc cannot tell it."""
        if self.device.type == "cuda":
            synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device) / MIB
        hwm = _proc_status_kib("VmHWM")
        if hwm is None or self.baseline_kib is None:
            return None
        return max(0.0, (hwm - self.baseline_kib) / 1024.0)


def timed_seconds(fn: Callable[[], None], n: int, device: torch.device) -> float:
    """Seconds for ``n`` calls of ``fn``; the device is synchronised before and after, never inside.

    On CUDA the interval is taken with events on the current stream, so it is the device's wall time
    from the first kernel of the block to the last one, independent of host jitter at the edges.
    """
    if device.type == "cuda":
        synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(n):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    begin = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - begin


def set_backend_flags(device: torch.device, optimised: bool) -> None:
    """cuDNN autotuning and TF32 as the project's trainer sets them, or PyTorch's defaults."""
    if optimised:
        configure_determinism(argparse.Namespace(deterministic=False), device)
        return
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True


@contextlib.contextmanager
def section(title: str) -> Iterator[None]:
    """Announce a section on stderr (the table goes to stdout) with its duration."""
    print(f"[benchmark] {title} ...", file=sys.stderr, flush=True)
    begin = time.perf_counter()
    yield
    print(f"[benchmark] {title}: {time.perf_counter() - begin:.1f} s", file=sys.stderr, flush=True)
