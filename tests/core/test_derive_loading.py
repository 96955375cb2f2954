"""Loading from folders, synthetic configs and the hub cache; variants; bad checkpoints."""

import json
import shutil

import pytest
import torch

from core import derive
from core.catalog import ModelEntry, load_catalog
from core.errors import (DeviceError, ModelSourceError, UnsafeModelError, UnsupportedModelError)
from core.loading import load_model
from core.requests import LoadRequest
from core.variants import Variant


def folder_entry(path, task="classification"):
    return ModelEntry.for_folder(path, task)


def test_folder_classifier_loads_with_counts(bert_dir):
    loaded = load_model(LoadRequest(folder_entry(bert_dir)))
    info = loaded.info
    assert loaded.kind == "sequence-classification" and loaded.labels == ("negative", "positive")
    assert info.params_total == sum(p.numel() for p in loaded.model.parameters())
    assert 0 < info.params_non_embedding < info.params_total
    assert info.weight_bytes >= info.params_total * 4
    assert info.layers == info.layers_full == 2


def test_layer_dropping_int8_and_precision_on_a_folder(bert_dir):
    full = load_model(LoadRequest(folder_entry(bert_dir)))
    small = load_model(LoadRequest(folder_entry(bert_dir), Variant(int8=True, layers=1)))
    half = load_model(LoadRequest(folder_entry(bert_dir), Variant(precision="bf16")))
    assert small.info.layers == 1 and small.info.layers_full == 2
    assert small.model.config.num_hidden_layers == 1
    assert small.info.params_total < full.info.params_total
    assert small.info.weight_bytes < full.info.weight_bytes
    assert any("int8" in step for step in small.info.derivation)
    assert half.info.weight_bytes == pytest.approx(full.info.weight_bytes / 2, rel=0.01)
    assert next(half.model.parameters()).dtype == torch.bfloat16


def test_keep_bottom_layers_on_encoder_decoders(marian_dir, t5_dir):
    for folder in (marian_dir, t5_dir):
        loaded = load_model(LoadRequest(folder_entry(folder, "translation"), Variant(layers=1)))
        stacks = derive.layer_stacks(loaded.model)
        assert len(stacks) == 2 and all(len(s) == 1 for s in stacks.values()), stacks.keys()


def test_too_many_layers_is_refused(bert_dir):
    with pytest.raises(Exception, match="cannot keep 5"):
        load_model(LoadRequest(folder_entry(bert_dir), Variant(layers=5)))


def test_int8_off_cpu_is_refused():
    with pytest.raises(DeviceError):
        load_model(LoadRequest(load_catalog().get("bundled/minilm-l6-sentiment"), Variant(int8=True), device="cuda:0"))


def test_missing_device_is_a_clear_error():
    with pytest.raises(DeviceError, match="not available"):
        load_model(LoadRequest(load_catalog().get("bundled/minilm-l6-sentiment"), device="cuda:7"))


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(ModelSourceError, match="no config.json"):
        load_model(LoadRequest(folder_entry(tmp_path)))
    with pytest.raises(ModelSourceError, match="not a folder"):
        load_model(LoadRequest(folder_entry(tmp_path / "missing")))


def test_remote_code_is_always_refused(bert_dir, tmp_path):
    folder = shutil.copytree(bert_dir, tmp_path / "remote")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.Evil"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_evil.py").write_text("raise SystemExit('this must never run')\n")
    with pytest.raises(UnsafeModelError, match="never runs code"):
        load_model(LoadRequest(folder_entry(folder), allow_pickle=True))


def test_pickle_only_needs_consent_then_loads_weights_only(bert_dir, tmp_path):
    folder = shutil.copytree(bert_dir, tmp_path / "pickled")
    from safetensors.torch import load_file
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(UnsafeModelError, match="pickle"):
        load_model(LoadRequest(folder_entry(folder)))
    loaded = load_model(LoadRequest(folder_entry(folder), allow_pickle=True))
    assert any("weights_only" in w for w in loaded.info.warnings)


def test_truncated_safetensors_is_a_clear_error(bert_dir, tmp_path):
    folder = shutil.copytree(bert_dir, tmp_path / "broken")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelSourceError, match="cannot be read"):
        load_model(LoadRequest(folder_entry(folder)))


def test_missing_tokenizer(bert_dir, tmp_path):
    folder = shutil.copytree(bert_dir, tmp_path / "notok")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        (folder / name).unlink(missing_ok=True)
    with pytest.raises(ModelSourceError, match="tokenizer"):
        load_model(LoadRequest(folder_entry(folder)))


def test_a_tokenizer_that_cannot_encode_is_refused_at_load(bert_dir, tmp_path):
    """Found by the CLI fuzz on a clean clone: an empty vocab.txt loads, then WordPiece raises a bare
    Exception ("Missing [UNK] token") at the first request."""
    folder = shutil.copytree(bert_dir, tmp_path / "emptyvocab")
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.txt").write_bytes(b"")
    with pytest.raises(ModelSourceError, match="tokenizer .* cannot encode text"):
        load_model(LoadRequest(folder_entry(folder)))


def test_architecture_that_cannot_do_the_task(marian_dir, bert_dir):
    with pytest.raises(UnsupportedModelError):
        load_model(LoadRequest(folder_entry(bert_dir, "translation")))
    with pytest.raises(UnsupportedModelError):
        load_model(LoadRequest(folder_entry(marian_dir, "classification")))


def test_hub_id_offline_not_cached_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelSourceError, match="not in the local Hugging Face cache"):
        load_model(LoadRequest(ModelEntry.for_hub("nobody/no-such-model", "classification")))
