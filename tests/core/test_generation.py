"""Text generation with causal LMs: small real checkpoints of each family, built here."""

import json
import math
from dataclasses import replace

import pytest
import torch

from core import derive, generation, quality
from core.cancel import CancelToken
from core.catalog import ModelEntry, load_catalog
from core.cli import main
from core.errors import DeviceError, InputError
from core.loading import load_model
from core.requests import GenerationSettings, LoadRequest
from core.variants import Variant
from tests.builders import CAUSAL_TYPES, causal_lm_folder

PROMPT = "the cat sat on the mat"
FORCED = GenerationSettings(max_new_tokens=6, min_new_tokens=6)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("causal")
    return {t: causal_lm_folder(root, t) for t in CAUSAL_TYPES}


def _load(folder, variant=Variant()):
    return load_model(LoadRequest(ModelEntry.for_folder(folder, "generation"), variant))


def _greedy_ids(loaded, n=8) -> list[int]:
    ids = generation.encode_prompt(loaded, PROMPT)
    with torch.inference_mode():
        out = loaded.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                                    min_new_tokens=n, do_sample=False, pad_token_id=0)
    return out[0, ids.shape[1]:].tolist()


def test_per_channel_int8_rounds_each_output_channel_on_its_own_scale(folders):
    """Rows of very different size: one scale for the tensor rounds the small rows to a few levels."""
    import copy

    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 32)
    with torch.no_grad():
        linear.weight.mul_(torch.logspace(-3, 0, 32).unsqueeze(1))  # row scales from 0.001 to 1
    x = torch.randn(16, 64)
    exact = linear(x)
    errors, small_rows = {}, {}
    for per_channel in (False, True):
        quantized = derive.quantize_int8(torch.nn.Sequential(copy.deepcopy(linear)), per_channel=per_channel)
        weight = quantized[0].weight()
        assert weight.qscheme() == (torch.per_channel_affine if per_channel else torch.per_tensor_affine)
        row_error = (weight.dequantize() - linear.weight).norm(dim=1) / linear.weight.norm(dim=1)
        small_rows[per_channel] = row_error[:8].mean().item()  # the 8 rows of the smallest weights
        errors[per_channel] = (quantized(x) - exact).abs().mean().item()
    assert small_rows[True] < small_rows[False] / 10, small_rows
    assert errors[True] < errors[False], errors  # the activations' own rounding is the same in both
    loaded = _load(folders["llama"], Variant(int8=True, per_channel=True))
    assert "quantized per channel" in loaded.info.derivation[-1]
    assert generation.generate(loaded, PROMPT, FORCED).new_tokens == 6


@pytest.mark.parametrize("model_type", CAUSAL_TYPES)
def test_each_family_generates_with_per_token_times_and_exact_kv_bytes(folders, model_type):
    loaded = _load(folders[model_type])
    assert loaded.kind == "causal-lm"
    events = []
    result = generation.generate(loaded, PROMPT, FORCED, on_token=events.append)
    assert result.new_tokens == 6 and len(result.token_times) == 6 and [e.index for e in events] == list(range(1, 7))
    assert result.stop_reason == "max_new_tokens"
    assert 0 < result.time_to_first_token == result.token_times[0]
    assert result.token_times == sorted(result.token_times) and result.inter_token["n"] == 5
    assert result.decode_tokens_per_second == pytest.approx(5 / (result.token_times[-1] - result.token_times[0]))
    # streamed text holds back an incomplete UTF-8 tail (random weights emit stray bytes); the result has all
    assert result.text.startswith(events[-1].text)
    config = loaded.model.config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = config.hidden_size // heads
    # the cache holds the prompt and every new token but the last (it was never fed back)
    tokens = result.prompt_tokens + result.new_tokens - 1
    assert result.kv_cache_bytes == 2 * config.num_hidden_layers * kv_heads * head_dim * tokens * 4
    per_token = 2 * config.num_hidden_layers * kv_heads * head_dim * 4
    assert result.kv_bytes_per_token == per_token
    # at token i the cache holds the prompt and tokens 1..i-1: the live KV line grows one token a step
    assert [e.kv_cache_bytes for e in events] == [per_token * (result.prompt_tokens + e.index - 1) for e in events]


def test_incremental_text_streams_exactly_the_full_decode(folders):
    loaded = _load(folders["gpt2"])
    text = "the cat sat on a mat, héllo wörld ✓ smaller models"
    ids = loaded.tokenizer(text)["input_ids"]
    stream = generation.IncrementalText(loaded.tokenizer)
    deltas = [stream.add(ids[:n]) for n in range(1, len(ids) + 1)]
    assert "".join(deltas) == stream.text == text
    assert "" in deltas  # a multi-byte symbol split over tokens waited for its last byte


def test_kv_bytes_follow_precision(folders):
    fp32 = generation.generate(_load(folders["qwen2"]), PROMPT, FORCED)
    bf16 = generation.generate(_load(folders["qwen2"], Variant(precision="bf16")), PROMPT, FORCED)
    assert bf16.kv_cache_bytes * 2 == fp32.kv_cache_bytes and bf16.kv_bytes_per_token * 2 == fp32.kv_bytes_per_token


def test_stop_ends_generation_within_one_token(folders):
    loaded = _load(folders["gpt2"])
    cancel = CancelToken()

    def on_token(event):
        if event.index == 3:
            cancel.cancel()  # what the window's Stop does, from the token callback's thread

    result = generation.generate(loaded, PROMPT, GenerationSettings(max_new_tokens=50, min_new_tokens=50),
                                 on_token=on_token, cancel=cancel)
    # generate() checks its stopping criteria before it hands the token to the streamer (transformers
    # 5.x), so a Stop seen at token 3 ends the loop after token 4: within one token, and not later
    assert result.new_tokens in (3, 4) and result.stop_reason == "stopped"
    cancel = CancelToken()
    cancel.cancel()
    result = generation.generate(loaded, PROMPT, GenerationSettings(max_new_tokens=50), cancel=cancel)
    assert result.new_tokens == 1 and result.stop_reason == "stopped"  # the prefill's token, then nothing


def test_stop_reason_eos_and_context(folders):
    loaded = _load(folders["llama"])
    first = _greedy_ids(loaded, 1)[0]
    loaded.model.generation_config.eos_token_id = first  # the greedy first token now ends the text
    result = generation.generate(loaded, PROMPT, GenerationSettings(max_new_tokens=10))
    assert (result.new_tokens, result.stop_reason) == (1, "eos")
    loaded.model.generation_config.eos_token_id = None
    long_prompt = " ".join(["the cat"] * 200)
    with pytest.raises(InputError, match="attends to 128"):
        generation.generate(loaded, long_prompt, GenerationSettings(max_new_tokens=10))
    ids = generation.encode_prompt(loaded, PROMPT)
    prompt = torch.cat([ids] * (120 // ids.shape[1]), dim=1)
    result = generation.generate(loaded, prompt_ids=prompt, settings=GenerationSettings(max_new_tokens=100, min_new_tokens=100))
    assert result.stop_reason == "context" and prompt.shape[1] + result.new_tokens == 128


def test_sampling_is_reproducible_with_a_seed(folders):
    loaded = _load(folders["gpt_neox"])
    settings = GenerationSettings(max_new_tokens=12, min_new_tokens=12, do_sample=True, temperature=1.5, top_p=0.9, seed=7)
    a = generation.generate(loaded, PROMPT, settings)
    b = generation.generate(loaded, PROMPT, settings)
    assert a.text == b.text and a.settings["seed"] == 7
    with pytest.raises(InputError):
        GenerationSettings(temperature=0)


def test_conv1d_to_linear_is_an_exact_transform(folders):
    from transformers import AutoModelForCausalLM
    from transformers.pytorch_utils import Conv1D

    model = AutoModelForCausalLM.from_pretrained(folders["gpt2"]).eval()
    ids = torch.tensor([[5, 17, 42, 9, 100, 3]])
    with torch.inference_mode():
        before = model(ids).logits
    converted = derive.conv1d_to_linear(model)
    assert converted == 4 * model.config.n_layer  # c_attn, c_proj, c_fc, mlp c_proj per block
    assert not any(isinstance(m, Conv1D) for m in model.modules())
    with torch.inference_mode():
        after = model(ids).logits
    assert torch.equal(before, after)


def test_int8_quantizes_every_gpt2_block_not_only_lm_head(folders):
    from torch.ao.quantization import quantize_dynamic
    from transformers import AutoModelForCausalLM

    layers = 4
    plain = quantize_dynamic(AutoModelForCausalLM.from_pretrained(folders["gpt2"]), {torch.nn.Linear}, dtype=torch.qint8)
    assert "1 Linear layers quantized per tensor (including lm_head" in derive.int8_report(plain)  # what torch.ao does alone
    loaded = _load(folders["gpt2"], Variant(int8=True))
    report = loaded.info.derivation[-1]
    assert f"{4 * layers + 1} Linear layers quantized per tensor (including lm_head" in report and "left in float" not in report
    fp32 = generation.generate(_load(folders["gpt2"]), PROMPT, FORCED)
    int8 = generation.generate(loaded, PROMPT, FORCED)
    assert int8.new_tokens == fp32.new_tokens == 6


@pytest.mark.parametrize("model_type", CAUSAL_TYPES)
@pytest.mark.parametrize("keep_last", [False, True])
def test_layer_drop_saves_reloads_and_generates_the_same_tokens(folders, tmp_path, model_type, keep_last):
    from transformers import AutoModelForCausalLM

    full = AutoModelForCausalLM.from_pretrained(folders[model_type])
    stack_name = derive.CAUSAL_STACKS[model_type]
    last_block = full.get_submodule(stack_name)[-1].state_dict()
    loaded = _load(folders[model_type], Variant(layers=3, keep_last=keep_last))
    assert loaded.info.layers == 3 and loaded.info.layers_full == 4
    assert loaded.model.config.num_hidden_layers == 3
    kept_last = loaded.model.get_submodule(stack_name)[-1].state_dict()
    assert all(torch.equal(kept_last[k], last_block[k]) for k in last_block) == keep_last
    if model_type == "qwen2":
        assert len(loaded.model.config.layer_types) == 3
    tokens = _greedy_ids(loaded)
    generation.generate(loaded, PROMPT, FORCED)  # the app's path runs too (cache slots renumbered)
    loaded.model.save_pretrained(tmp_path / "small")
    loaded.tokenizer.save_pretrained(tmp_path / "small")
    reloaded = _load(tmp_path / "small")
    assert reloaded.info.layers_full == 3
    assert _greedy_ids(reloaded) == tokens


def test_keep_last_is_refused_without_room():
    with pytest.raises(InputError):
        Variant(layers=1, keep_last=True)
    assert Variant.parse("L6,keep-last") == Variant(layers=6, keep_last=True)
    assert Variant(layers=6, keep_last=True).label(12) == "fp32 L6/12+last"
    assert Variant.from_dict(Variant(layers=6, keep_last=True).to_dict()).keep_last
    assert "keep_last" not in Variant(layers=6).to_dict()  # saved runs of other tasks are unchanged


def test_perplexity_matches_the_model_loss_and_slides(folders):
    loaded = _load(folders["llama"])
    text = "the cat sat on a mat and the train leaves at seven in the morning " * 3
    ids = loaded.tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        loss = loaded.model(input_ids=ids, labels=ids).loss.item()
    one_window = list(generation.perplexity(loaded, window=128, stride=128, text=text))[-1]
    assert one_window.tokens == ids.shape[1] - 1
    assert one_window.value == pytest.approx(math.exp(loss), rel=1e-5)
    strided = list(generation.perplexity(loaded, window=16, stride=8, text=text))
    assert strided[-1].tokens == ids.shape[1] - 1 and strided[-1].value != one_window.value
    assert all(0 < f <= 1 for f, _ in strided[:-1])


def test_quality_is_perplexity_for_real_models_and_na_for_synthetic(folders, monkeypatch):
    monkeypatch.setattr(generation, "PERPLEXITY_TEXT", folders["gpt2"] / "short.txt")
    (folders["gpt2"] / "short.txt").write_text("the cat sat on a mat " * 10)
    scored = list(quality.evaluate(_load(folders["gpt2"])))[-1]
    assert scored.metric == "perplexity" and scored.value > 1
    synthetic = load_model(LoadRequest(load_catalog().get("synthetic/pythia-70m"), Variant(layers=1)))
    assert list(quality.evaluate(synthetic))[-1].value is None


def test_the_shipped_perplexity_text_is_a_few_thousand_tokens():
    # the real GPT-2 tokenizer is not offline here; at about 1.3 tokens a word, words stand in
    assert 2000 < len(generation.PERPLEXITY_TEXT.read_text(encoding="utf-8").split()) < 4000


def test_memory_estimate_from_the_config_and_refusal():
    from transformers import AutoConfig

    data = json.loads((generation.paths.CONFIGS / "smollm2-135m.json").read_text())
    config = AutoConfig.for_model(data.pop("model_type"), **data)
    fp32 = generation.estimate_memory(config, Variant(), context=1000)
    assert fp32.params == 134_515_008 and fp32.weight_bytes == fp32.params * 4
    assert fp32.kv_bytes == 2 * 30 * 3 * 64 * 1000 * 4
    bf16 = generation.estimate_memory(config, Variant(precision="bf16"), context=1000)
    assert bf16.weight_bytes * 2 == fp32.weight_bytes and bf16.kv_bytes * 2 == fp32.kv_bytes
    int8 = generation.estimate_memory(config, Variant(int8=True), context=1000)
    assert int8.weight_bytes < fp32.weight_bytes and int8.load_peak_bytes == fp32.weight_bytes
    with pytest.raises(DeviceError, match="will not fit"):
        generation.check_memory(replace(fp32, available_bytes=fp32.needed_bytes - 1))
    assert "tight" in generation.check_memory(replace(fp32, available_bytes=int(fp32.needed_bytes * 1.1)))[0]
    assert generation.check_memory(replace(fp32, available_bytes=fp32.needed_bytes * 10)) == []


@pytest.mark.slow  # Qwen2.5's 151,936 x 896 embedding is built with random weights
def test_synthetic_causal_lm_loads_with_half_the_layers_and_says_so():
    loaded = load_model(LoadRequest(load_catalog().get("synthetic/qwen2.5-0.5b"), Variant(layers=2, keep_last=True)))
    assert loaded.info.layers == 2 and loaded.info.layers_full == 24
    assert len(loaded.model.config.layer_types) == 2
    assert any("random weights" in w for w in loaded.info.warnings)
    result = generation.generate(loaded, "hello", GenerationSettings(max_new_tokens=3, min_new_tokens=3))
    assert result.new_tokens == 3 and result.kv_bytes_per_token == 2 * 2 * 2 * 64 * 4


def test_cli_run_and_bench_generation(folders, tmp_path, capsys):
    folder = str(folders["gpt2"])
    assert main(["run", "--task", "generation", "--folder", folder, "--text", PROMPT, "--max-new-tokens", "5",
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    for key in ("text", "new_tokens", "time_to_first_token", "inter_token", "decode_tokens_per_second",
                "kv_cache_bytes", "stop_reason", "stop_reason_text", "token_times", "rss_peak", "variant"):
        assert key in record
    assert record["prompt"] == PROMPT and 1 <= record["new_tokens"] <= 5
    out = tmp_path / "bench.json"
    assert main(["bench", "--task", "generation", "--folder", folder, "--seq-len", "16", "--new-tokens", "4",
                 "--min-iterations", "2", "--warmup", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())["generation"]
    assert report["prompt_tokens"] == 16 and report["new_tokens"] == 4 and report["iterations"] == 2
    assert report["inter_token"]["n"] == 2 * 3
    assert "TTFT p50" in capsys.readouterr().out
    assert main(["run", "--task", "generation", "--folder", folder, "--text", PROMPT, "--temperature", "0"]) == 2


@pytest.mark.slow  # a whole compare run: peak, warm-up, two rows, sweep, perplexity
def test_compare_a_causal_lm_ladder_with_a_prompt_length_sweep(folders, monkeypatch):
    from core.compare import run_compare
    from core.compare_data import CompareRequest, RunCollector, Sweep, frontier, table, table_csv, text_table
    from core.catalog import LadderMember
    from core.requests import Protocol

    monkeypatch.setattr(generation, "PERPLEXITY_TEXT", folders["qwen2"] / "short.txt")
    (folders["qwen2"] / "short.txt").write_text("the cat sat on a mat and the train leaves at seven " * 6)
    entry = ModelEntry.for_folder(folders["qwen2"], "generation")
    request = CompareRequest(
        members=(LadderMember(entry, Variant()), LadderMember(entry, Variant(layers=2))),
        protocol=Protocol(seq_len=8, new_tokens=4, warmup=1, min_iterations=2, min_seconds=0),
        sweep=Sweep("seq_len", (8, 32)), peak_size=64)
    collector = RunCollector()
    for record in run_compare(request):
        collector.add(record)
    run = collector.run
    assert [r["status"] for r in run["rows"]] == ["done", "done"]
    full, half = run["rows"]
    assert full["quality"]["metric"] == "perplexity" and full["quality"]["value"] > 1
    per_token = full["generation"]["kv_cache_bytes"] // (8 + 4 - 1)
    assert [p["kv_cache_bytes"] for p in full["sweep"]] == [per_token * (8 + 3), per_token * (32 + 3)]
    assert half["generation"]["kv_cache_bytes"] * 2 == full["generation"]["kv_cache_bytes"]
    rows = table(run)
    assert rows[0]["decode_tokens_per_s"] > 0 and rows[0]["ttft_s"] > 0
    # lower perplexity is better: the row with the lowest perplexity is on the frontier whatever its latency
    best = min(rows, key=lambda r: r["quality"])
    assert best["index"] in frontier(rows)
    assert "decode_tokens_per_s" in table_csv(run).splitlines()[0]
    assert "ppl " in text_table(run) and "KV cache" in text_table(run)


def test_the_engine_runs_a_generation_and_keeps_it_on_stop(folders):
    import pickle

    from core.engine import Engine
    from core.requests import RunRequest

    engine = Engine()
    engine.load(LoadRequest(ModelEntry.for_folder(folders["gpt_neox"], "generation")), CancelToken())
    cancel = CancelToken()
    events = []

    def on_token(event):
        events.append(pickle.loads(pickle.dumps(event)))  # it crosses the pipe to the window's process
        if event.index == 2:
            cancel.cancel()

    record = engine.run(RunRequest(texts=(PROMPT,), generation=GenerationSettings(max_new_tokens=40, min_new_tokens=40)),
                        cancel, on_token=on_token)
    assert record.task == "generation" and record.generation["stop_reason"] == "stopped"
    assert record.generation["new_tokens"] == len(events) <= 3
    assert record.time_to_first_token == record.generation["time_to_first_token"] > 0
    assert record.summary == record.generation["text"]
    engine.unload()
