"""OpenAI-compatible endpoints, measured from the client side like a local model. No torch, no Qt.

A hosted API, or a team's own vLLM / TGI / llama.cpp / Ollama / LM Studio server, speaks the same
streaming chat/completions protocol (server-sent events). We time each chunk where it arrives: time
to first token (TTFT), the inter-token latency (ITL) between chunks, decode tokens/s and the whole
request, with retries and errors counted, so an endpoint can stand as a row beside local models.

Safety: the API key is read from an environment variable (or the system keyring, if the optional
`keyring` package is installed) at request time; it is never stored in an Endpoint, a report, the
settings or a log. Reports carry the URL's host and the model name only. TLS verification is always
on; plain http is allowed only to loopback and private addresses, with a warning.
"""

import ipaddress
import json
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .cancel import CancelToken
from .errors import Cancelled, InputError, SizeLabError
from .stats import Stats

RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_RETRY_WAIT_S = 30.0  # a Retry-After longer than this is not waited for: the request fails
KEYRING_SERVICE = "model-size-lab"


class EndpointError(SizeLabError):
    """The endpoint could not be reached, refused the request, or broke the stream."""


@dataclass(frozen=True)
class Endpoint:
    """Where to send requests. Holds no secret: the key is looked up by `key_env` when sending."""

    base_url: str  # up to the API root, e.g. https://api.example.com/v1 or http://127.0.0.1:8000/v1
    model: str
    key_env: str = "OPENAI_API_KEY"  # the environment variable that holds the key (may be unset)
    api: str = "chat"  # "chat" (/chat/completions) or "completions" (/completions, raw prompt)
    timeout_s: float = 60.0  # the longest wait for any byte, the first token included
    max_retries: int = 2

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"{self.base_url!r} is not an http(s) URL; write e.g. http://127.0.0.1:8000/v1.")
        if parts.username or parts.password:
            raise InputError("Put the API key in an environment variable, not in the URL.")
        if parts.scheme == "http" and not is_local_host(parts.hostname):
            raise InputError(f"Plain http to {parts.hostname} would send the key and text unencrypted; "
                             "use https (plain http is allowed for loopback and private addresses only).")
        if not self.model.strip():
            raise InputError("Name the endpoint's model (e.g. gpt-4o-mini, or what the server lists).")
        if self.api not in ("chat", "completions"):
            raise InputError(f"Unknown API {self.api!r}; choose chat or completions.")
        if not (0 < self.timeout_s <= 3600) or not (0 <= self.max_retries <= 10):
            raise InputError("The timeout must be 0-3600 s and retries 0-10.")

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    def warnings(self) -> list[str]:
        if urlsplit(self.base_url).scheme == "http":
            return [f"Plain http to {self.host}: text and key travel unencrypted on this network."]
        return []

    def to_dict(self) -> dict:
        """What a report may record: the host and the model, never the full URL or the key."""
        return {"host": self.host, "model": self.model, "api": self.api}

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def is_local_host(host: str) -> bool:
    """Loopback or a private-range address (a team's own server), where plain http is tolerated."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def api_key(endpoint: Endpoint) -> str | None:
    """The key, read now and never kept: the environment first, then the system keyring."""
    key = os.environ.get(endpoint.key_env, "").strip()
    if key:
        return key
    try:
        import keyring  # optional: pip install keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, endpoint.base_url) or None
    except Exception:  # noqa: BLE001 - no keyring backend on this desktop: as if no key were stored
        return None


@dataclass
class StreamResult:
    """One streamed request, timed on the client. Times are seconds from sending the request."""

    text: str
    chunk_times: list[float]  # arrival of each chunk that carried text
    end_to_end: float
    completion_tokens: int
    token_source: str  # "server" (the usage field), "local tokenizer", or "chunks" (one token each)
    prompt_tokens: int | None = None
    finish_reason: str | None = None
    retries: int = 0
    server_timing: dict | None = None  # what the server said of its own timing (llama.cpp's "timings")
    warnings: list[str] = field(default_factory=list)

    @property
    def time_to_first_token(self) -> float | None:
        return self.chunk_times[0] if self.chunk_times else None

    @property
    def inter_token_latencies(self) -> list[float]:
        return [b - a for a, b in zip(self.chunk_times, self.chunk_times[1:])]

    @property
    def decode_tokens_per_second(self) -> float | None:
        """Tokens after the first over the time they took (the definition LLM benchmarks use)."""
        if self.completion_tokens < 2 or len(self.chunk_times) < 2:
            return None
        span = self.chunk_times[-1] - self.chunk_times[0]
        return (self.completion_tokens - 1) / span if span > 0 else None

    def to_dict(self) -> dict:
        itl = self.inter_token_latencies
        return {"text": self.text, "time_to_first_token_s": self.time_to_first_token,
                "inter_token_latency_s": Stats.of(itl).to_dict() if itl else None,
                "decode_tokens_per_s": self.decode_tokens_per_second, "end_to_end_s": self.end_to_end,
                "completion_tokens": self.completion_tokens, "token_count_source": self.token_source,
                "prompt_tokens": self.prompt_tokens, "finish_reason": self.finish_reason,
                "retries": self.retries, "server_timing": self.server_timing, "warnings": self.warnings}


def stream(endpoint: Endpoint, prompt: str, max_tokens: int = 64, temperature: float = 0.0,
           cancel: CancelToken | None = None, count_tokens: Callable[[str], int] | None = None,
           on_text: Callable[[str, str], None] | None = None, client=None) -> StreamResult:
    """Send one streamed request and time it. on_text(delta, text so far) as chunks arrive.

    Retries on 429 and 5xx before the first chunk (waiting the server's Retry-After); raises
    EndpointError on anything else, Cancelled on cancel (the connection is closed at once, so a
    server that supports it stops generating).
    """
    if not prompt.strip():
        raise InputError("The prompt is empty.")
    if max_tokens < 1:
        raise InputError("Max new tokens must be at least 1.")
    cancel = cancel or CancelToken()
    own_client = client is None
    client = client or make_client(endpoint)  # before the clock starts: TLS set-up is not the server's time
    retries = 0
    try:
        while True:
            cancel.check()
            try:
                result = _stream_once(endpoint, prompt, max_tokens, temperature, cancel, on_text, client)
                break
            except _Retryable as exc:
                if retries >= endpoint.max_retries or exc.wait > MAX_RETRY_WAIT_S:
                    raise EndpointError(f"{exc} (after {retries} retr{'y' if retries == 1 else 'ies'}).") from None
                retries += 1
                if cancel.wait(exc.wait):  # a cancel ends the wait at once
                    raise Cancelled() from None
    finally:
        if own_client:
            client.close()
    result.retries = retries
    result.warnings = endpoint.warnings() + result.warnings
    if result.token_source != "server" and count_tokens is not None:
        result.completion_tokens, result.token_source = count_tokens(result.text), "local tokenizer"
    return result


def make_client(endpoint: Endpoint, connections: int = 1):
    """An HTTP client for one endpoint (thread-safe; reuse it: its TLS set-up costs ~0.1 s)."""
    import httpx  # here, not at import: the window's process lists endpoints without it

    return httpx.Client(timeout=httpx.Timeout(endpoint.timeout_s, connect=min(10.0, endpoint.timeout_s)),
                        limits=httpx.Limits(max_connections=max(connections, 1)), verify=True)


class _Retryable(Exception):
    def __init__(self, message: str, wait: float):
        super().__init__(message)
        self.wait = wait


def _retry_wait(headers, attempt_hint: float) -> float:
    value = headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:  # absent, or an HTTP date: back off with jitter instead
        return attempt_hint + random.uniform(0, 0.25)


def _payload(endpoint: Endpoint, prompt: str, max_tokens: int, temperature: float) -> dict:
    body = {"model": endpoint.model, "stream": True, "max_tokens": max_tokens, "temperature": temperature,
            "stream_options": {"include_usage": True}}
    if endpoint.api == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    return body


_END = object()


def _stream_once(endpoint, prompt, max_tokens, temperature, cancel, on_text, client) -> StreamResult:
    """One attempt. The HTTP exchange runs on a helper thread that hands over what arrives, so a
    cancel ends the wait at once, even for a server that sends nothing at all."""
    arrivals: queue.Queue = queue.Queue()
    sockets: list = []  # the connection's socket, so a cancel can cut it
    headers = {"Accept": "text/event-stream"}
    key = api_key(endpoint)
    if key:
        headers["Authorization"] = f"Bearer {key}"

    def exchange() -> None:
        # The clock starts here, on the thread that sends, and every arrival is timed here too: the
        # hand-over to the caller's thread (slow on a busy machine) is not the server's time.
        started = time.perf_counter()
        try:
            path = "/chat/completions" if endpoint.api == "chat" else "/completions"
            with client.stream("POST", endpoint.url(path), json=_payload(endpoint, prompt, max_tokens, temperature),
                             headers=headers) as response:
                stream = response.extensions.get("network_stream")
                if stream is not None:
                    sockets.append(stream.get_extra_info("socket"))
                if response.status_code != 200:
                    response.read()
                    arrivals.put(("status", response.status_code, response.headers, response.text))
                    return
                for line in response.iter_lines():
                    arrivals.put(("line", time.perf_counter() - started, line))
            arrivals.put(("closed",))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which says what it means
            arrivals.put(("error", exc))
        finally:
            arrivals.put(_END)

    worker = threading.Thread(target=exchange, name="endpoint-stream", daemon=True)
    worker.start()
    parser = _ChunkParser(endpoint)
    end_to_end = 0.0
    try:
        while True:
            try:
                item = arrivals.get(timeout=0.05)
            except queue.Empty:
                if cancel.cancelled:
                    raise Cancelled() from None
                continue
            if item is _END:
                break
            kind = item[0]
            if kind == "line":
                end_to_end = item[1]
                delta = parser.feed(item[1], item[2])
                if delta and on_text is not None:
                    on_text(delta, parser.text)
                if parser.done:
                    break
            elif kind == "status":
                _raise_for_status(endpoint, *item[1:])
            elif kind == "error":
                raise _transport_error(endpoint, item[1], parser)
            elif kind == "closed" and not parser.done:
                raise EndpointError(f"The stream from {endpoint.host} was cut after "
                                    f"{len(parser.chunk_times)} chunk(s), before it said it was done.")
            if cancel.cancelled:
                raise Cancelled()
    finally:
        for sock in sockets:  # close the connection now: a cancelled or failed stream stops the server
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    return parser.result(end_to_end)  # the arrival of the stream's last line


def _raise_for_status(endpoint: Endpoint, status: int, headers, body: str) -> None:
    detail = _error_detail(body)
    if status in RETRY_STATUSES:
        raise _Retryable(f"{endpoint.host} answered HTTP {status}{detail}", _retry_wait(headers, 0.5))
    if status in (401, 403):
        where = f"${endpoint.key_env}" if os.environ.get(endpoint.key_env) else f"${endpoint.key_env} (it is not set)"
        raise EndpointError(f"{endpoint.host} refused the API key (HTTP {status}){detail}; check {where}.")
    if status == 404:
        raise EndpointError(f"{endpoint.host} answered HTTP 404{detail}: check the base URL (it usually ends in /v1) "
                            f"and the model name {endpoint.model!r}.")
    raise EndpointError(f"{endpoint.host} answered HTTP {status}{detail}.")


def _error_detail(body: str) -> str:
    try:
        error = json.loads(body).get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = body.strip()
    message = " ".join(str(message or "").split())[:200].rstrip(".")
    return f": {message}" if message else ""


def _transport_error(endpoint: Endpoint, exc: Exception, parser: "_ChunkParser") -> Exception:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        waited = "the first token" if not parser.chunk_times else "the next token"
        return EndpointError(f"{endpoint.host} sent nothing for {endpoint.timeout_s:g} s while we waited for {waited}.")
    if isinstance(exc, httpx.ConnectError):
        return EndpointError(f"Cannot connect to {endpoint.host}: {exc}.")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return EndpointError(f"The stream from {endpoint.host} was cut after {len(parser.chunk_times)} chunk(s): {exc}.")
    if isinstance(exc, httpx.HTTPError):
        return EndpointError(f"Request to {endpoint.host} failed: {exc}.")
    return exc


class _ChunkParser:
    """Reads the server-sent events of a streamed completion, one line at a time."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self.text = ""
        self.chunk_times: list[float] = []
        self.done = False
        self.finish_reason: str | None = None
        self.usage: dict | None = None
        self.timings: dict | None = None

    def feed(self, arrived: float, line: str) -> str:
        line = line.strip()
        if not line.startswith("data:"):  # blank separators, ": keep-alive" comments, event: lines
            return ""
        data = line[5:].strip()
        if data == "[DONE]":
            self.done = True
            return ""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise EndpointError(f"{self._endpoint.host} sent a chunk that is not JSON after "
                                f"{len(self.chunk_times)} chunk(s): {data[:80]!r}.") from None
        if not isinstance(chunk, dict):
            raise EndpointError(f"{self._endpoint.host} sent a chunk that is not a JSON object: {data[:80]!r}.")
        if "error" in chunk:
            raise EndpointError(f"{self._endpoint.host} reported an error mid-stream{_error_detail(data)}.")
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        if isinstance(chunk.get("timings"), dict):
            self.timings = chunk["timings"]
        delta = ""
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            piece = (choice.get("delta") or {}).get("content") if "delta" in choice else choice.get("text")
            if isinstance(piece, str):
                delta += piece
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        if delta:
            self.chunk_times.append(arrived)
            self.text += delta
        return delta

    def result(self, end_to_end: float) -> StreamResult:
        usage = self.usage or {}
        server_count = usage.get("completion_tokens")
        if isinstance(server_count, int) and server_count >= 0:
            tokens, source = server_count, "server"
        else:
            tokens, source = len(self.chunk_times), "chunks"
        warnings = []
        if source == "server" and self.chunk_times and tokens > len(self.chunk_times) * 1.5:
            warnings.append(f"The server sent {tokens} tokens in {len(self.chunk_times)} chunks: inter-token "
                            "latency is per chunk, not per token.")
        prompt = usage.get("prompt_tokens")
        return StreamResult(text=self.text, chunk_times=self.chunk_times, end_to_end=end_to_end,
                            completion_tokens=tokens, token_source=source,
                            prompt_tokens=prompt if isinstance(prompt, int) else None,
                            finish_reason=self.finish_reason, server_timing=self.timings, warnings=warnings)


# ------------------------------------------------------------------ an endpoint as a model of the engine


def endpoint_of(entry) -> Endpoint:
    """The Endpoint of a catalog entry made by ModelEntry.for_endpoint."""
    return Endpoint(base_url=entry.ref, model=entry.extra.get("model", ""),
                    key_env=entry.extra.get("key_env", "OPENAI_API_KEY"), api=entry.extra.get("api", "chat"))


def connect(endpoint: Endpoint, cancel: CancelToken | None = None) -> list[str]:
    """Check the server answers and knows the model (GET /models), before any measured request.
    Returns warnings; raises EndpointError for what would make every request fail."""
    import httpx

    cancel = cancel or CancelToken()
    headers = {"Authorization": f"Bearer {key}"} if (key := api_key(endpoint)) else {}
    outcome: dict = {}

    def ask() -> None:
        try:
            with make_client(endpoint) as client:
                outcome["response"] = client.get(endpoint.url("/models"), headers=headers,
                                                 timeout=min(endpoint.timeout_s, 15.0))
        except Exception as exc:  # noqa: BLE001 - said below in one line
            outcome["error"] = exc

    worker = threading.Thread(target=ask, name="endpoint-connect", daemon=True)
    worker.start()
    while worker.is_alive():  # a cancel does not wait for a server that does not answer
        worker.join(0.05)
        cancel.check()
    if "error" in outcome:
        raise _transport_error(endpoint, outcome["error"], _ChunkParser(endpoint))
    response: httpx.Response = outcome["response"]
    warnings = endpoint.warnings()
    if response.status_code in (401, 403):
        _raise_for_status(endpoint, response.status_code, response.headers, response.text)
    if response.status_code != 200:
        return warnings + [f"{endpoint.host} does not list its models (HTTP {response.status_code}); "
                           "requests will tell whether it knows this one."]
    try:
        names = [m.get("id") for m in response.json().get("data", []) if isinstance(m, dict)]
    except (ValueError, AttributeError):
        names = []
    if names and endpoint.model not in names:
        raise EndpointError(f"{endpoint.host} does not serve {endpoint.model!r}; it lists "
                            f"{', '.join(map(str, names[:8]))}{'…' if len(names) > 8 else ''}.")
    return warnings


def generation_fields(result: StreamResult, max_tokens: int) -> dict:
    """A streamed request in the shape of core.generation.GenerationResult.to_dict(), so the window,
    history and exports read remote and local generations alike. No KV cache is seen from here."""
    itl = result.inter_token_latencies
    stop = ("eos" if result.finish_reason == "stop" else
            "max_new_tokens" if result.finish_reason == "length" or result.completion_tokens >= max_tokens else "eos")
    return {"text": result.text, "prompt_tokens": result.prompt_tokens, "new_tokens": result.completion_tokens,
            "stop_reason": stop, "time_to_first_token": result.time_to_first_token, "token_times": result.chunk_times,
            "inter_token": Stats.of(itl).to_dict() if itl else None,
            "decode_tokens_per_second": result.decode_tokens_per_second, "end_to_end": result.end_to_end,
            "kv_cache_bytes": None, "token_count_source": result.token_source, "retries": result.retries,
            "server_timing": result.server_timing, "remote": True}


# ------------------------------------------------------------------ concurrency as a lever


@dataclass(frozen=True)
class LevelResult:
    """N requests in flight at once, `requests` in all: what the server's scaling buys."""

    concurrency: int
    requests: int
    errors: int
    wall_s: float
    results: tuple[StreamResult, ...]
    error_messages: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        ok = self.results
        ttft = [r.time_to_first_token for r in ok if r.time_to_first_token is not None]
        itl = [x for r in ok for x in r.inter_token_latencies]
        tokens = sum(r.completion_tokens for r in ok)
        return {"concurrency": self.concurrency, "requests": self.requests, "errors": self.errors,
                "retries": sum(r.retries for r in ok), "wall_s": self.wall_s,
                "requests_per_s": len(ok) / self.wall_s if self.wall_s > 0 else None,
                "output_tokens_per_s": tokens / self.wall_s if self.wall_s > 0 else None,
                "time_to_first_token_s": Stats.of(ttft).to_dict() if ttft else None,
                "inter_token_latency_s": Stats.of(itl).to_dict() if itl else None,
                "end_to_end_s": Stats.of([r.end_to_end for r in ok]).to_dict() if ok else None,
                "token_count_source": sorted({r.token_source for r in ok}),
                "error_messages": list(dict.fromkeys(self.error_messages))[:5]}


def measure_concurrency(endpoint: Endpoint, prompts: list[str], levels: tuple[int, ...] = (1, 2, 4),
                        requests_per_level: int = 8, max_tokens: int = 64, cancel: CancelToken | None = None,
                        count_tokens: Callable[[str], int] | None = None) -> Iterator[LevelResult]:
    """For each level N: `requests_per_level` requests, N in flight at a time. Yields one result a level."""
    if not prompts:
        raise InputError("Give at least one prompt.")
    if not levels or any(n < 1 or n > 256 for n in levels) or requests_per_level < 1:
        raise InputError("Concurrency levels must be 1-256 and requests per level at least 1.")
    cancel = cancel or CancelToken()
    for level in levels:
        jobs: queue.Queue = queue.Queue()
        for i in range(requests_per_level):
            jobs.put(prompts[i % len(prompts)])
        done: list[StreamResult] = []
        failures: list[str] = []
        lock = threading.Lock()
        client = make_client(endpoint, connections=level)

        def worker() -> None:
            while not cancel.cancelled:
                try:
                    prompt = jobs.get_nowait()
                except queue.Empty:
                    return
                try:
                    result = stream(endpoint, prompt, max_tokens, cancel=cancel, count_tokens=count_tokens,
                                    client=client)
                except Cancelled:
                    return
                except SizeLabError as exc:
                    with lock:
                        failures.append(str(exc))
                    continue
                with lock:
                    done.append(result)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, name=f"endpoint-{level}-{i}", daemon=True)
                   for i in range(min(level, requests_per_level))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
        cancel.check()
        yield LevelResult(concurrency=level, requests=requests_per_level, errors=len(failures),
                          wall_s=time.perf_counter() - started, results=tuple(done),
                          error_messages=tuple(failures))
