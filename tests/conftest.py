"""Test set-up: offline, headless, with settings kept away from the user's."""

import os

# Set before Qt or huggingface_hub is imported anywhere.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests draw the same examples on every run, so a fresh clone is green or red for a reason
# and not for a seed. To hunt for new bugs: pytest --hypothesis-profile=explore (new examples each run).
settings.register_profile("reproducible", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("reproducible")


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def marian_dir(synthetic_dir):
    from tests.builders import marian_folder
    return marian_folder(synthetic_dir / "marian")


@pytest.fixture(scope="session")
def t5_dir(synthetic_dir):
    from tests.builders import t5_folder
    return t5_folder(synthetic_dir / "t5")


@pytest.fixture(scope="session")
def bert_dir(synthetic_dir):
    from tests.builders import bert_classifier_folder
    return bert_classifier_folder(synthetic_dir / "bert")
