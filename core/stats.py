"""Summary statistics of latency samples. Pure Python: no numpy, no torch."""

import math
from dataclasses import asdict, dataclass

NOISE_THRESHOLD = 0.1  # IQR/median above this: the measurement is noisy


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of already sorted values."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


@dataclass(frozen=True)
class Stats:
    n: int
    mean: float
    std: float
    min: float
    p50: float
    p90: float
    p99: float
    max: float
    iqr: float

    @property
    def noisy(self) -> bool:
        return self.p50 > 0 and self.iqr / self.p50 > NOISE_THRESHOLD

    @classmethod
    def of(cls, samples) -> "Stats":
        values = sorted(float(v) for v in samples)
        if not values:
            raise ValueError("no samples")
        n = len(values)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        return cls(n=n, mean=mean, std=std, min=values[0], p50=percentile(values, 50),
                   p90=percentile(values, 90), p99=percentile(values, 99), max=values[-1],
                   iqr=percentile(values, 75) - percentile(values, 25))

    def to_dict(self) -> dict:
        return asdict(self) | {"noisy": self.noisy}
