"""Variants: the levers of model size (precision, int8, layers kept, runtime), as immutable specs.

No torch here; core.derive applies a Variant to a real model.
"""

from dataclasses import dataclass

from .errors import InputError

PRECISIONS = ("fp32", "fp16", "bf16")
RUNTIMES = ("torch", "onnxruntime", "openvino")
# The short words of the CLI form and of labels; "torch" has none in labels (labels stay as before).
RUNTIME_WORDS = {"torch": "torch", "ort": "onnxruntime", "onnxruntime": "onnxruntime",
                 "ov": "openvino", "openvino": "openvino"}
RUNTIME_SHORT = {"torch": "", "onnxruntime": "ort", "openvino": "ov"}
# What each runtime row can be asked for: ONNX Runtime's bf16 CPU kernels are few, so fp32 only.
RUNTIME_PRECISIONS = {"torch": PRECISIONS, "onnxruntime": ("fp32",), "openvino": ("fp32", "bf16")}


@dataclass(frozen=True)
class Variant:
    """How to derive a smaller model from a checkpoint. layers=None keeps every layer.

    runtime: what runs it, torch (eager) or a converted copy in ONNX Runtime or OpenVINO
    (core.runtimes); precision and int8 then mean that runtime's own fp32/bf16 and int8.
    """

    precision: str = "fp32"
    int8: bool = False
    layers: int | None = None
    runtime: str = "torch"
    keep_last: bool = False  # with layers: the bottom layers-1 blocks plus the last one (layer-pruning baseline)
    per_channel: bool = False  # with int8: one scale per output channel of each weight, not one per tensor

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"Unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}.")
        if self.int8 and self.precision != "fp32":
            raise InputError("int8 quantizes fp32 Linear layers; choose fp32 with int8.")
        if self.layers is not None and (isinstance(self.layers, bool) or not isinstance(self.layers, int) or self.layers < 1):
            raise InputError(f"Layers kept must be a whole number of at least 1, not {self.layers!r}.")
        if self.runtime not in RUNTIMES:
            raise InputError(f"Unknown runtime {self.runtime!r}; choose one of {', '.join(RUNTIMES)}.")
        if self.precision not in RUNTIME_PRECISIONS[self.runtime]:
            raise InputError(f"{self.runtime} rows run {' or '.join(RUNTIME_PRECISIONS[self.runtime])} "
                             f"(and int8), not {self.precision}.")
        if self.per_channel and not self.int8:
            raise InputError("Per-channel is a way of quantizing int8 weights; add int8 (e.g. int8,per-channel).")
        if self.per_channel and self.runtime != "torch":
            raise InputError("Per-channel int8 is offered on torch rows; ONNX Runtime and OpenVINO choose their "
                             "own int8 scheme.")
        if self.keep_last and (self.layers is None or self.layers < 2):
            raise InputError("Keeping the last layer needs at least 2 layers kept (e.g. L4,keep-last).")

    def label(self, total_layers: int | None = None) -> str:
        parts = [RUNTIME_SHORT[self.runtime]] if self.runtime != "torch" else []
        parts.append(("int8-pc" if self.per_channel else "int8") if self.int8 else self.precision)
        if self.layers is not None:
            parts.append(f"L{self.layers}" + (f"/{total_layers}" if total_layers else "")
                         + ("+last" if self.keep_last else ""))
        return " ".join(parts)

    def to_dict(self) -> dict:
        data = {"precision": self.precision, "int8": self.int8, "layers": self.layers, "runtime": self.runtime}
        # Absent when off: older files stay equal.
        return data | ({"keep_last": True} if self.keep_last else {}) | ({"per_channel": True} if self.per_channel else {})

    @classmethod
    def from_dict(cls, data: dict) -> "Variant":
        return cls(
            precision=data.get("precision", "fp32"),
            int8=bool(data.get("int8", False)),
            layers=data.get("layers"),
            runtime=data.get("runtime", "torch"),  # saved before runtimes existed: torch
            keep_last=bool(data.get("keep_last", False)),
            per_channel=bool(data.get("per_channel", False)),
        )

    @classmethod
    def parse(cls, text: str) -> "Variant":
        """Parse the CLI form: comma-separated words, e.g. "fp16", "int8,L3", "bf16,layers=2", "ort,int8", "L6,keep-last".

        Each word sets one field (PARTS says which and how); two words that set the same field
        differently ("fp16,bf16", "L2,L1") contradict each other and are refused, not resolved.
        """
        fields: dict[str, tuple[str, object]] = {}  # field -> (the word that set it, its value)
        for word in filter(None, (w.strip() for w in text.split(","))):
            field, value = _read_part(word)
            if field in fields and fields[field][1] != value:
                raise InputError(f"Variant parts {fields[field][0]!r} and {word!r} contradict each other "
                                 f"(both set the {PART_NAMES[field]}); keep one.")
            fields[field] = (word, value)
        try:
            return cls(**{field: value for field, (_word, value) in fields.items()})
        except InputError as exc:
            words = ",".join(word for word, _value in fields.values())
            raise InputError(f"Variant {words!r}: {exc}") from exc


def _precision(word: str):
    return word if word in PRECISIONS else None


def _int8(word: str):
    return True if word == "int8" else None


def _runtime(word: str):
    return RUNTIME_WORDS.get(word)


def _keep_last(word: str):
    return True if word in ("keep-last", "keep_last", "+last") else None


def _per_channel(word: str):
    return True if word in ("per-channel", "per_channel", "pc") else None


def _layers(word: str):
    number = word[len("layers="):] if word.startswith("layers=") else word[1:] if word[:1] == "l" else None
    if number is None or not number.isascii() or not number.isdigit():
        return None
    return int(number)  # 0 is refused by Variant itself, with the part named


# One reader per kind of part: it returns the field's value for a word of its kind, else None.
# A new lever (a runtime, say) is one more reader here and one more field on Variant.
PARTS = {"precision": _precision, "int8": _int8, "layers": _layers, "runtime": _runtime, "keep_last": _keep_last,
         "per_channel": _per_channel}
PART_NAMES = {"precision": "precision", "int8": "int8 quantization", "layers": "layers kept", "runtime": "runtime",
              "keep_last": "last layer kept", "per_channel": "int8 per channel"}


def _read_part(word: str) -> tuple[str, object]:
    lowered = word.lower()
    for field, read in PARTS.items():
        value = read(lowered)
        if value is not None:
            return field, value
    raise InputError(f"Unknown variant part {word!r}; use fp32, fp16, bf16, int8, L<k> (layers kept) or a "
                     "runtime (torch, ort, ov), and keep-last or per-channel, comma-separated.")
