"""PyTorch's default initialisation, which the reference trains from (REFERENCE.md 5.6, 6)."""

import math

import keras


def torch_kernel():
    """Linear/conv kernels: U(+-1/sqrt(fan_in)), i.e. kaiming_uniform with a = sqrt(5)."""
    return keras.initializers.VarianceScaling(scale=1.0 / 3.0, mode="fan_in", distribution="uniform")


def torch_bias(fan_in: int):
    """Linear/conv biases: U(+-1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def torch_recurrent(units: int):
    """Every GRU/LSTM weight and bias: U(+-1/sqrt(units))."""
    bound = 1.0 / math.sqrt(units)
    return keras.initializers.RandomUniform(-bound, bound)


def dense(units: int, fan_in: int, name: str, use_bias: bool = True, **kwargs) -> keras.layers.Dense:
    """A Dense (or 1x1 convolution) initialised as torch.nn.Linear / Conv with kernel 1."""
    return keras.layers.Dense(
        units,
        use_bias=use_bias,
        kernel_initializer=torch_kernel(),
        bias_initializer=torch_bias(fan_in),
        name=name,
        **kwargs,
    )
