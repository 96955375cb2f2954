"""The bundled sentiment model is real: clear sentences come out right at every useful variant."""

import pytest

from core import sentence
from core.catalog import DEFAULT_MODEL_ID, load_catalog
from core.loading import load_model
from core.requests import LoadRequest
from core.tasks import classify
from core.training import evaluate, sentiment_split
from core.variants import Variant

CLEAR = [
    ("I absolutely love this phone, the camera is stunning.", "positive"),
    ("Best pizza in town, friendly staff and quick service.", "positive"),
    ("The hotel room was spotless and the view was breathtaking.", "positive"),
    ("This update made the app faster and far easier to use.", "positive"),
    ("A gripping, beautifully written novel. I couldn't put it down.", "positive"),
    ("The headphones broke after two days. Total waste of money.", "negative"),
    ("Rude staff, cold food and a forty minute wait.", "negative"),
    ("The film was boring and far too long.", "negative"),
    ("Customer support never answered my emails.", "negative"),
    ("The game crashes every time I try to save.", "negative"),
]


@pytest.mark.parametrize("variant", [Variant(), Variant(int8=True), Variant(layers=4)], ids=str)
def test_clear_sentences(variant):
    loaded = load_model(LoadRequest(load_catalog().get(DEFAULT_MODEL_ID), variant))
    result = classify(loaded, [text for text, _ in CLEAR])
    predicted = [p.label for p in result.predictions]
    assert predicted == [label for _, label in CLEAR]


def test_dev_accuracy_beats_zero_shot_prototypes():
    """Prototypes of the untuned encoder reach about 71% on this dev set; the trained model must beat it clearly."""
    accuracy = evaluate(sentence.bundled_classifier, sentiment_split("dev"), [6])[6]
    assert accuracy >= 0.82, accuracy
