"""A real HTTP server on loopback that misbehaves on purpose, for the endpoint client's tests.

Run as its own process (`python -m tests.endpoint_server --log FILE`); it prints its port. The
model name in each request picks the behaviour, so one server covers every case:
  echo        streams the prompt's words back, one per chunk, with usage and llama.cpp-style timings
  no-usage    the same without the usage field
  slow-first  waits 1 s before the first token
  lag         waits 0.25 s before the first token
  cut         three chunks, then the connection is closed without the end of the stream
  busy        429 with Retry-After: 0.2 the first time a prompt is seen, then echo
  down        always 500 with Retry-After: 0.1
  badjson     one chunk, then a line that is not JSON
  silent      reads the request and never answers
  endless     a token every 20 ms for 10 s; writes "disconnected after N" to the log when the client leaves
With the environment variable FAKE_SERVER_KEY set, requests must carry that bearer key (else 401).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEEN: set[str] = set()
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_path = None

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):  # noqa: N802
        key = os.environ.get("FAKE_SERVER_KEY")
        if key and self.headers.get("Authorization") != f"Bearer {key}":
            return self._plain(401, {"error": {"message": "Incorrect API key provided."}})
        if self.path.rstrip("/") == "/v1/models":
            names = ["echo", "no-usage", "slow-first", "lag", "cut", "busy", "down", "badjson", "silent", "endless"]
            return self._plain(200, {"object": "list", "data": [{"id": n, "object": "model"} for n in names]})
        return self._plain(404, {"error": {"message": "no such route"}})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = os.environ.get("FAKE_SERVER_KEY")
        if key and self.headers.get("Authorization") != f"Bearer {key}":
            return self._plain(401, {"error": {"message": "Incorrect API key provided."}})
        model = body["model"]
        prompt = body["messages"][-1]["content"] if "messages" in body else body["prompt"]
        if model == "down":
            return self._plain(500, {"error": {"message": "overloaded"}}, {"Retry-After": "0.1"})
        if model == "busy":
            with LOCK:
                first = prompt not in SEEN
                SEEN.add(prompt)
            if first:
                return self._plain(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0.2"})
        if model == "silent":
            time.sleep(30)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        words = prompt.split()[: body.get("max_tokens", 64)]
        if model in ("slow-first", "lag"):
            time.sleep(1.0 if model == "slow-first" else 0.25)
        if model == "endless":
            sent = 0
            try:
                for sent in range(500):
                    self._event({"choices": [{"index": 0, "delta": {"content": f" w{sent}"}}]})
                    time.sleep(0.02)
            except OSError:
                with open(self.log_path, "a") as log:
                    log.write(f"disconnected after {sent}\n")
            self.close_connection = True
            return
        for i, word in enumerate(words):
            self._event({"choices": [{"index": 0, "delta": {"content": (" " if i else "") + word},
                                      "finish_reason": None}]})
            if model == "cut" and i == 2:
                self.wfile.flush()
                self.connection.shutdown(2)  # gone mid-stream, no terminating chunk
                self.close_connection = True
                return
            if model == "badjson":
                self._chunk(b"data: {this is not json\n\n")
                self._chunk(b"")
                return
            time.sleep(0.002)
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
        if model != "no-usage":
            self._event({"choices": [], "usage": {"prompt_tokens": len(prompt.split()),
                                                  "completion_tokens": len(words)},
                         "timings": {"predicted_per_token_ms": 2.0}})
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _plain(self, status, data, headers=None):
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _event(self, data):
        self._chunk(b"data: " + json.dumps(data).encode() + b"\n\n")

    def _chunk(self, data: bytes):
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def running_server(key: str = "sekrit"):
    """A module-scoped pytest fixture: this server in its own process; yields (base URL, log path)."""
    import pytest

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        log = tmp_path_factory.mktemp("server") / "server.log"
        log.touch()
        process = subprocess.Popen([sys.executable, "-m", "tests.endpoint_server", "--log", str(log)],
                                   stdout=subprocess.PIPE, text=True, env={**os.environ, "FAKE_SERVER_KEY": key})
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/v1", log
        process.kill()
        process.wait(5)
        process.stdout.close()

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    Handler.log_path = args.log
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    # Bounded: a test server left behind ends by itself.
    threading.Timer(300, server.shutdown).start()
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
