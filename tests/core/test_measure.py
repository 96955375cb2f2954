import time

import numpy as np
import pytest

from core.measure import MemorySampler, PhaseTimer, rss_bytes


@pytest.mark.parametrize("use_kernel", [True, False], ids=["kernel-peak", "sampling-thread"])
def test_sampler_sees_a_real_allocation_and_its_release(use_kernel):
    with MemorySampler(interval=0.002, use_kernel=use_kernel) as sampler:
        if use_kernel and not sampler.kernel:
            pytest.skip("this kernel cannot restart the peak RSS (/proc/self/clear_refs)")
        big = np.ones(300 * 2**20 // 8)  # 300 MiB, touched: a peak from before the mark
        del big
        before = sampler.mark()
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        time.sleep(0.05)
        del block
        time.sleep(0.02)
        peak = sampler.peak
    assert 150 * 2**20 < peak - before < 250 * 2**20  # the earlier, larger peak is forgotten
    assert (sampler.samples > 5) != use_kernel  # the kernel's peak needs no sampling thread
    assert rss_bytes() < peak


def test_phase_timer_accumulates_and_syncs():
    calls = []
    timer = PhaseTimer(sync=lambda: calls.append(1))
    with timer.phase("a"):
        time.sleep(0.01)
    with timer.phase("a"):
        pass
    with timer.phase("b"):
        pass
    assert timer.seconds["a"] >= 0.01 and set(timer.seconds) == {"a", "b"}
    assert len(calls) == 6
