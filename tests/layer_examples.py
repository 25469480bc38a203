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


# Weight tensors per building block, for the expected counts below.
DENSE = 2  # kernel, bias (a Dense, a 1x1 or k x k convolution)
BATCH_NORM = (2, 2)  # (gamma, beta) trainable, (moving mean, moving variance) not
RNN_DIRECTION = 3  # GRU or LSTM: kernel, recurrent kernel, bias
MULTI_HEAD_ATTENTION = 4 * DENSE  # query, key, value, output projections
LAYER_NORM = 2  # gamma, beta (ReferenceLayerNorm: gain, bias)
TRANSFORMER_BLOCK = MULTI_HEAD_ATTENTION + 2 * LAYER_NORM + 2 * DENSE  # + the two feed-forward layers
NON_LOCAL_BLOCK = 4 * DENSE + BATCH_NORM[0]  # theta, phi, g, out; its BatchNorm's moving statistics aside
SENTENCES = ["A person opens the door.", "sits"]
# the tokenizer splits the full stop off "door."; the longest sentence sets the padded length
TOKENS = max(len(SENTENCES[0].split()) + 1, len(SENTENCES[1].split()))


def examples() -> dict:
    """{registered name: [LayerExample, ...]}, each with the output shapes and weight counts
    that the layer's arguments imply (B, N, L, C above; V valid cells of the N x N map)."""
    import tensorflow as tf

    x = _inputs()
    v, q, qm, m, m2 = x["video"], x["query"], x["query_mask"], x["map"], x["map2"]
    V = x["cells"].shape[1]  # noqa: N806

    def make(module, name, *args, **kwargs):
        return lambda **extra: _layer(module, name)(*args, **kwargs, **extra)

    # The comparison modules' shared opening step: the 1x1 "mix" convolution 4C -> 2C.
    group_conv = dict(trainable_weights=DENSE + 4 * (DENSE + BATCH_NORM[0]),  # mix, 4 x (conv, BatchNorm)
                      non_trainable_weights=4 * BATCH_NORM[1])
    return {
        "mgpn_keras>ChoiceRanker": [
            LayerExample(make("choice_ranker", "ChoiceRanker", N, SCALES), (m,), [(B, N, N)], DENSE, 0),
            LayerExample(make("choice_ranker", "ChoiceRanker", N, SCALES, layout="valid_cells"), (x["cells"],),
                         [(B, N, N)], DENSE, 0)],
        "mgpn_keras>ClipEncoder": [LayerExample(make("clip_encoder", "ClipEncoder", C, 4, N, use_position=True),
                                                (x["clips"],), [(B, N, C)],
                                                DENSE + 1, 0)],  # projection, position embedding
        "mgpn_keras>CoAttention": [LayerExample(make("co_attention", "CoAttention"), ([v, q, qm],),
                                                [(B, N, C), (B, L, C)], 2 * DENSE, 0)],  # query and video scores
        "mgpn_keras>ConditionedGate": [
            LayerExample(make("conditioned_gate", "ConditionedGate", C, N, SCALES), ([m, m, v, q, qm],),
                         [(B, N, N, 2 * C)], 2 * DENSE, 0),  # query and video gates
            LayerExample(make("conditioned_gate", "ConditionedGate", C, N, SCALES, layout="valid_cells"),
                         ([x["cells"], x["cells"], v, q, qm],), [(B, V, 2 * C)], 2 * DENSE, 0)],
        "mgpn_keras>FineQueryEncoder": [LayerExample(make("fine_query_encoder", "FineQueryEncoder", C), (q,),
                                                     [(B, L, C)], 4 * DENSE, 0)],  # uni-, bi-, tri-gram, projection
        "mgpn_keras>GroupConv2D": [LayerExample(make("group_conv2d", "GroupConv2D", C, 3, groups=4), (m,),
                                                [(B, N, N, C)], DENSE, 0)],
        "mgpn_keras>GroupConvComparison": [
            LayerExample(make("group_conv_comparison", "GroupConvComparison", C, N, SCALES, groups=4, kernel_size=3),
                         ([m2, m, m],), [(B, N, N, C)], **group_conv),
            LayerExample(make("group_conv_comparison", "GroupConvComparison", C, N, SCALES, groups=4, kernel_size=3,
                              layout="valid_cells"), ([x["cells2"], x["cells"], x["cells"]],), [(B, V, C)],
                         **group_conv,  # the dense layout's weights
                         skip={"training_step": "inference only: it refuses training=True (BatchNorm on moving "
                                                "statistics)"})],
        "mgpn_keras>MomentMap2D": [
            LayerExample(make("moment_map", "MomentMap2D", N, SCALES), (v,), [(B, N, N, C)] * 2, 0, 0),
            LayerExample(make("moment_map", "MomentMap2D", N, SCALES, layout="valid_cells"), (v,),
                         [(B, V, C)] * 2, 0, 0)],
        "mgpn_keras>NonLocalBlock": [LayerExample(make("non_local_block", "NonLocalBlock", C), (x["cells"],),
                                                  [(B, V, C)], NON_LOCAL_BLOCK, BATCH_NORM[1])],
        "mgpn_keras>NonLocalComparison": [LayerExample(
            make("non_local_comparison", "NonLocalComparison", C, N, SCALES, num_blocks=1), ([m2, m, m],),
            [(B, N, N, C)], 2 * DENSE + NON_LOCAL_BLOCK, BATCH_NORM[1])],  # mix, reduce, one block
        "mgpn_keras>QueryTokenizer": [LayerExample(
            make("query_tokenizer", "QueryTokenizer"), (tf.constant(SENTENCES),), [(len(SENTENCES), TOKENS)], 0, 0,
            skip={"symbolic_shapes": "string inputs: the output length depends on the text",
                  "dtype_policy": "string in, string out: no float computation"})],
        "mgpn_keras>ReferenceLayerNorm": [LayerExample(make("reference_layer_norm", "ReferenceLayerNorm"), (v,),
                                                       [(B, N, C)], LAYER_NORM, 0)],
        "mgpn_keras>ResidualFeedForward": [LayerExample(make("residual_feed_forward", "ResidualFeedForward", C),
                                                        (v,), [(B, N, C)], LAYER_NORM + 2 * DENSE, 0)],
        "mgpn_keras>SequenceEncoder": [
            LayerExample(make("sequence_encoder", "SequenceEncoder", C, 2), (q,), [(B, L, C)],
                         2 * 2 * RNN_DIRECTION, 0, {"mask": qm}),  # 2 layers x 2 directions
            LayerExample(make("sequence_encoder", "SequenceEncoder", C, 1, kind="lstm"), (q,), [(B, L, C)],
                         2 * RNN_DIRECTION, 0, {"mask": qm}),
            LayerExample(make("sequence_encoder", "SequenceEncoder", C, 1, kind="transformer"), (q,), [(B, L, C)],
                         DENSE + TRANSFORMER_BLOCK, 0, {"mask": qm})],  # input projection, one block
        "mgpn_keras>StackedConvComparison": [LayerExample(
            make("stacked_conv_comparison", "StackedConvComparison", C, N, SCALES, num_layers=2, kernel_size=3),
            ([m2, m, m],), [(B, N, N, C)], DENSE + 2 * DENSE, 0)],  # mix, 2 convolutions
        "mgpn_keras>WindowPresenceHead": [LayerExample(make("window_presence_head", "WindowPresenceHead", C),
                                                       ([v, q, qm],), [(B,)], 2 * DENSE, 0,  # inner, outer
                                                       float32_outputs=True)],
        "mgpn_keras>TransformerBlock": [LayerExample(make("transformer_block", "TransformerBlock", C, 4), (q,),
                                                     [(B, L, C)], TRANSFORMER_BLOCK, 0)],
    }
