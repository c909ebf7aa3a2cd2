"""Plain torch layers of a SlimDemucs frozen at one UF (what the blocks' ``static(uf)`` return).

Standard torch layouts (``nn.Conv1d``, ``nn.ConvTranspose1d``, ``nn.LSTM``/``nn.GRU``),
channels-first ``[batch, channels, frames]``, only the widths one UF uses, no Python
beyond what ``torch.jit.script`` and the ONNX exporter accept. For encoder block ``i``
of width ``C`` (input width ``C_in``) and ``w = ceil(C * uf)``::

    encoder i: Conv1d(C_in, w, K, S) -> ReLU -> Conv1d(w, 2C, 1) -> GLU   ([B, C, frames])
    decoder i: x + skip -> Conv1d(C, 2w, 1) -> GLU -> ConvTranspose1d(w, C_in, K, S) (-> ReLU)

(``Conv1d(w, C, 1) -> ReLU`` and ``Conv1d(C, w, 1) -> ReLU`` without GLU). The
bottleneck keeps its full width at every UF.

Authors
 * speechbrain-slim contributors 2026
"""

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "StaticEncoderBlock",
    "StaticDecoderBlock",
    "StaticLSTM",
    "StaticGroupedGRU",
    "load_copies",
]


class StaticEncoderBlock(nn.Module):
    """``Conv1d(C_in, w, K, S) -> ReLU -> Conv1d(w, 2C, 1) -> GLU`` on ``[B, C_in, T]``.

    Arguments
    ---------
    in_channels : int
        Input width ``C_in``.
    channels : int
        Output width ``C``.
    active : int
        Internal width ``w``.
    kernel_size : int
        Kernel size of the strided conv.
    stride : int
        Stride of the strided conv.
    glu : bool
        GLU after the 1x1 conv (else ReLU).

    Example
    -------
    >>> StaticEncoderBlock(1, 8, 2, 8, 4, glu=True)(torch.randn(2, 1, 40)).shape
    torch.Size([2, 8, 9])
    """

    def __init__(self, in_channels, channels, active, kernel_size, stride, glu):
        super().__init__()
        self.glu = glu
        self.conv = nn.Conv1d(in_channels, active, kernel_size, stride)
        self.pointwise = nn.Conv1d(active, 2 * channels if glu else channels, 1)

    def forward(self, x):
        """Encodes ``x`` [B, C_in, T] into [B, C, frames]."""
        x = self.pointwise(torch.relu(self.conv(x)))
        return F.glu(x, dim=1) if self.glu else torch.relu(x)


class StaticDecoderBlock(nn.Module):
    """``x + skip -> Conv1d(C, 2w, 1) -> GLU -> ConvTranspose1d(w, C_out, K, S) (-> ReLU)``.

    Arguments
    ---------
    channels : int
        Input width ``C``.
    out_channels : int
        Output width ``C_out``.
    active : int
        Internal width ``w``.
    kernel_size : int
        Kernel size of the transposed conv.
    stride : int
        Stride of the transposed conv.
    glu : bool
        GLU after the 1x1 conv (else ReLU).
    relu : bool
        ReLU on the output.

    Example
    -------
    >>> block = StaticDecoderBlock(8, 1, 2, 8, 4, glu=True, relu=False)
    >>> block(torch.randn(2, 8, 9), torch.randn(2, 8, 11)).shape
    torch.Size([2, 1, 40])
    """

    def __init__(self, channels, out_channels, active, kernel_size, stride, glu, relu):
        super().__init__()
        self.glu = glu
        self.relu = relu
        self.pointwise = nn.Conv1d(channels, 2 * active if glu else active, 1)
        self.conv_tr = nn.ConvTranspose1d(active, out_channels, kernel_size, stride)

    def forward(self, x, skip):
        """Decodes ``x + skip`` (``skip`` may be longer) into [B, C_out, samples]."""
        x = self.pointwise(x + skip[..., : x.shape[-1]])
        x = self.conv_tr(F.glu(x, dim=1) if self.glu else torch.relu(x))
        return torch.relu(x) if self.relu else x


class StaticLSTM(nn.Module):
    """DEMUCS's bottleneck on ``[B, C, frames]``: ``nn.LSTM`` (+ Linear when bidirectional).

    Example
    -------
    >>> StaticLSTM(8, layers=2, bidirectional=False)(torch.randn(2, 8, 5)).shape
    torch.Size([2, 8, 5])
    """

    def __init__(self, channels, layers, bidirectional):
        super().__init__()
        self.lstm = nn.LSTM(
            channels, channels, num_layers=layers, bidirectional=bidirectional, batch_first=True
        )
        self.linear = nn.Linear(2 * channels, channels) if bidirectional else nn.Identity()

    def forward(self, x):
        """Runs over ``x`` [B, C, frames]."""
        out, _ = self.lstm(x.transpose(1, 2))
        return self.linear(out).transpose(1, 2)


class StaticGroupedGRU(nn.Module):
    """The paper's bottleneck on ``[B, C, frames]``: one ``nn.GRU`` per group of channels.

    Example
    -------
    >>> StaticGroupedGRU(8, groups=2, layers=1, bidirectional=True)(torch.randn(2, 8, 5)).shape
    torch.Size([2, 8, 5])
    """

    def __init__(self, channels, groups, layers, bidirectional):
        super().__init__()
        self.width = channels // groups
        self.grus = nn.ModuleList(
            nn.GRU(self.width, self.width, num_layers=layers, bidirectional=bidirectional,
                   batch_first=True)
            for _ in range(groups)
        )
        self.linear = nn.Linear(2 * channels, channels) if bidirectional else nn.Identity()

    def forward(self, x):
        """Runs each group's GRU over its channels of ``x`` [B, C, frames]."""
        x = x.transpose(1, 2)
        outs: list[torch.Tensor] = []
        for group, gru in enumerate(self.grus):
            part = x[..., group * self.width : (group + 1) * self.width].contiguous()
            out, _ = gru(part)
            outs.append(out)
        return self.linear(torch.cat(outs, dim=-1)).transpose(1, 2)


def load_copies(module, state, like):
    """Moves ``module`` to ``like``'s device and dtype and loads copies of ``state`` into it.

    The copies own their storage (no views of the slim weights). Returns ``module``.

    Example
    -------
    >>> layer = load_copies(nn.Linear(2, 1), {"weight": torch.ones(1, 2), "bias": torch.zeros(1)},
    ...                     like=torch.zeros(1, dtype=torch.float64))
    >>> layer.weight.dtype, layer.weight.tolist()
    (torch.float64, [[1.0, 1.0]])
    """
    module.to(device=like.device, dtype=like.dtype)
    module.load_state_dict({k: v.detach().clone().contiguous() for k, v in state.items()},
                           strict=True)
    return module
