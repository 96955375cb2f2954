"""Robustness: arbitrary text never crashes the core, and loading/unloading does not leak."""

import gc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cancel import CancelToken
from core.catalog import DEFAULT_MODEL_ID, ModelEntry, load_catalog
from core.engine import Engine
from core.errors import InputError
from core.loading import load_model
from core.measure import rss_bytes
from core.requests import LoadRequest, RunRequest
from core.tasks import classify
from core.variants import Variant


@pytest.fixture(scope="module")
def tiny(bert_dir):
    return load_model(LoadRequest(ModelEntry.for_folder(bert_dir, "classification")))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_text_classifies_or_is_an_input_error(tiny, text):
    try:
        result = classify(tiny, [text])
    except InputError:
        assert not text.strip()
        return
    assert abs(sum(result.predictions[0].scores.values()) - 1) < 1e-4


@pytest.mark.slow
def test_thirty_loads_and_unloads_do_not_grow_memory():
    """Switch variants 30 times; RSS after the last unload stays within 50 MB of after the first."""
    engine = Engine()
    entry = load_catalog().get(DEFAULT_MODEL_ID)
    variants = [Variant(), Variant(int8=True), Variant(layers=1), Variant(int8=True, layers=3),
                Variant(precision="bf16", layers=2)]
    after_unload = []
    for i in range(30):
        engine.load(LoadRequest(entry, variants[i % len(variants)]), CancelToken())
        engine.run(RunRequest(("a short sentence to run once",)), CancelToken())
        engine.unload()
        gc.collect()
        after_unload.append(rss_bytes())
    growth = after_unload[-1] - after_unload[0]
    print("RSS after each unload (MiB):", [round(v / 2**20) for v in after_unload])
    assert growth < 50 * 2**20, [round(v / 2**20) for v in after_unload]
