"""The Hugging Face hub is the one edge we cannot reach here: snapshot_download is replaced by a fake.

What is tested is our side: cache first, offline refusal, download progress through our callback,
and Cancel raising from inside the download's progress reporter.
"""

import pytest
from huggingface_hub import errors as hub_errors

from core import loading
from core.cancel import CancelToken
from core.errors import Cancelled, ModelSourceError


class FakeHub:
    def __init__(self, cached=None, chunks=5):
        self.cached, self.chunks, self.calls = cached, chunks, []

    def __call__(self, repo_id, *, allow_patterns=None, local_files_only=False, tqdm_class=None, **kwargs):
        self.calls.append((repo_id, local_files_only, tuple(allow_patterns or ())))
        if local_files_only:
            if self.cached is None:
                raise hub_errors.LocalEntryNotFoundError("not cached")
            return str(self.cached)
        with tqdm_class(total=self.chunks * 100, desc="model.safetensors") as bar:
            for _ in range(self.chunks):
                bar.update(100)
        return "/downloaded"


@pytest.fixture
def fake_hub(monkeypatch):
    def install(hub, offline=False):
        import huggingface_hub
        monkeypatch.setattr(huggingface_hub, "snapshot_download", hub)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline)
        return hub
    return install


def test_cache_first_and_safetensors_only(fake_hub, tmp_path):
    hub = fake_hub(FakeHub(cached=tmp_path))
    assert loading.hub_folder("a/b", True, False, CancelToken(), lambda f, m: None) == tmp_path
    repo, local_only, patterns = hub.calls[0]
    assert local_only and "*.safetensors" in patterns and not any(p.endswith(".bin") for p in patterns)


def test_offline_refuses_to_download(fake_hub):
    hub = fake_hub(FakeHub(), offline=True)
    with pytest.raises(ModelSourceError, match="HF_HUB_OFFLINE"):
        loading.hub_folder("a/b", True, False, CancelToken(), lambda f, m: None)
    assert len(hub.calls) == 1  # only the cache was asked


def test_download_reports_progress(fake_hub):
    fake_hub(FakeHub())
    seen = []
    folder = loading.hub_folder("a/b", True, False, CancelToken(), lambda f, m: seen.append(f))
    assert str(folder) == "/downloaded"
    assert [f for f in seen if f is not None] == [0.2, 0.4, 0.6, 0.8, 1.0]


def test_cancel_stops_a_download(fake_hub):
    fake_hub(FakeHub(chunks=100))
    cancel = CancelToken()

    def progress(fraction, message):
        if fraction and fraction >= 0.1:
            cancel.cancel()

    with pytest.raises(Cancelled):
        loading.hub_folder("a/b", True, False, cancel, progress)
