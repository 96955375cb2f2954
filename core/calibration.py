"""Calibration: a temperature per model, depth and variant, the error it removes, and doubt.

A classifier trained to near-zero loss is overconfident: 100% on sentences it gets wrong. Dividing
its logits by a temperature T fitted on sentences held out from training (a calibration split of
the training data, never dev or the held-out test set) makes "90%" mean right about 9 times in 10.
A prediction whose calibrated top probability is under UNCERTAIN_BELOW reads "uncertain".

Plain Python except fit_temperature (torch, called only by training); the GUI may import this.
"""

import math

UNCERTAIN_BELOW = 0.7  # calibrated top probability under which a label is shown as "uncertain"
ECE_BINS = 10
TEMPERATURE_GRID = [math.exp(x / 50) for x in range(-150, 301)]  # 0.05 .. 403, log-spaced


def softmax(row: list[float], temperature: float = 1.0) -> list[float]:
    top = max(row)
    exps = [math.exp((v - top) / temperature) for v in row]
    total = sum(exps)
    return [e / total for e in exps]


def expected_calibration_error(confidences: list[float], correct: list[bool], bins: int = ECE_BINS) -> float:
    """ECE: the gap between confidence and accuracy, averaged over equal-width confidence bins."""
    if not confidences or len(confidences) != len(correct):
        raise ValueError("ECE needs one correctness flag per confidence.")
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [i for i, c in enumerate(confidences) if low < c <= high or (b == 0 and c == low)]
        if members:
            confidence = sum(confidences[i] for i in members) / len(members)
            accuracy = sum(correct[i] for i in members) / len(members)
            total += len(members) / len(confidences) * abs(confidence - accuracy)
    return total


def ece_of_logits(logits: list[list[float]], targets: list[int], temperature: float = 1.0) -> float:
    probs = [softmax(row, temperature) for row in logits]
    confidences = [max(p) for p in probs]
    correct = [p.index(max(p)) == t for p, t in zip(probs, targets)]
    return expected_calibration_error(confidences, correct)


def fit_temperature(logits, targets) -> float:
    """The temperature with the lowest negative log-likelihood on held-out logits (a log-spaced grid:
    deterministic, no optimiser state, and NLL in T is smooth enough that the grid step is harmless)."""
    import torch

    logits = torch.as_tensor(logits, dtype=torch.float64)
    targets = torch.as_tensor(targets)
    grid = torch.tensor(TEMPERATURE_GRID, dtype=torch.float64)
    log_probs = (logits.unsqueeze(0) / grid.view(-1, 1, 1)).log_softmax(dim=2)  # (grid, n, labels)
    losses = -log_probs[:, torch.arange(len(targets)), targets].mean(dim=1)
    return float(grid[int(losses.argmin())])


def variant_key(variant) -> str:
    """Which fitted temperature a variant uses: int8 has its own; fp16/bf16 round like fp32."""
    return "int8" if variant.int8 else "fp32"


def temperature_for(model, variant) -> float:
    """The temperature fitted for this model and variant, or 1.0 for models that carry none.

    Bundled models carry `temperatures` ({"fp32": T, "int8": T}, already for their depth)."""
    temperatures = getattr(model, "temperatures", None) or {}
    return float(temperatures.get(variant_key(variant), 1.0))


def is_uncertain(top_probability: float) -> bool:
    return top_probability < UNCERTAIN_BELOW
