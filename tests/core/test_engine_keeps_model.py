"""A load that fails in its checks keeps the model that was working (issue 13): the real engine, the
bundled model, and failures a user meets (a folder that is no checkpoint, a hub id not cached while
offline, an architecture that cannot do the task)."""

import pytest

from core.cancel import CancelToken
from core.catalog import DEFAULT_MODEL_ID, ModelEntry, load_catalog
from core.engine import Engine
from core.errors import Cancelled, SizeLabError
from core.requests import LoadRequest, RunRequest


@pytest.fixture(scope="module")
def engine():
    engine = Engine()
    engine.load(LoadRequest(entry=load_catalog().get(DEFAULT_MODEL_ID)), CancelToken())
    yield engine
    engine.unload()


def _failing_requests(tmp_path):
    catalog = load_catalog()
    (tmp_path / "empty").mkdir()
    yield LoadRequest(entry=ModelEntry.for_folder(str(tmp_path / "empty"), "classification"))
    yield LoadRequest(entry=ModelEntry.for_hub("nobody-here/no-such-model-xyz", "classification"), allow_download=False)
    translator = next(e for e in catalog.models if e.source == "synthetic" and e.task == "translation")
    as_classifier = ModelEntry(id="x/marian-as-classifier", name="Marian as a classifier", task="generation",
                               source="synthetic", ref=translator.ref)
    yield LoadRequest(entry=as_classifier)


def test_a_load_that_fails_its_checks_keeps_the_working_model(engine, tmp_path):
    working = engine.summary
    for request in _failing_requests(tmp_path):
        with pytest.raises(SizeLabError):
            engine.load(request, CancelToken())
        assert engine.summary is working and engine.loaded is not None, request.entry.id
    record = engine.run(RunRequest(texts=("It works and I love it.",)), CancelToken())
    assert record.model_name == working.name and record.scores


def test_a_load_cancelled_before_it_starts_keeps_the_working_model(engine):
    cancel = CancelToken()
    cancel.cancel()
    other = next(e for e in load_catalog().models if e.source == "synthetic" and e.task == "classification")
    with pytest.raises(Cancelled):
        engine.load(LoadRequest(entry=other), cancel)
    assert engine.summary is not None and engine.summary.model_id == DEFAULT_MODEL_ID
