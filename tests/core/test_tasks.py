"""Classification and translation through the core, on real tokenizers and small real checkpoints."""

import pytest

from core.cancel import CancelToken
from core.catalog import ModelEntry
from core.errors import Cancelled, InputError
from core.loading import load_model
from core.requests import LoadRequest
from core.tasks import classify, clean_text, translate
from core.variants import Variant


@pytest.fixture(scope="module")
def tiny_classifier(bert_dir):
    return load_model(LoadRequest(ModelEntry.for_folder(bert_dir, "classification")))


@pytest.mark.parametrize("text", ["", "   \n\t ", "\u200b" * 0])
def test_empty_text_is_an_input_error(tiny_classifier, text):
    with pytest.raises(InputError, match="empty"):
        classify(tiny_classifier, [text])


@pytest.mark.parametrize("text", ["\ud800 lone surrogate", "emoji 😀🚀 ok", "مرحبا بالعالم", "你好，世界",
                                  "tab\tand\x00nul\x07bell"])
def test_odd_text_classifies(tiny_classifier, text):
    result = classify(tiny_classifier, [text])
    assert sum(result.predictions[0].scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert set(result.phases) == {"tokenize", "model", "decode"}


def test_huge_text_is_truncated_and_says_how_much(tiny_classifier):
    text = "the film was wonderful and moving " * 6000  # about 200,000 characters
    result = classify(tiny_classifier, [text])
    truncation = result.truncations[0]
    assert truncation is not None
    assert truncation.total_chars == len(text)
    assert 100 < truncation.used_chars < 2000
    assert result.tokens[0] == tiny_classifier.info.max_length
    assert "truncated" in result.warnings[0]


def test_clean_text_replaces_lone_surrogates():
    assert clean_text("a\ud800b") == "a\ufffdb"


def test_batch_classification(tiny_classifier):
    result = classify(tiny_classifier, ["short", "a much longer sentence than the first one"])
    assert len(result.predictions) == 2 and result.tokens[0] < result.tokens[1]


@pytest.mark.parametrize("which", ["marian_dir", "t5_dir"])
def test_translation_streams_token_by_token(request, which):
    loaded = load_model(LoadRequest(ModelEntry.for_folder(request.getfixturevalue(which), "translation")))
    seen = []
    result = translate(loaded, "the cat sat on the mat", max_new_tokens=12, min_new_tokens=12,
                       on_text=lambda delta, text, n: seen.append(n))
    assert result.new_tokens >= 12
    assert seen == sorted(seen) and len(seen) >= 2
    assert result.time_to_first_token is not None and 0 < result.time_to_first_token <= result.phases["model"]
    assert result.tokens_per_second > 0


def test_beam_search_reports_once(marian_dir):
    loaded = load_model(LoadRequest(ModelEntry.for_folder(marian_dir, "translation"), Variant(int8=True)))
    calls = []
    result = translate(loaded, "hello world", max_new_tokens=8, num_beams=3,
                       on_text=lambda delta, text, n: calls.append(text))
    assert calls == [result.text]


def test_cancel_stops_generation(marian_dir):
    loaded = load_model(LoadRequest(ModelEntry.for_folder(marian_dir, "translation")))
    cancel = CancelToken()

    def on_text(delta, text, n):
        if n == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        translate(loaded, "hello world", max_new_tokens=200, min_new_tokens=200, on_text=on_text, cancel=cancel)


def test_wrong_task_for_model(tiny_classifier, marian_dir):
    with pytest.raises(InputError):
        translate(tiny_classifier, "hello")
    loaded = load_model(LoadRequest(ModelEntry.for_folder(marian_dir, "translation")))
    with pytest.raises(InputError):
        classify(loaded, ["hello"])
