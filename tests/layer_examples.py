"""Small example inputs for every registered mgpn_keras layer, one table keyed by the
registered name. `test_registered_layers.py` walks the Keras registry: a layer without an
entry here fails, so a new layer cannot go untested."""

import numpy as np

from layer_test_case import LayerExample

B, N, L, C = 2, 8, 5, 16
SCALES = [3, 2]


def _inputs():
    from mgpn_keras.valid_cells.geometry import valid_cells

    rng = np.random.default_rng(0)
    v = len(valid_cells(N, SCALES)[0])
    normal = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    return dict(
        video=normal(B, N, C), query=normal(B, L, C),
        query_mask=(np.arange(L)[None] < np.array([[L], [3]])).astype(np.float32),
        map=normal(B, N, N, C), map2=normal(B, N, N, 2 * C),
        cells=normal(B, v, C), cells2=normal(B, v, 2 * C), clips=rng.random((B, 4 * N, 24)).astype(np.float32))


def _layer(module, name):
    import importlib

    return getattr(importlib.import_module(f"mgpn_keras.layers.{module}"), name)


def examples() -> dict:
    """{registered name: [LayerExample, ...]}."""
    import tensorflow as tf

    x = _inputs()
    v, q, qm, m, m2 = x["video"], x["query"], x["query_mask"], x["map"], x["map2"]

    def make(module, name, *args, **kwargs):
        return lambda **extra: _layer(module, name)(*args, **kwargs, **extra)

    return {
        "mgpn_keras>ChoiceRanker": [
            LayerExample(make("choice_ranker", "ChoiceRanker", N, SCALES), (m,)),
            LayerExample(make("choice_ranker", "ChoiceRanker", N, SCALES, layout="valid_cells"), (x["cells"],))],
        "mgpn_keras>ClipEncoder": [LayerExample(make("clip_encoder", "ClipEncoder", C, 4, N, use_position=True),
                                                (x["clips"],))],
        "mgpn_keras>CoAttention": [LayerExample(make("co_attention", "CoAttention"), ([v, q, qm],))],
        "mgpn_keras>ConditionedGate": [
            LayerExample(make("conditioned_gate", "ConditionedGate", C, N, SCALES), ([m, m, v, q, qm],)),
            LayerExample(make("conditioned_gate", "ConditionedGate", C, N, SCALES, layout="valid_cells"),
                         ([x["cells"], x["cells"], v, q, qm],))],
        "mgpn_keras>FineQueryEncoder": [LayerExample(make("fine_query_encoder", "FineQueryEncoder", C), (q,))],
        "mgpn_keras>GroupConv2D": [LayerExample(make("group_conv2d", "GroupConv2D", C, 3, groups=4), (m,))],
        "mgpn_keras>GroupConvComparison": [
            LayerExample(make("group_conv_comparison", "GroupConvComparison", C, N, SCALES, groups=4, kernel_size=3),
                         ([m2, m, m],)),
            LayerExample(make("group_conv_comparison", "GroupConvComparison", C, N, SCALES, groups=4, kernel_size=3,
                              layout="valid_cells"), ([x["cells2"], x["cells"], x["cells"]],),
                         skip={"training_step": "inference only: it refuses training=True (BatchNorm on moving "
                                                "statistics)"})],
        "mgpn_keras>MomentMap2D": [LayerExample(make("moment_map", "MomentMap2D", N, SCALES), (v,)),
                                   LayerExample(make("moment_map", "MomentMap2D", N, SCALES, layout="valid_cells"), (v,))],
        "mgpn_keras>NonLocalBlock": [LayerExample(make("non_local_block", "NonLocalBlock", C), (x["cells"],))],
        "mgpn_keras>NonLocalComparison": [LayerExample(
            make("non_local_comparison", "NonLocalComparison", C, N, SCALES, num_blocks=1), ([m2, m, m],))],
        "mgpn_keras>QueryTokenizer": [LayerExample(
            make("query_tokenizer", "QueryTokenizer"), (tf.constant(["A person opens the door.", "sits"]),),
            skip={"symbolic_shapes": "string inputs: the output length depends on the text",
                  "dtype_policy": "string in, string out: no float computation"})],
        "mgpn_keras>ReferenceLayerNorm": [LayerExample(make("reference_layer_norm", "ReferenceLayerNorm"), (v,))],
        "mgpn_keras>ResidualFeedForward": [LayerExample(make("residual_feed_forward", "ResidualFeedForward", C),
                                                        (v,))],
        "mgpn_keras>SequenceEncoder": [
            LayerExample(make("sequence_encoder", "SequenceEncoder", C, 2), (q,), {"mask": qm}),
            LayerExample(make("sequence_encoder", "SequenceEncoder", C, 1, kind="lstm"), (q,), {"mask": qm}),
            LayerExample(make("sequence_encoder", "SequenceEncoder", C, 1, kind="transformer"), (q,),
                         {"mask": qm})],
        "mgpn_keras>StackedConvComparison": [LayerExample(
            make("stacked_conv_comparison", "StackedConvComparison", C, N, SCALES, num_layers=2, kernel_size=3),
            ([m2, m, m],))],
        "mgpn_keras>TransformerBlock": [LayerExample(make("transformer_block", "TransformerBlock", C, 4), (q,))],
    }

# Layers that do not yet compute under a mixed dtype policy. Their check runs as a strict
# xfail: a layer that starts passing fails the test until its name is removed here. Empty
# since every layer passes its parent's dtype policy to its sublayers.
DTYPE_POLICY_PENDING: dict[str, str] = {}

