"""`sizelab-cli serve`: a local model behind an OpenAI-compatible HTTP endpoint. No Qt.

So a GPU workstation's engine can be measured from a laptop's window (or any OpenAI client), the
same way as a hosted API. Standard library only (http.server): one model, requests served one at a
time behind a lock, which the concurrency lever then shows honestly (a real serving stack batches).

Safety: binds to loopback unless told otherwise, and binding anywhere else requires a token
(`Authorization: Bearer …`, compared in constant time), read from an environment variable so it
never shows in `ps`. Request bodies are capped; nothing from a request is ever executed.
"""

import hmac
import ipaddress
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .cancel import CancelToken
from .errors import Cancelled, InputError, SizeLabError

MAX_BODY_BYTES = 1 << 20
MAX_NEW_TOKENS = 4096


@dataclass
class Completion:
    """What a backend says at the end of one generation."""

    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" or "length", as OpenAI's API says
    prompt_seconds: float  # prefill: from the start to the first token
    decode_seconds: float  # from the first token to the last


@dataclass(frozen=True)
class GenerationParams:
    prompt: str
    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None


# A backend streams text deltas for a request and returns a Completion (generator return value).
Backend = Callable[[GenerationParams, CancelToken], Iterator[str]]


@dataclass
class ServerConfig:
    model_name: str
    backend: Backend
    token: str | None = None  # required from clients when set
    warnings: list[str] = field(default_factory=list)


def check_bind(host: str, token: str | None) -> None:
    """Loopback needs nothing; any other address needs a token."""
    if _is_loopback(host):
        return
    if not token:
        raise InputError(f"Serving on {host} reaches other machines: set a token in the environment "
                         "(--token-env, default SIZELAB_SERVE_TOKEN) so clients must present it.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_server(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    check_bind(host, config.token)
    lock = threading.Lock()  # one model: one generation at a time

    class Handler(_Handler):
        pass

    Handler.config, Handler.generation_lock = config, lock
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    config: ServerConfig
    generation_lock: threading.Lock

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # no request log: prompts are the user's data

    # ---------------------------------------------------------------- routes

    def do_GET(self):  # noqa: N802 - http.server's naming
        if not self._authorized():
            return
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [{"id": self.config.model_name, "object": "model",
                                                         "owned_by": "model-size-lab"}]})
        elif self.path.rstrip("/") == "/health":
            self._json(200, {"status": "ok"})
        else:
            self._error(404, f"No route {self.path}.")

    def do_POST(self):  # noqa: N802
        if not self._authorized():
            return
        route = self.path.rstrip("/")
        if route not in ("/v1/chat/completions", "/v1/completions", "/chat/completions", "/completions"):
            self._error(404, f"No route {self.path}.")
            return
        try:
            body = self._body()
            params = _params(body, chat=route.endswith("chat/completions"))
        except InputError as exc:
            self._error(400, str(exc))
            return
        if body.get("model") not in (None, self.config.model_name):
            self._error(404, f"This server serves {self.config.model_name!r}, not {body.get('model')!r}.")
            return
        kind = "chat.completion" if route.endswith("chat/completions") else "text_completion"
        if body.get("stream"):
            self._stream(params, kind)
        else:
            self._whole(params, kind)

    # ---------------------------------------------------------------- plumbing

    def _authorized(self) -> bool:
        token = self.config.token
        if not token:
            return True
        given = self.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
            return True
        self._error(401, "Missing or wrong API key.")
        return False

    def _body(self) -> dict:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise InputError("Send the body with a Content-Length.") from None
        if not 0 < length <= MAX_BODY_BYTES:
            raise InputError(f"The body must be 1 byte to {MAX_BODY_BYTES} bytes.")
        try:
            body = json.loads(self.rfile.read(length))
        except (ValueError, RecursionError):
            raise InputError("The body is not JSON.") from None
        if not isinstance(body, dict):
            raise InputError("The body must be a JSON object.")
        return body

    def _json(self, status: int, data: dict, extra_headers: dict | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "type": "invalid_request_error", "code": status}})

    def _generate(self, params: GenerationParams, cancel: CancelToken) -> Iterator[tuple[str, Completion | None]]:
        """Yields (delta, None) per piece of text, then ("", Completion). Closed early (the client
        left), it cancels the backend's generation and closes it before the next request may start."""
        with self.generation_lock:
            pieces = self.config.backend(params, cancel)
            try:
                while True:
                    try:
                        piece = next(pieces)
                    except StopIteration as end:
                        yield "", end.value
                        return
                    yield piece, None
            finally:
                cancel.cancel()  # a no-op after the end; else the backend stops within a token
                pieces.close()

    def _whole(self, params: GenerationParams, kind: str) -> None:
        text, completion = "", None
        try:
            for delta, completion in self._generate(params, CancelToken()):
                text += delta
        except SizeLabError as exc:
            self._error(500, str(exc))
            return
        choice = ({"index": 0, "message": {"role": "assistant", "content": text}} if kind == "chat.completion"
                  else {"index": 0, "text": text})
        self._json(200, _envelope(kind, self.config.model_name) | {
            "choices": [choice | {"finish_reason": completion.finish_reason}],
            "usage": _usage(completion), "timings": _timings(completion)})

    def _stream(self, params: GenerationParams, kind: str) -> None:
        cancel = CancelToken()
        chunk_kind = "chat.completion.chunk" if kind == "chat.completion" else "text_completion"
        base = _envelope(chunk_kind, self.config.model_name)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        generation = self._generate(params, cancel)
        try:
            for delta, completion in generation:
                if completion is None:
                    piece = {"delta": {"content": delta}} if kind == "chat.completion" else {"text": delta}
                    self._event(base | {"choices": [{"index": 0, "finish_reason": None} | piece]})
                    continue
                last = {"delta": {}} if kind == "chat.completion" else {"text": ""}
                self._event(base | {"choices": [{"index": 0, "finish_reason": completion.finish_reason} | last]})
                self._event(base | {"choices": [], "usage": _usage(completion), "timings": _timings(completion)})
            self._send_chunk(b"data: [DONE]\n\n")
            self._send_chunk(b"")
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            cancel.cancel()  # the client hung up: stop generating for nobody (the lock is released)
        except Cancelled:
            pass
        except SizeLabError as exc:  # mid-stream: the status is sent already, so say it as an event
            try:
                self._event({"error": {"message": str(exc), "type": "server_error"}})
                self._send_chunk(b"")
            except OSError:
                pass
        finally:
            generation.close()
        self.close_connection = True

    def _event(self, data: dict) -> None:
        self._send_chunk(b"data: " + json.dumps(data).encode() + b"\n\n")

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _params(body: dict, chat: bool) -> GenerationParams:
    if chat:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InputError("Give messages: a list of {role, content}.")
        parts = [m.get("content") for m in messages if isinstance(m, dict)]
        if not all(isinstance(p, str) for p in parts) or not parts:
            raise InputError("Each message needs text content.")
        prompt = "\n".join(parts)  # a base LM has no chat template: the turns as plain text
    else:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise InputError("Give the prompt as a string.")
    if not prompt.strip():
        raise InputError("The prompt is empty.")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens", 64))
    temperature, top_p, seed = body.get("temperature", 0.0), body.get("top_p", 1.0), body.get("seed")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_NEW_TOKENS:
        raise InputError(f"max_tokens must be a whole number from 1 to {MAX_NEW_TOKENS}.")
    for name, value, high in (("temperature", temperature, 2.0), ("top_p", top_p, 1.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
            raise InputError(f"{name} must be a number from 0 to {high:g}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InputError("seed must be a whole number.")
    return GenerationParams(prompt=prompt, max_tokens=max_tokens, temperature=float(temperature),
                            top_p=float(top_p), seed=seed)


def _envelope(kind: str, model: str) -> dict:
    return {"id": f"sizelab-{uuid.uuid4().hex[:12]}", "object": kind, "created": int(time.time()), "model": model}


def _usage(completion: Completion) -> dict:
    return {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
            "total_tokens": completion.prompt_tokens + completion.completion_tokens}


def _timings(completion: Completion) -> dict:
    """The server's own timing, in the shape llama.cpp's server reports it."""
    decoded = max(completion.completion_tokens - 1, 0)
    return {"prompt_n": completion.prompt_tokens, "prompt_ms": completion.prompt_seconds * 1000,
            "predicted_n": completion.completion_tokens, "predicted_ms": completion.decode_seconds * 1000,
            "predicted_per_token_ms": completion.decode_seconds * 1000 / decoded if decoded else None}


def generation_backend(loaded) -> Backend:
    """A loaded causal LM (core.generation) as a backend: generate() runs on a helper thread and
    hands each token's text over as it is produced; closing the stream stops it within a token."""
    from . import generation
    from .requests import GenerationSettings

    def backend(params: GenerationParams, cancel: CancelToken) -> Iterator[str]:
        settings = GenerationSettings(max_new_tokens=params.max_tokens, do_sample=params.temperature > 0,
                                      temperature=params.temperature or 1.0, top_p=params.top_p or 1.0,
                                      seed=params.seed)
        deltas: queue.Queue = queue.Queue()
        outcome: dict = {}

        def work() -> None:
            try:
                outcome["result"] = generation.generate(
                    loaded, params.prompt, settings, cancel=cancel,
                    on_token=lambda event: deltas.put(event.delta) if event.delta else None)
            except BaseException as exc:  # noqa: BLE001 - raised again on the serving thread
                outcome["error"] = exc
            finally:
                deltas.put(None)

        worker = threading.Thread(target=work, name="serve-generation", daemon=True)
        worker.start()
        try:
            while (delta := deltas.get()) is not None:
                yield delta
        finally:
            if worker.is_alive():  # closed early (the client left): stop generate() within a token
                cancel.cancel()
            worker.join()
        if "error" in outcome:
            error = outcome["error"]
            raise error if isinstance(error, SizeLabError) else SizeLabError(
                f"Generation failed ({type(error).__name__}): {error}")
        result = outcome["result"]
        times = result.token_times
        return Completion(prompt_tokens=result.prompt_tokens, completion_tokens=result.new_tokens,
                          finish_reason="stop" if result.stop_reason in ("eos", "stopped") else "length",
                          prompt_seconds=result.time_to_first_token or 0.0,
                          decode_seconds=times[-1] - times[0] if len(times) > 1 else 0.0)

    return backend
