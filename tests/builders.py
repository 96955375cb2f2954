"""Small real checkpoints built by the tests: real architectures, real tokenizers, random weights.

No translation weights exist offline, so translation is tested on these: a Marian and a T5 with a
sentencepiece vocabulary trained here on a few sentences, saved with save_pretrained like any
checkpoint a user would have.
"""

import json
import random
import shutil
from pathlib import Path

import sentencepiece as spm
import torch

WORDS = ("the cat sat on a mat hello world how are you the train leaves at seven in the morning "
         "could you tell me where the pharmacy is smaller models answer faster and use less memory").split()


def _sentencepiece(folder: Path) -> Path:
    rng = random.Random(0)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(10)) for _ in range(400)))
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(folder / "sp"), vocab_size=96,
                                   model_type="unigram", character_coverage=1.0, pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, minloglevel=2, hard_vocab_limit=False)
    corpus.unlink()
    return folder / "sp.model"


def marian_folder(root: Path, layers: int = 2) -> Path:
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder = root / "tiny-marian"
    folder.mkdir(parents=True)
    model_file = _sentencepiece(root)
    shutil.copy(model_file, folder / "source.spm")
    shutil.copy(model_file, folder / "target.spm")
    processor = spm.SentencePieceProcessor(model_file=str(model_file))
    vocab = {processor.id_to_piece(i): i for i in range(processor.get_piece_size())}
    vocab.setdefault("<pad>", len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = MarianTokenizer(vocab=str(folder / "vocab.json"), source_spm=str(folder / "source.spm"),
                                target_spm=str(folder / "target.spm"))
    tokenizer.save_pretrained(folder)
    config = MarianConfig(vocab_size=len(tokenizer), d_model=32, encoder_layers=layers, decoder_layers=layers,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                          decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
                          eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    MarianMTModel(config).save_pretrained(folder)
    return folder


def t5_folder(root: Path, layers: int = 2) -> Path:
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    folder = root / "tiny-t5"
    folder.mkdir(parents=True)
    model_file = _sentencepiece(root)
    tokenizer = T5Tokenizer(vocab_file=str(model_file), extra_ids=0)
    tokenizer.save_pretrained(folder)
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=16, d_ff=64, num_layers=layers,
                      num_decoder_layers=layers, num_heads=2, pad_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def bert_classifier_folder(root: Path, layers: int = 2, labels=("negative", "positive")) -> Path:
    """A tiny BERT sequence classifier with the bundled (real) tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from core.paths import bundled_encoder_dir

    folder = root / "tiny-bert"
    folder.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(bundled_encoder_dir())
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                        id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


CAUSAL_TYPES = ("gpt2", "gpt_neox", "llama", "qwen2")


_TRAINED = {}


def _byte_level_tokenizer(folder: Path):
    """A byte-level BPE (GPT-2's kind) trained here on a few sentences, with an end-of-text token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if "bpe" in _TRAINED:  # trained once per test session: the same vocabulary for every family
        _TRAINED["bpe"].save_pretrained(folder)
        return _TRAINED["bpe"]
    rng = random.Random(0)
    corpus = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(300)]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                        unk_token="<|endoftext|>")
    tokenizer.save_pretrained(folder)
    _TRAINED["bpe"] = tokenizer
    return tokenizer


def causal_lm_config(model_type: str, vocab_size: int, layers: int = 4, eos: int = 0):
    """A tiny config of each supported causal-LM family (Qwen2 and Llama with grouped-query attention)."""
    from transformers import AutoConfig

    common = dict(vocab_size=vocab_size, bos_token_id=eos, eos_token_id=eos, tie_word_embeddings=True)
    if model_type == "gpt2":
        return AutoConfig.for_model("gpt2", n_embd=32, n_layer=layers, n_head=2, n_positions=128, **common)
    if model_type == "gpt_neox":
        return AutoConfig.for_model("gpt_neox", hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                                    intermediate_size=64, max_position_embeddings=128, **common | {"tie_word_embeddings": False})
    return AutoConfig.for_model(model_type, hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                                num_key_value_heads=2, intermediate_size=64, max_position_embeddings=128, **common)


def causal_lm_folder(root: Path, model_type: str, layers: int = 4) -> Path:
    """A small real checkpoint of a causal LM family with a tokenizer trained here."""
    from transformers import AutoModelForCausalLM

    folder = root / f"tiny-{model_type}"
    folder.mkdir(parents=True)
    tokenizer = _byte_level_tokenizer(folder)
    config = causal_lm_config(model_type, len(tokenizer), layers, tokenizer.eos_token_id)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder
