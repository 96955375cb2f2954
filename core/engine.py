"""The engine: owns one loaded model and turns requests into plain records.

It is what the engine process runs (core/engine_process.py; a fake replaces it in GUI tests). Its
records (core/records.py) hold only numbers and strings, never tensors: they cross to the window's
process and are kept in history.
"""

import time
from collections.abc import Callable, Iterator

from . import tasks
from .cancel import CancelToken, Progress, no_progress
from .errors import InputError
from .loading import LoadedModel, load_model, preflight, release_memory
from .measure import cuda_memory, rss_bytes
from .records import ModelKind, ModelSummary, RunRecord, TokenEvent
from .requests import LoadRequest, RunRequest


class Engine:
    """Holds at most one model. Not thread-safe: one thread drives it."""

    def __init__(self) -> None:
        self.loaded: LoadedModel | None = None
        self.remote = None  # an OpenAI-compatible endpoint (core.endpoint.Endpoint) instead of a model
        self.summary: ModelSummary | None = None  # of what is loaded now

    def devices(self) -> list:
        from .devices import list_devices
        return list_devices()

    def load(self, request: LoadRequest, cancel: CancelToken, progress: Progress = no_progress) -> ModelSummary:
        """Load a model in place of the current one.

        A load that fails or is cancelled in its checks (core.loading.preflight; for an endpoint, the
        server's answer) keeps the current model: `summary` still describes it. Past them, the current
        model is unloaded first (one model in memory, and the new one's memory figures are its own).
        """
        if request.entry.source == "endpoint":
            return self._connect(request, cancel, progress)
        preflight(request, cancel, progress)
        self.unload()
        loaded = load_model(request, cancel, progress)
        self.loaded = loaded
        self.summary = ModelSummary(
            model_id=loaded.entry.id, name=loaded.entry.name, task=loaded.entry.task,
            source=loaded.entry.source, kind=loaded.kind,
            variant_label=request.variant.label(loaded.info.layers_full), device=request.device,
            labels=loaded.labels, synthetic=loaded.entry.synthetic, license=loaded.entry.license,
            info=loaded.info.to_dict())
        return self.summary

    def _connect(self, request: LoadRequest, cancel: CancelToken, progress: Progress) -> ModelSummary:
        """An endpoint is "loaded" once its server answers and knows the model; nothing is held here."""
        from .endpoint import connect, endpoint_of

        endpoint = endpoint_of(request.entry)
        progress(None, f"Asking {endpoint.host} for {endpoint.model}")
        started = time.perf_counter()
        warnings = connect(endpoint, cancel)
        self.unload()
        self.remote = endpoint
        entry = request.entry
        self.summary = ModelSummary(
            model_id=entry.id, name=entry.name, task=entry.task, source=entry.source, kind="endpoint",
            variant_label="remote", device=endpoint.host, labels=(), synthetic=False, license="",
            info={"remote": endpoint.to_dict(), "key_env": endpoint.key_env, "warnings": warnings,
                  "load_seconds": time.perf_counter() - started, "rss_before_load": rss_bytes(), "weight_bytes": 0})
        return self.summary

    def unload(self) -> None:
        self.remote = None
        self.summary = None
        if self.loaded is not None:
            self.loaded.release()
            self.loaded = None
        release_memory()

    def run(self, request: RunRequest, cancel: CancelToken,
            on_text: Callable[[str, str, int], None] | None = None,
            on_token: Callable[[TokenEvent], None] | None = None) -> RunRecord:
        if self.remote is not None:
            return self._stream_remote(request, cancel, on_token)
        loaded = self.loaded
        if loaded is None:
            raise InputError("Load a model first.")
        cancel.check()
        common = dict(model_name=loaded.entry.name,
                      variant_label=loaded.request.variant.label(loaded.info.layers_full),
                      device=loaded.request.device, task=loaded.entry.task,
                      input_chars=sum(len(t) for t in request.texts))
        if loaded.kind == ModelKind.CAUSAL_LM:
            return self._generate(loaded, request, cancel, common, on_token)
        if loaded.kind == ModelKind.SEQ2SEQ:
            result = tasks.translate(loaded, request.texts[0], request.max_new_tokens, request.num_beams,
                                     on_text=on_text, cancel=cancel)
            record = RunRecord(**common, input_tokens=result.input_tokens, latency=result.latency,
                               phases=result.phases, summary=result.text, translation=result.text,
                               time_to_first_token=result.time_to_first_token,
                               tokens_per_second=result.tokens_per_second, warnings=result.warnings)
        else:
            result = tasks.classify(loaded, list(request.texts))
            record = RunRecord(**common, input_tokens=sum(result.tokens), latency=result.latency,
                               phases=result.phases, summary=result.predictions[0].describe(),
                               scores=result.predictions[0].scores, warnings=result.warnings,
                               uncertain=result.predictions[0].uncertain)
        record.rss = rss_bytes()
        record.cuda = cuda_memory(loaded.device)
        record.finished_at = time.monotonic()
        return record

    def _generate(self, loaded: LoadedModel, request: RunRequest, cancel: CancelToken, common: dict,
                  on_token: Callable[[TokenEvent], None] | None) -> RunRecord:
        """Text generation: Stop (cancel) ends it within one token and keeps what was generated."""
        from . import generation
        from .requests import GenerationSettings

        settings = request.generation or GenerationSettings(max_new_tokens=request.max_new_tokens)
        result = generation.generate(loaded, request.texts[0], settings, on_token=on_token, cancel=cancel)
        record = RunRecord(**common, input_tokens=result.prompt_tokens, latency=result.end_to_end,
                           phases=result.phases, summary=result.text, translation=result.text,
                           time_to_first_token=result.time_to_first_token,
                           tokens_per_second=result.decode_tokens_per_second, warnings=result.warnings,
                           generation=result.to_dict())
        record.rss = rss_bytes()
        record.cuda = cuda_memory(loaded.device)
        record.finished_at = time.monotonic()
        return record

    def _stream_remote(self, request: RunRequest, cancel: CancelToken,
                       on_token: Callable[[TokenEvent], None] | None) -> RunRecord:
        """A request to the endpoint, streamed: each chunk is a token event as it arrives; Stop closes
        the stream (the server stops), and what arrived is kept."""
        from .endpoint import generation_fields, stream
        from .errors import Cancelled
        from .requests import GenerationSettings

        endpoint = self.remote
        settings = request.generation or GenerationSettings(max_new_tokens=request.max_new_tokens)
        arrived: list[float] = []  # kept for a stopped stream, whose result the client never returns
        partial = {"text": ""}

        def on_text(delta: str, text: str) -> None:
            arrived.append(time.perf_counter() - started)
            partial["text"] = text
            if on_token is not None:
                on_token(TokenEvent(len(arrived), arrived[-1], delta, text, 0))

        started = time.perf_counter()
        try:
            result = stream(endpoint, request.texts[0], max_tokens=settings.max_new_tokens,
                            temperature=settings.temperature if settings.do_sample else 0.0,
                            cancel=cancel, on_text=on_text)
        except Cancelled:
            if not arrived:
                raise
            from .endpoint import StreamResult  # stopped mid-stream: keep what arrived, as a local model does
            result = StreamResult(text=partial["text"], chunk_times=arrived, end_to_end=time.perf_counter() - started,
                                  completion_tokens=len(arrived), token_source="chunks", finish_reason="stopped")
        fields = generation_fields(result, settings.max_new_tokens)
        if result.finish_reason == "stopped":
            fields["stop_reason"] = "stopped"
        record = RunRecord(model_name=f"{endpoint.model} @ {endpoint.host}", variant_label="remote",
                           device=endpoint.host, task="generation", input_chars=len(request.texts[0]),
                           input_tokens=result.prompt_tokens or 0, latency=result.end_to_end,
                           phases={"request": result.end_to_end}, summary=result.text, translation=result.text,
                           time_to_first_token=result.time_to_first_token,
                           tokens_per_second=result.decode_tokens_per_second, warnings=result.warnings,
                           generation=fields)
        record.rss = rss_bytes()
        record.finished_at = time.monotonic()
        return record

    def run_continuously(self, request: RunRequest, cancel: CancelToken) -> Iterator[RunRecord]:
        """The same request again and again until cancelled (for live plots)."""
        while not cancel.cancelled:
            yield self.run(request, cancel)
