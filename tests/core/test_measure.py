import time

import numpy as np

from core.measure import MemorySampler, PhaseTimer, rss_bytes


def test_sampler_sees_a_real_allocation_and_its_release():
    with MemorySampler(interval=0.002) as sampler:
        before = sampler.mark()
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        time.sleep(0.05)
        del block
        time.sleep(0.02)
        peak = sampler.peak
    assert peak - before > 150 * 2**20
    assert sampler.samples > 5
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
