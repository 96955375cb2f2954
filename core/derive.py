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


def layer_stacks(model: nn.Module) -> dict[str, nn.ModuleList]:
    """The repeated-block lists of a model (one for an encoder, two for encoder-decoder).

    A list nested inside a chosen one (T5Block.layer holds a block's sub-layers) is not a stack.
    """
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


def keep_bottom_layers(model: nn.Module, keep: int) -> str:
    """Keep the first `keep` blocks of every stack ("Poor Man's BERT"), in place."""
    stacks = layer_stacks(model)
    if not stacks:
        raise InputError(f"{type(model).__name__} has no layer stack that can be shortened.")
    full = max(len(s) for s in stacks.values())
    if keep > full:
        raise InputError(f"This model has {full} layers; cannot keep {keep}.")
    for stack in stacks.values():
        del stack[keep:]
    config = getattr(model, "config", None)
    for key in LAYER_CONFIG_KEYS:
        if config is not None and isinstance(getattr(config, key, None), int) and getattr(config, key) > keep:
            setattr(config, key, keep)
    return f"kept the bottom {keep} of {full} layers" + (" in each stack" if len(stacks) > 1 else "")


DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def quantize_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantization of every nn.Linear (weights int8, activations quantized per batch).

    torch.ao's quantize_dynamic is deprecated in favour of torchao, but it was the faster path on
    this kind of CPU when measured (README, "int8: torch.ao against torchao"); its warnings are
    silenced here only, on purpose.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8, inplace=True)


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
