"""An endpoint as a model of the engine: what the window's Live view and the Compare rows run.

Against the real misbehaving server process of tests/endpoint_server.py (no mock at the HTTP edge).
"""

import pytest

from core.cancel import CancelToken
from core.catalog import ModelEntry, known_depth
from core.endpoint import EndpointError
from core.engine import Engine
from core.errors import InputError
from core.requests import GenerationSettings, LoadRequest, RunRequest
from tests.endpoint_server import running_server

server = running_server()
PROMPT = "one two three four five six seven eight"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("TEST_ENDPOINT_KEY", "sekrit")


def entry(server, model="echo"):
    return ModelEntry.for_endpoint(server[0], model, key_env="TEST_ENDPOINT_KEY")


def test_an_endpoint_entry_names_host_and_model_only():
    made = ModelEntry.for_endpoint("https://api.example.com/v1/", "gpt-x")
    assert (made.id, made.name, made.task, made.source) == ("endpoint/api.example.com/gpt-x", "gpt-x @ api.example.com",
                                                            "generation", "endpoint")
    assert known_depth(made) is None
    with pytest.raises(InputError, match="unencrypted"):
        ModelEntry.for_endpoint("http://api.example.com/v1", "gpt-x")


def test_the_engine_loads_an_endpoint_and_streams_tokens_from_it(server):
    engine = Engine()
    summary = engine.load(LoadRequest(entry=entry(server)), CancelToken())
    assert (summary.kind, summary.device, summary.variant_label) == ("endpoint", "127.0.0.1", "remote")
    events = []
    record = engine.run(RunRequest(texts=(PROMPT,), generation=GenerationSettings(max_new_tokens=5)), CancelToken(),
                        on_token=events.append)
    assert record.summary == "one two three four five" and record.task == "generation"
    assert [e.index for e in events] == [1, 2, 3, 4, 5] and events[-1].text == record.summary
    g = record.generation
    assert g["remote"] and g["new_tokens"] == 5 and g["token_count_source"] == "server"
    assert g["stop_reason"] == "max_new_tokens" and g["time_to_first_token"] > 0 and g["inter_token"]["n"] == 4
    engine.unload()
    with pytest.raises(InputError, match="Load a model first"):
        engine.run(RunRequest(texts=(PROMPT,)), CancelToken())


def test_a_model_the_server_does_not_list_is_refused_at_load(server):
    with pytest.raises(EndpointError, match="does not serve 'gpt-9'.*echo"):
        Engine().load(LoadRequest(entry=entry(server, "gpt-9")), CancelToken())


def test_a_wrong_key_is_refused_at_load(server, monkeypatch):
    monkeypatch.setenv("TEST_ENDPOINT_KEY", "wrong")
    with pytest.raises(EndpointError, match="refused the API key"):
        Engine().load(LoadRequest(entry=entry(server)), CancelToken())


def test_stop_keeps_what_arrived_and_says_it_was_stopped(server):
    engine = Engine()
    engine.load(LoadRequest(entry=entry(server, "endless")), CancelToken())
    cancel = CancelToken()

    def on_token(event):
        if event.index == 4:
            cancel.cancel()

    record = engine.run(RunRequest(texts=(PROMPT,), generation=GenerationSettings(max_new_tokens=400)), cancel,
                        on_token=on_token)
    assert record.generation["stop_reason"] == "stopped" and record.summary.split() == ["w0", "w1", "w2", "w3"]


def test_a_server_that_is_not_there_is_one_clear_line():
    gone = ModelEntry.for_endpoint("http://127.0.0.1:9/v1", "m")  # the discard port: refused at once
    with pytest.raises(EndpointError, match="Cannot connect to 127.0.0.1"):
        Engine().load(LoadRequest(entry=gone), CancelToken())


def test_an_endpoint_row_sits_beside_a_local_row_in_compare(server, tmp_path, capsys):
    import json

    from core.cli import main
    from tests.builders import causal_lm_folder

    folder = causal_lm_folder(tmp_path, "gpt2", layers=2)
    out, csv = tmp_path / "run.json", tmp_path / "run.csv"
    code = main(["compare", "--member", str(folder), "--task", "generation", "--endpoint", server[0], "echo",
                 "--key-env", "TEST_ENDPOINT_KEY", "--seq-len", "8", "--new-tokens", "4", "--warmup", "1",
                 "--min-iterations", "3", "--min-seconds", "0", "--threads", "1", "--out", str(out), "--csv", str(csv)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    local, remote = json.loads(out.read_text())["rows"]
    assert local["status"] == remote["status"] == "done" and remote["kind"] == "endpoint"
    assert remote["endpoint"] == {"host": "127.0.0.1", "model": "echo", "api": "chat"}
    assert len(remote["samples"]) == 3 and remote["generation"]["new_tokens"] == 4
    assert remote["output_text"] and remote["quality"]["value"] is None
    assert local["index"] == 0 and "sekrit" not in out.read_text() and server[0] not in out.read_text()
    assert "text: " + remote["output_text"] in printed and "n/a" in printed
    assert "echo @ 127.0.0.1" in csv.read_text()
