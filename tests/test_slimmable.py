"""Slimmable layers: prefix semantics, reference layouts, and real compute savings."""

import pytest
import torch
from torch import nn

from speechbrain_slim.nnet.slimmable import (
    SlimConv1d,
    SlimConvTranspose1d,
    SlimPointwise,
    active_channels,
)


@pytest.mark.parametrize(
    "channels,uf,expected", [(32, 0.125, 4), (48, 0.125, 6), (30, 0.1, 3), (5, 0.5, 3), (7, 1.0, 7)]
)
def test_active_channels_is_ceil(channels, uf, expected):
    assert active_channels(channels, uf) == expected


@pytest.mark.parametrize("uf", [0.0, -0.5, 1.5])
def test_active_channels_rejects_bad_uf(uf):
    with pytest.raises(ValueError, match="utilization factor"):
        active_channels(8, uf)


@pytest.mark.parametrize("kernel_size,stride", [(8, 4), (5, 2), (3, 1), (4, 4)])
def test_conv_matches_torch_conv_and_slims_to_a_prefix(kernel_size, stride):
    torch.manual_seed(0)
    reference = nn.Conv1d(6, 16, kernel_size, stride)
    conv = SlimConv1d(6, 16, kernel_size, stride, slim_out=True)
    conv.load_reference_weight(reference.weight, reference.bias)
    torch.testing.assert_close(conv.reference_weight(), reference.weight)
    x = torch.randn(3, 6, 57)
    expected = reference(x).transpose(1, 2)
    channels_last = x.transpose(1, 2).contiguous()
    torch.testing.assert_close(conv(channels_last), expected, rtol=1e-5, atol=1e-5)
    narrow = conv(channels_last, uf=0.25)
    assert narrow.shape[-1] == 4
    torch.testing.assert_close(narrow, expected[..., :4], rtol=1e-5, atol=1e-5)


def test_pointwise_glu_slims_both_halves_and_inputs():
    torch.manual_seed(0)
    reference = nn.Conv1d(32, 64, 1)
    out_slim = SlimPointwise(32, 32, slim_out=True, activation="glu")
    out_slim.load_reference_weight(reference.weight, reference.bias)
    x = torch.randn(2, 32, 11)
    expected = nn.functional.glu(reference(x), dim=1).transpose(1, 2)
    channels_last = x.transpose(1, 2).contiguous()
    torch.testing.assert_close(out_slim(channels_last), expected, rtol=1e-5, atol=1e-5)
    # Output slimming keeps the first channels of *both* GLU halves.
    torch.testing.assert_close(
        out_slim(channels_last, uf=0.25), expected[..., :8], rtol=1e-5, atol=1e-5
    )

    in_slim = SlimPointwise(32, 32, slim_in=True, activation="glu")
    in_slim.load_reference_weight(reference.weight, reference.bias)
    zeroed = x.clone()
    zeroed[:, 8:] = 0  # a narrow input equals a full one whose tail channels are zero
    expected = nn.functional.glu(reference(zeroed), dim=1).transpose(1, 2)
    narrow_input = channels_last[..., :8].contiguous()
    torch.testing.assert_close(in_slim(narrow_input), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size,stride", [(8, 4), (5, 2)])
def test_transposed_conv_matches_torch_and_reads_an_input_prefix(kernel_size, stride):
    torch.manual_seed(0)
    reference = nn.ConvTranspose1d(16, 3, kernel_size, stride)
    conv = SlimConvTranspose1d(16, 3, kernel_size, stride, slim_in=True)
    conv.load_reference_weight(reference.weight, reference.bias)
    torch.testing.assert_close(conv.reference_weight(), reference.weight)
    x = torch.randn(2, 16, 9)
    channels_last = x.transpose(1, 2).contiguous()
    torch.testing.assert_close(
        conv(channels_last), reference(x).transpose(1, 2), rtol=1e-5, atol=1e-5
    )
    zeroed = x.clone()
    zeroed[:, 4:] = 0
    torch.testing.assert_close(
        conv(channels_last[..., :4].contiguous()),
        reference(zeroed).transpose(1, 2),
        rtol=1e-5,
        atol=1e-5,
    )


def test_narrow_widths_multiply_smaller_matrices(monkeypatch):
    """A narrower width must run smaller GEMMs, not full-width compute then masking."""
    seen = []
    original = torch.Tensor.__matmul__

    def spy(a, b):
        seen.append(b.shape)
        return original(a, b)

    conv = SlimConv1d(1, 32, 8, 4, slim_out=True)
    x = torch.randn(1, 400, 1)
    monkeypatch.setattr(torch.Tensor, "__matmul__", spy)
    conv(x, uf=1.0)
    conv(x, uf=0.125)
    full, narrow = seen
    assert full[-1] == 32 * conv.taps and narrow[-1] == 4 * conv.taps


def test_slices_are_views_of_the_weights():
    """Each width's weights are prefix views: no per-call copies of the parameters."""
    layer = SlimPointwise(64, 64, slim_out=True, activation="glu")
    view = layer.weight[:, :8, :64]
    assert view.data_ptr() == layer.weight.data_ptr()
    conv = SlimConv1d(32, 64, 8, 4, slim_out=True)
    matrix = conv.weight.view(-1, 4 * 32)[: 8 * conv.taps]
    assert matrix.data_ptr() == conv.weight.data_ptr() and matrix.is_contiguous()


def test_wrong_input_width_is_a_clear_error():
    conv = SlimConv1d(4, 8, 8, 4)
    with pytest.raises(ValueError, match="expected 4 input channels, got 3"):
        conv(torch.randn(1, 40, 3))
