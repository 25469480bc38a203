"""SequenceEncoder builds the same layers inside Keras's object-sharing scope, the scope
`keras.models.load_model` builds every layer in, as outside it."""

import keras
# The scope load_model enters (private: no public name reproduces it without a file round
# trip, which hits the fault only by chance, about one suite run in three).
from keras.src.saving.serialization_lib import ObjectSharingScope

from mgpn_keras.layers.sequence_encoder import SequenceEncoder


def test_encoders_built_while_loading_get_their_own_forward_and_backward_layers():
    # The scope knows serialised objects by id(): an RNN template freed after one build let a
    # later one take its id and be handed an earlier layer (1-2 encoders in 60, measured).
    seen, encoders = set(), []
    with ObjectSharingScope():
        for _ in range(60):
            encoder = SequenceEncoder(8, 2)
            encoder.build((None, 5, 6))
            encoders.append(encoder)  # alive, as a loading model's layers are
            for layer in encoder.layers_:
                forward, backward = layer.forward_layer, layer.backward_layer
                assert (forward.go_backwards, backward.go_backwards) == (False, True)
                assert id(forward) not in seen and id(backward) not in seen
                seen.update((id(forward), id(backward)))
    assert len(seen) == 60 * 2 * 2
    assert not keras.ops.any(keras.ops.isnan(encoders[-1](keras.ops.ones((1, 5, 6)))))
