"""`sizelab-cli serve` as a real process, serving a small real GPT-2 built here, measured by our client.

The served text must be what core.generation itself generates (greedy), so the endpoint row and a
local row of the same model answer the same; and Stop must end the server's generation.
"""

import os
import subprocess
import sys
import time

import pytest

from core.cancel import CancelToken
from core.endpoint import Endpoint, stream
from core.errors import Cancelled

pytestmark = pytest.mark.slow  # each test starts a server process that imports torch

PROMPT = "the quick model"


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    from tests.builders import causal_lm_folder
    return causal_lm_folder(tmp_path_factory.mktemp("serve"), "gpt2", layers=2)


def _serve(folder, *extra, env=None):
    process = subprocess.Popen([sys.executable, "-m", "core.cli", "serve", "--folder", str(folder), "--port", "0",
                                "--threads", "1", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, **(env or {})})
    line = process.stdout.readline()
    if not line.startswith("serving"):
        process.kill()
        raise AssertionError(f"serve did not start: {line!r} {process.stderr.read()}")
    return process, line.split(" at ")[1].split()[0]


def _stop(process):
    process.terminate()
    process.wait(10)
    process.stdout.close()
    process.stderr.close()


def test_serve_streams_what_the_engine_generates(gpt2_dir):
    from core.catalog import ModelEntry
    from core.generation import generate
    from core.loading import load_model
    from core.requests import GenerationSettings, LoadRequest

    loaded = load_model(LoadRequest(entry=ModelEntry.for_folder(gpt2_dir, "generation"), threads=1))
    local = generate(loaded, PROMPT, GenerationSettings(max_new_tokens=12))
    process, url = _serve(gpt2_dir)
    try:
        result = stream(Endpoint(base_url=url, model="tiny-gpt2"), PROMPT, max_tokens=12)
    finally:
        _stop(process)
    assert result.text == local.text and result.text
    assert result.token_source == "server" and result.completion_tokens == local.new_tokens
    assert result.server_timing["predicted_n"] == local.new_tokens
    assert result.time_to_first_token > 0 and result.decode_tokens_per_second


def test_stop_ends_the_servers_generation_and_it_serves_the_next(gpt2_dir):
    process, url = _serve(gpt2_dir)
    try:
        endpoint = Endpoint(base_url=url, model="tiny-gpt2")
        cancel = CancelToken()
        pieces = []

        def on_text(delta, text):
            pieces.append(delta)
            if len(pieces) == 3:
                cancel.cancel()

        started = time.perf_counter()
        with pytest.raises(Cancelled):
            stream(endpoint, PROMPT, max_tokens=100, cancel=cancel, on_text=on_text)
        assert time.perf_counter() - started < 30
        # one model, one generation at a time: the next request is served only once the stopped one let go
        after = stream(endpoint, PROMPT, max_tokens=3)
        assert after.completion_tokens == 3
    finally:
        _stop(process)


def test_serving_beyond_loopback_needs_a_token_and_it_is_checked(gpt2_dir):
    refused = subprocess.run([sys.executable, "-m", "core.cli", "serve", "--folder", str(gpt2_dir), "--host", "0.0.0.0",
                              "--token-env", "SIZELAB_TEST_NO_TOKEN"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "set a token" in refused.stderr
    process, url = _serve(gpt2_dir, "--token-env", "SIZELAB_TEST_TOKEN", env={"SIZELAB_TEST_TOKEN": "t0ken"})
    try:
        os.environ["SIZELAB_TEST_CLIENT_KEY"] = "t0ken"
        assert stream(Endpoint(base_url=url, model="tiny-gpt2", key_env="SIZELAB_TEST_CLIENT_KEY"), PROMPT,
                      max_tokens=2).completion_tokens == 2
    finally:
        os.environ.pop("SIZELAB_TEST_CLIENT_KEY", None)
        _stop(process)


def test_serve_refuses_a_model_that_does_not_generate(bert_dir):
    refused = subprocess.run([sys.executable, "-m", "core.cli", "serve", "--folder", str(bert_dir),
                              "--task", "classification"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "not a causal language model" in refused.stderr
