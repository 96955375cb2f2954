"""The project's own OpenAI-compatible server (core/serve.py), spoken to with the project's client and httpx.

Here the server runs on a loopback port inside the test process, with a small word-by-word backend
(what is behind the server is not under test here; tests/core/test_serve_model.py serves a real model).
"""

import threading
import time

import httpx
import pytest

from core.cancel import CancelToken
from core.endpoint import Endpoint, EndpointError, stream
from core.errors import Cancelled, InputError
from core.serve import Completion, GenerationParams, ServerConfig, check_bind, make_server


class WordBackend:
    """Says the prompt's words back, one per token, `delay` seconds apart; records what it did."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.produced: list[int] = []

    def __call__(self, params: GenerationParams, cancel: CancelToken):
        words = params.prompt.split()[: params.max_tokens]
        started = time.perf_counter()
        n = 0
        try:
            for n, word in enumerate(words, 1):
                if cancel.cancelled:
                    break
                if self.delay:
                    time.sleep(self.delay)
                yield (" " if n > 1 else "") + word
        finally:  # also when the server closes us early
            self.produced.append(n)
        first = time.perf_counter() - started
        return Completion(prompt_tokens=len(params.prompt.split()), completion_tokens=n,
                          finish_reason="length" if n == params.max_tokens else "stop",
                          prompt_seconds=first / 2, decode_seconds=first / 2)


@pytest.fixture
def served():
    made = []

    def serve(backend, token=None):
        server = make_server(ServerConfig(model_name="word-model", backend=backend, token=token), port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        made.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield serve
    for server in made:
        server.shutdown()
        server.server_close()


def test_streamed_chat_through_our_client(served):
    url = served(WordBackend())
    result = stream(Endpoint(base_url=url, model="word-model"), "alpha beta gamma delta", max_tokens=3)
    assert result.text == "alpha beta gamma"
    assert (result.completion_tokens, result.token_source, result.finish_reason) == (3, "server", "length")
    assert result.server_timing["predicted_n"] == 3


def test_completions_api_and_a_whole_answer(served):
    url = served(WordBackend())
    result = stream(Endpoint(base_url=url, model="word-model", api="completions"), "one two", max_tokens=8)
    assert result.text == "one two" and result.finish_reason == "stop"
    answer = httpx.post(f"{url}/chat/completions", json={"model": "word-model", "max_tokens": 2,
                                                         "messages": [{"role": "user", "content": "x y z"}]})
    body = answer.json()
    assert body["choices"][0]["message"]["content"] == "x y" and body["usage"]["completion_tokens"] == 2
    assert httpx.get(f"{url}/models").json()["data"][0]["id"] == "word-model"


def test_a_token_is_required_when_set(served, monkeypatch):
    url = served(WordBackend(), token="team-token")
    monkeypatch.setenv("SERVE_KEY", "nope")
    with pytest.raises(EndpointError, match="HTTP 401"):
        stream(Endpoint(base_url=url, model="word-model", key_env="SERVE_KEY"), "a b")
    monkeypatch.setenv("SERVE_KEY", "team-token")
    assert stream(Endpoint(base_url=url, model="word-model", key_env="SERVE_KEY"), "a b").text == "a b"


def test_binding_beyond_loopback_needs_a_token():
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    with pytest.raises(InputError, match="set a token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", "a-token")


@pytest.mark.parametrize("body, message", [
    ({"model": "word-model", "messages": []}, "Give messages"),
    ({"model": "word-model", "prompt": "  "}, "empty"),
    ({"model": "word-model", "prompt": "a", "max_tokens": 10**9}, "max_tokens"),
    ({"model": "word-model", "prompt": "a", "temperature": "hot"}, "temperature"),
    ({"model": "other", "prompt": "a"}, "serves 'word-model'"),
])
def test_bad_requests_get_a_clear_error(served, body, message):
    url = served(WordBackend())
    route = "/chat/completions" if "messages" in body else "/completions"
    answer = httpx.post(url + route, json=body)
    assert answer.status_code in (400, 404) and message in answer.json()["error"]["message"]


def test_a_body_that_is_too_big_or_not_json_is_refused(served):
    url = served(WordBackend())
    assert httpx.post(f"{url}/completions", content=b"{" * 10).status_code == 400
    assert httpx.post(f"{url}/completions", content=b"x" * (2 << 20)).status_code == 400


def test_a_client_that_hangs_up_stops_the_generation(served):
    backend = WordBackend(delay=0.02)
    url = served(backend)
    cancel = CancelToken()

    def on_text(delta, text):
        if len(text.split()) == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        stream(Endpoint(base_url=url, model="word-model"), " ".join(f"w{i}" for i in range(200)),
               max_tokens=200, cancel=cancel, on_text=on_text)
    deadline = time.monotonic() + 5
    while not backend.produced and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backend.produced and backend.produced[0] < 50  # stopped soon after, not all 200
