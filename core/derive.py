"""Deriving smaller variants from a real model: keep the bottom layers, cast, quantize to int8.

Also counts what a variant is: parameters (total and non-embedding) and weight bytes.
"""

import warnings

import torch
from torch import nn

from .errors import InputError

LAYER_LIST_NAMES = ("layer", "layers", "block")  # BERT/DistilBERT, Marian, T5
LAYER_CONFIG_KEYS = ("num_hidden_layers", "n_layers", "num_layers", "encoder_layers",
                     "decoder_layers", "num_decoder_layers")
# Causal LMs: the one block list of each family, by config model_type (GPT-2's "h" is no generic name).
CAUSAL_STACKS = {"gpt2": "transformer.h", "gpt_neox": "gpt_neox.layers", "llama": "model.layers",
                 "qwen2": "model.layers"}


def layer_stacks(model: nn.Module) -> dict[str, nn.ModuleList]:
    """The repeated-block lists of a model (one for an encoder, two for encoder-decoder).

    A list nested inside a chosen one (T5Block.layer holds a block's sub-layers) is not a stack.
    """
    family = CAUSAL_STACKS.get(getattr(getattr(model, "config", None), "model_type", None))
    if family is not None:
        try:
            return {family: model.get_submodule(family)}
        except AttributeError:  # a head-less base model (GPT2Model): its blocks sit one level up
            return {family.split(".", 1)[1]: model.get_submodule(family.split(".", 1)[1])}
    stacks: dict[str, nn.ModuleList] = {}
    for name, module in model.named_modules():
        if any(name.startswith(chosen + ".") for chosen in stacks):
            continue
        for attr in LAYER_LIST_NAMES:
            child = getattr(module, attr, None)
            if isinstance(child, nn.ModuleList) and len(child) > 0:
                stacks[f"{name}.{attr}" if name else attr] = child
                break
    return stacks


def depth(model: nn.Module) -> int:
    """Layers in the deepest stack: the N in "layers kept of N"."""
    stacks = layer_stacks(model)
    return max((len(s) for s in stacks.values()), default=0)


def kept_indices(full: int, keep: int, keep_last: bool = False) -> list[int]:
    """Which blocks stay: the bottom `keep`, or the bottom keep-1 plus the last one (keep_last)."""
    if keep > full:
        raise InputError(f"This model has {full} layers; cannot keep {keep}.")
    return list(range(keep - 1)) + [full - 1] if keep_last else list(range(keep))


def shorten_config(config, kept: list[int]) -> None:
    """Make a config describe only the kept blocks: every depth key, and per-layer lists.

    Qwen2 (and other recent configs) hold `layer_types`, one entry per layer; left at the old
    length, the config no longer validates and save_pretrained fails.
    """
    for key in LAYER_CONFIG_KEYS:
        if isinstance(getattr(config, key, None), int) and getattr(config, key) > len(kept):
            setattr(config, key, len(kept))
    layer_types = getattr(config, "layer_types", None)
    if isinstance(layer_types, list) and len(layer_types) > max(kept):
        config.layer_types = [layer_types[i] for i in kept]


def keep_bottom_layers(model: nn.Module, keep: int, keep_last: bool = False) -> str:
    """Keep the first `keep` blocks of every stack ("Poor Man's BERT"), in place.

    keep_last: keep the bottom keep-1 blocks and the last one instead, the baseline of the
    layer-pruning literature (the last block shapes the output distribution of a causal LM).
    """
    stacks = layer_stacks(model)
    if not stacks:
        raise InputError(f"{type(model).__name__} has no layer stack that can be shortened.")
    full = max(len(s) for s in stacks.values())
    kept = kept_indices(full, keep, keep_last)
    for stack in stacks.values():
        blocks = [stack[i] for i in kept if i < len(stack)]
        del stack[:]
        stack.extend(blocks)
        for position, block in enumerate(blocks):
            # Attention modules index the KV cache by their layer_idx: a kept last block must read
            # and write slot keep-1, not its old slot (the cache holds only `keep` layers).
            for module in block.modules():
                if isinstance(getattr(module, "layer_idx", None), int):
                    module.layer_idx = position
    config = getattr(model, "config", None)
    if config is not None:
        shorten_config(config, kept)
    what = (f"kept the bottom {keep - 1} and the last of {full} layers" if keep_last
            else f"kept the bottom {keep} of {full} layers")
    return what + (" in each stack" if len(stacks) > 1 else "")


DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def conv1d_to_linear(model: nn.Module) -> int:
    """Replace transformers' Conv1D (GPT-2's projections) by nn.Linear, in place; returns how many.

    torch.ao's dynamic quantization knows nn.Linear only and skips Conv1D silently: GPT-2 "int8"
    then quantized just its lm_head. Conv1D computes x @ W + b with W stored (in, out); the Linear
    gets W transposed as a view, so its forward (x @ weight.t() + b) multiplies by the very same
    tensor with the same kernel: the logits are bitwise identical (tests/core/test_generation.py).
    """
    from transformers.pytorch_utils import Conv1D

    targets = [(name, module) for name, module in model.named_modules() if isinstance(module, Conv1D)]
    for name, conv in targets:
        linear = nn.Linear(conv.nx, conv.nf, bias=True, device="meta")
        linear.weight = nn.Parameter(conv.weight.detach().t(), requires_grad=False)
        linear.bias = nn.Parameter(conv.bias.detach(), requires_grad=False)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, linear)
    return len(targets)


def quantize_int8(model: nn.Module, per_channel: bool = False) -> nn.Module:
    """Dynamic int8 quantization of every nn.Linear (weights int8, activations quantized per batch).

    per_channel: each weight gets one scale per output channel (row) instead of one for the whole
    tensor, so a row of small weights is not rounded on the scale of the tensor's largest one; the
    kernel's cost is nearly the same (tests/benchmarks/int8_per_channel.py measures both).

    Conv1D layers are turned into nn.Linear first (conv1d_to_linear), or they would stay fp32.
    torch.ao's quantize_dynamic is deprecated in favour of torchao, but it was the faster path on
    this kind of CPU when measured (README, "int8: torch.ao against torchao"); its warnings are
    silenced here only, on purpose.
    """
    conv1d_to_linear(model)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor")
        from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

        qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
        return quantize_dynamic(model, {nn.Linear: qconfig}, dtype=torch.qint8, inplace=True)


def int8_report(model: nn.Module) -> str:
    """What int8 quantized, in words: so a skipped layer type cannot hide (Conv1D did)."""
    quantized = [name for name, m in model.named_modules() if type(m).__name__ == "Linear"
                 and type(m).__module__.startswith("torch.ao.nn.quantized")]
    left = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    from transformers.pytorch_utils import Conv1D

    left += [name for name, m in model.named_modules() if isinstance(m, Conv1D)]
    head = [n for n in quantized if n.split(".")[-1] in ("lm_head", "embed_out")]
    schemes = {module.weight().qscheme() for name, module in model.named_modules() if name in quantized}
    per = " per channel" if schemes == {torch.per_channel_affine} else " per tensor" if schemes else ""
    text = f"int8: {len(quantized)} Linear layers quantized{per}"
    if head:
        text += f" (including {head[0]}, now untied from the input embedding)"
    if left:
        text += f"; {len(left)} left in float (e.g. {left[0]})"
    return text


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(total, non-embedding) parameters, each shared tensor counted once. Call before int8."""
    seen: set[int] = set()
    total = embedding = 0
    embedding_ids = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    for param in model.parameters():
        if id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
        if id(param) in embedding_ids:
            embedding += param.numel()
    return total, total - embedding


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)


def weight_bytes(model: nn.Module) -> int:
    """Bytes of every tensor in the state dict (int8 packed weights included), shared ones once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for value in model.state_dict().values():
        for tensor in _tensors(value):
            key = (tensor.data_ptr(), tensor.numel())
            if key in seen:
                continue
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
    return total
