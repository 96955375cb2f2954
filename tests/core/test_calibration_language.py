"""Calibration arithmetic and the English-only check: plain functions, no model."""

import math
import random

import pytest

from core import calibration, language
from core.variants import Variant


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    # ten answers at 80% confidence, eight of them right: perfectly calibrated
    assert calibration.expected_calibration_error([0.8] * 10, [True] * 8 + [False] * 2) == pytest.approx(0.0)
    # always 100% sure, right half the time
    assert calibration.expected_calibration_error([1.0] * 10, [True, False] * 5) == pytest.approx(0.5)


def test_fitted_temperature_undoes_overconfidence():
    """Logits drawn at temperature 1, then multiplied by 4: the fit must find about 4 and lower the ECE."""
    rng = random.Random(0)
    logits, targets = [], []
    for _ in range(2000):
        margin = rng.gauss(0, 2)
        target = 1 if rng.random() < 1 / (1 + math.exp(-margin)) else 0
        logits.append([0.0, 4 * margin])
        targets.append(target)
    temperature = calibration.fit_temperature(logits, targets)
    assert 3.3 < temperature < 4.8
    assert calibration.ece_of_logits(logits, targets, temperature) < calibration.ece_of_logits(logits, targets) / 3


def test_temperature_by_variant_and_uncertain_threshold():
    class Model:
        temperatures = {"fp32": 2.0, "int8": 3.0}

    assert calibration.temperature_for(Model(), Variant()) == 2.0
    assert calibration.temperature_for(Model(), Variant(int8=True)) == 3.0
    assert calibration.temperature_for(object(), Variant()) == 1.0  # models with no calibration
    assert calibration.is_uncertain(0.6) and not calibration.is_uncertain(0.95)


@pytest.mark.parametrize("text", [
    "Это был отличный фильм, всем советую.",
    "素晴らしい映画でした。",
    "الخدمة كانت سيئة جدا",
    "Das Essen war sehr gut und der Service auch.",
    "Le film était très bien, mais beaucoup trop long.",
    "El servicio fue muy malo y la comida estaba fría.",
])
def test_mostly_non_english_text_is_flagged(text):
    assert language.not_english(text)


@pytest.mark.parametrize("text", [
    "I have never been so glad to hear a final whistle.",
    "The croissants at Café Rouge were a disaster, c'est la vie.",
    "Dead on arrival!",
    "Naïve, but the soundtrack by Sigur Rós is gorgeous.",
    "",
    "12345 !!!",
])
def test_english_with_a_foreign_word_or_name_passes(text):
    assert language.not_english(text) is None


def test_the_shipped_english_data_is_never_flagged():
    import json

    from core import paths

    texts = [json.loads(line)["text"] for name in ("train", "train_hard", "dev", "hard_test")
             for line in (paths.SENTIMENT_DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    assert texts and [t for t in texts if language.not_english(t)] == []


def test_no_training_sentence_is_a_near_copy_of_a_held_out_one():
    """The hard held-out set stays held out: no train/train_hard sentence shares over half its words
    with a dev or hard_test sentence (word-set Jaccard, as resources/data/sentiment/README.md says)."""
    import json
    import re

    from core import paths

    def words(name):
        lines = (paths.SENTIMENT_DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        return [set(re.findall(r"[a-z0-9']+", json.loads(line)["text"].lower())) for line in lines]

    held = words("dev") + words("hard_test")
    close = [t for name in ("train_hard", "train_hard_round2") for t in words(name) for h in held
             if len(t & h) / len(t | h) > 0.5]
    assert len(held) == 306 + 480 and close == []
