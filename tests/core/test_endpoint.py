"""The endpoint client against a real HTTP server process on loopback (tests/endpoint_server.py).

No mock at the HTTP edge: real sockets, real server-sent events, the real httpx client. The server's
model name picks the fault it plays.
"""

import threading
import time

import pytest

from core.cancel import CancelToken
from core.endpoint import Endpoint, EndpointError, is_local_host, measure_concurrency, stream
from core.errors import Cancelled, InputError
from tests.endpoint_server import running_server

server = running_server()  # one real server process for this module (a pytest fixture)

PROMPT = "one two three four five six seven eight"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("TEST_ENDPOINT_KEY", "sekrit")


def endpoint(server, model, **options) -> Endpoint:
    return Endpoint(base_url=server[0], model=model, key_env="TEST_ENDPOINT_KEY", **options)


def test_a_stream_is_timed_per_chunk_with_the_servers_token_count(server):
    seen = []
    result = stream(endpoint(server, "echo"), PROMPT, max_tokens=6, on_text=lambda delta, text: seen.append(text))
    assert result.text == "one two three four five six"
    assert seen[-1] == result.text and len(seen) == 6
    assert result.completion_tokens == 6 and result.token_source == "server"
    assert result.finish_reason == "length" and result.prompt_tokens == 8
    assert 0 < result.time_to_first_token <= result.end_to_end
    assert len(result.inter_token_latencies) == 5 and all(x >= 0 for x in result.inter_token_latencies)
    assert result.decode_tokens_per_second > 0
    assert result.server_timing == {"predicted_per_token_ms": 2.0}
    assert any("Plain http" in w for w in result.warnings)


def test_without_usage_tokens_are_counted_locally_or_labelled_as_chunks(server):
    result = stream(endpoint(server, "no-usage"), PROMPT, max_tokens=4)
    assert (result.completion_tokens, result.token_source) == (4, "chunks")
    result = stream(endpoint(server, "no-usage"), PROMPT, max_tokens=4, count_tokens=lambda text: len(text))
    assert result.token_source == "local tokenizer" and result.completion_tokens == len("one two three four")


def test_a_slow_first_token_shows_in_ttft_not_in_inter_token_latency(server):
    result = stream(endpoint(server, "slow-first"), PROMPT, max_tokens=5)
    assert result.time_to_first_token >= 0.9
    assert max(result.inter_token_latencies) < 0.5


def test_rate_limits_are_retried_after_the_servers_retry_after(server):
    started = time.perf_counter()
    result = stream(endpoint(server, "busy"), "a prompt only this test sends", max_tokens=3)
    assert result.retries == 1 and result.text == "a prompt only"
    assert time.perf_counter() - started >= 0.2


def test_a_server_error_is_retried_then_reported_in_one_line(server):
    with pytest.raises(EndpointError, match=r"HTTP 500: overloaded \(after 2 retries\)"):
        stream(endpoint(server, "down", max_retries=2), PROMPT)


def test_a_stream_cut_midway_is_an_error_that_says_how_far_it_got(server):
    with pytest.raises(EndpointError, match="cut after 3 chunk"):
        stream(endpoint(server, "cut"), PROMPT)


def test_invalid_json_in_a_chunk_is_an_error(server):
    with pytest.raises(EndpointError, match="not JSON after 1 chunk"):
        stream(endpoint(server, "badjson"), PROMPT)


def test_a_wrong_key_says_which_variable_to_check(server, monkeypatch):
    monkeypatch.setenv("TEST_ENDPOINT_KEY", "wrong")
    with pytest.raises(EndpointError, match=r"refused the API key \(HTTP 401\).*TEST_ENDPOINT_KEY"):
        stream(endpoint(server, "echo"), PROMPT)
    monkeypatch.delenv("TEST_ENDPOINT_KEY")
    with pytest.raises(EndpointError, match="it is not set"):
        stream(endpoint(server, "echo"), PROMPT)


def test_a_server_that_never_answers_times_out(server):
    started = time.perf_counter()
    with pytest.raises(EndpointError, match="sent nothing for 0.5 s while we waited for the first token"):
        stream(endpoint(server, "silent", timeout_s=0.5), PROMPT)
    assert time.perf_counter() - started < 5


def test_cancel_ends_a_wait_for_a_server_that_never_answers_at_once(server):
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        stream(endpoint(server, "silent"), PROMPT, cancel=cancel)
    assert time.perf_counter() - started < 2


def test_stop_closes_the_stream_so_the_server_stops_sending(server):
    cancel = CancelToken()
    texts = []

    def on_text(delta, text):
        texts.append(text)
        if len(texts) == 5:
            cancel.cancel()

    with pytest.raises(Cancelled):
        stream(endpoint(server, "endless"), PROMPT, cancel=cancel, on_text=on_text)
    log = server[1]
    deadline = time.monotonic() + 5
    while "disconnected" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = int(log.read_text().split()[-1])
    assert 5 <= sent < 60  # it stopped within about a second of tokens, not after its 500


def test_concurrency_levels_report_throughput_and_percentiles(server):
    levels = list(measure_concurrency(endpoint(server, "lag"), [PROMPT], levels=(1, 4), requests_per_level=4,
                                      max_tokens=5))
    assert [level.concurrency for level in levels] == [1, 4]
    for level in levels:
        summary = level.to_dict()
        assert summary["errors"] == 0 and len(level.results) == 4
        assert summary["output_tokens_per_s"] > 0 and summary["time_to_first_token_s"]["n"] == 4
    # each waits 0.25 s for its first token: four in a row take 1 s or more, four at once far less
    assert levels[0].wall_s >= 1.0 and levels[1].wall_s < 0.75 * levels[0].wall_s


def test_errors_are_counted_per_level_not_raised(server):
    (level,) = measure_concurrency(endpoint(server, "down", max_retries=0), [PROMPT], levels=(2,),
                                   requests_per_level=3)
    assert level.errors == 3 and not level.results
    assert "HTTP 500" in level.to_dict()["error_messages"][0]


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/v1", "not an http"),
    ("http://api.example.com/v1", "unencrypted"),
    ("https://user:pw@api.example.com/v1", "not in the URL"),
])
def test_unsafe_or_malformed_urls_are_refused(url, message):
    with pytest.raises(InputError, match=message):
        Endpoint(base_url=url, model="m")


def test_plain_http_is_allowed_to_loopback_and_private_addresses_only():
    assert all(is_local_host(h) for h in ("localhost", "127.0.0.1", "::1", "10.1.2.3", "192.168.0.7"))
    assert not any(is_local_host(h) for h in ("8.8.8.8", "api.example.com", "2001:4860::8888"))


def test_reports_carry_the_host_and_model_never_the_key_or_path(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    described = Endpoint(base_url="https://api.example.com/v1/deployments/x", model="m").to_dict()
    assert described == {"host": "api.example.com", "model": "m", "api": "chat"}
    assert "sk-secret" not in repr(Endpoint(base_url="https://api.example.com/v1", model="m"))


def test_the_cli_measures_an_endpoint_and_writes_only_host_and_model(server, tmp_path, capsys):
    import json

    from core.cli import main

    out = tmp_path / "endpoint.json"
    code = main(["endpoint", "--url", server[0], "--model", "echo", "--key-env", "TEST_ENDPOINT_KEY",
                 "--prompt", PROMPT, "--max-new-tokens", "4", "--concurrency", "1,2", "--requests", "2",
                 "--out", str(out), "--json"])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["endpoint"] == {"host": "127.0.0.1", "model": "echo", "api": "chat"}
    assert report["single"]["text"] == "one two three four"
    assert [level["concurrency"] for level in report["levels"]] == [1, 2]
    assert "sekrit" not in out.read_text() and "sekrit" not in capsys.readouterr().out


def test_the_cli_says_a_refused_key_in_one_line(server, monkeypatch, capsys):
    from core.cli import main

    monkeypatch.setenv("TEST_ENDPOINT_KEY", "wrong")
    assert main(["endpoint", "--url", server[0], "--model", "echo", "--key-env", "TEST_ENDPOINT_KEY"]) == 2
    warning, error = capsys.readouterr().err.strip().split("\n")
    assert warning.startswith("sizelab-cli: warning: Plain http")
    assert error.startswith("sizelab-cli: error:") and "HTTP 401" in error


def test_a_key_can_come_from_the_system_keyring(server, monkeypatch):
    """The [keyring] extra: the key stored for this base URL. The OS keychain is the edge we cannot
    reach here, so keyring's own backend interface is given an in-memory store."""
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1
        stored: dict = {}

        def get_password(self, service, username):
            return self.stored.get((service, username))

        def set_password(self, service, username, password):
            self.stored[(service, username)] = password

        def delete_password(self, service, username):
            self.stored.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        monkeypatch.delenv("TEST_ENDPOINT_KEY")
        with pytest.raises(EndpointError, match="HTTP 401"):
            stream(endpoint(server, "echo"), PROMPT, max_tokens=2)
        keyring.set_password("model-size-lab", server[0], "sekrit")
        assert stream(endpoint(server, "echo"), PROMPT, max_tokens=2).text == "one two"
    finally:
        keyring.set_keyring(previous)
