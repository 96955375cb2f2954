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


@pytest.mark.slow  # the whole dev set through the encoder: about 4 s
def test_dev_accuracy_beats_zero_shot_prototypes():
    """Prototypes of the untuned encoder reach about 71% on this dev set; the trained model must beat it clearly."""
    accuracy = evaluate(sentence.bundled_classifier, sentiment_split("dev"), [6])[6]
    assert accuracy >= 0.82, accuracy


FAMILY = ["bundled/minilm-l6-sentiment", "bundled/minilm-l6-rbf", "bundled/textcnn-sentiment"]


@pytest.mark.parametrize("int8", [False, True], ids=["fp32", "int8"])
@pytest.mark.parametrize("model_id", FAMILY[1:])
def test_the_smaller_architectures_classify_clear_sentences(model_id, int8):
    loaded = load_model(LoadRequest(load_catalog().get(model_id), Variant(int8=int8)))
    result = classify(loaded, [text for text, _ in CLEAR])
    assert [p.label for p in result.predictions] == [label for _, label in CLEAR]
    assert loaded.model.temperatures, "a calibrated temperature ships with every bundled model"


@pytest.mark.parametrize("model_id", FAMILY)
def test_every_family_member_has_a_report_with_dev_and_held_out_accuracy(model_id):
    import json

    from core import bundled

    entry = load_catalog().get(model_id)
    folder = bundled.folder_of(entry.ref)
    report = json.loads((folder / "report.json").read_text())
    for variant in ("fp32", "int8"):
        for scores in report["results"][variant].values():
            assert 0.5 < scores["dev"]["accuracy"] <= 1 and 0.5 < scores["hard_test"]["accuracy"] <= 1
            assert scores["temperature"] > 0
    assert entry.params and entry.extra.get("weight_bytes")


def test_rbf_keeps_layers_and_textcnn_has_none_to_drop():
    from core.errors import UnsupportedModelError

    from core.catalog import known_depth

    catalog = load_catalog()
    assert known_depth(catalog.get("bundled/minilm-l6-rbf")) == 6
    assert known_depth(catalog.get("bundled/textcnn-sentiment")) == 1  # the layers box offers nothing to drop
    loaded = load_model(LoadRequest(catalog.get("bundled/minilm-l6-rbf"), Variant(layers=2)))
    assert loaded.info.layers == 2
    assert [p.label for p in classify(loaded, [CLEAR[0][0], CLEAR[5][0]]).predictions] == ["positive", "negative"]
    with pytest.raises(UnsupportedModelError, match="cannot keep 3"):
        load_model(LoadRequest(catalog.get("bundled/textcnn-sentiment"), Variant(layers=3)))


def test_textcnn_batched_equals_alone():
    """Padding in a batch must not change a sentence's answer (the max-pool ignores padding windows)."""
    import torch

    loaded = load_model(LoadRequest(load_catalog().get("bundled/textcnn-sentiment"), Variant()))
    texts = ["Great.", CLEAR[4][0]]
    batched = classify(loaded, texts).predictions
    for text, prediction in zip(texts, batched):
        alone = classify(loaded, [text]).predictions[0]
        assert torch.allclose(torch.tensor(list(alone.scores.values())),
                              torch.tensor(list(prediction.scores.values())), atol=1e-5)


def test_confident_answers_are_plain_and_doubtful_ones_read_uncertain():
    loaded = load_model(LoadRequest(load_catalog().get(DEFAULT_MODEL_ID), Variant()))
    clear = classify(loaded, [CLEAR[0][0]]).predictions[0]
    assert not clear.uncertain and "uncertain" not in clear.describe()
    loaded.model.temperatures = {"fp32": 1000.0}  # flattens every answer to about 50/50
    flat = classify(loaded, [CLEAR[0][0]]).predictions[0]
    assert flat.uncertain and flat.describe().startswith("uncertain (leans ")


def test_non_english_gets_a_warning_not_a_confident_label():
    loaded = load_model(LoadRequest(load_catalog().get(DEFAULT_MODEL_ID), Variant()))
    result = classify(loaded, ["Этот телефон просто ужасен, не покупайте.", CLEAR[0][0]])
    assert result.predictions[0].uncertain and not result.predictions[1].uncertain
    assert len(result.warnings) == 1 and "English only" in result.warnings[0]
