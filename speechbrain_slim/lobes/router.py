"""Router: picks a utilization factor for every bottleneck frame from the noisy waveform.

``Conv1d(1, C, kernel, stride) -> ReLU -> diagonal GRU -> pointwise Conv1d(C, J)``
gives logits over the J UFs, one decision per bottleneck frame of SlimDemucs
(Miccini et al., WASPAA 2025). The strided conv frames the waveform at the
backbone's bottleneck rate; the diagonal GRU has full input projections but
element-wise (diagonal) recurrent weights, so each step costs O(C) and the
whole router stays a small share of the backbone's MACs (77 MACs per input
sample for the default C=32, kernel 512, stride 256: under 1% of UF 0.125).
Frame ``k`` reads input samples ``[k * stride, k * stride + kernel)``; with the
default kernel of two strides that lies within what bottleneck frame ``k`` of a
causal DEMUCS already waits for. Decision ``k`` also sets the width of the
shallower frames that feed bottleneck frame ``k``, some of which an exact streamer
would otherwise compute earlier, so exact streaming with the router waits one
bottleneck frame more than at a fixed UF (16 ms for the paper config; see
:mod:`speechbrain_slim.streaming`).

Authors
 * speechbrain-slim contributors 2026
"""

import warnings

import torch
from torch import nn
from torch.nn import functional as F

from speechbrain_slim.nnet.slimmable import SlimConv1d

__all__ = ["DiagonalGRU", "Router", "RouterStream", "diagonal_gru_step", "diagonal_gru_scan"]


def diagonal_gru_step(gates_x, hidden, recurrent, recurrent_bias):
    """One step of :class:`DiagonalGRU`: ``gates_x`` [..., 3, C] (input projections), ``hidden``
    [..., C]; returns the next hidden state (shared with the streaming router).

    Example
    -------
    >>> diagonal_gru_step(torch.zeros(3, 4), torch.ones(4), torch.zeros(3, 4), torch.zeros(4))
    tensor([0.5000, 0.5000, 0.5000, 0.5000])
    """
    gates_h = recurrent * hidden.unsqueeze(-2)
    update_reset = torch.sigmoid(gates_x[..., :2, :] + gates_h[..., :2, :])
    from_hidden = gates_h[..., 2, :] + recurrent_bias
    candidate = torch.tanh(torch.addcmul(gates_x[..., 2, :], update_reset[..., 1, :], from_hidden))
    return torch.lerp(candidate, hidden, update_reset[..., 0, :])


def diagonal_gru_scan(projected, hidden, recurrent, recurrent_bias):
    """:func:`diagonal_gru_step` over every frame, without autograd (six ops per step).

    Arguments
    ---------
    projected : torch.Tensor
        ``[batch, frames, 3, C]`` input projections.
    hidden : torch.Tensor
        ``[batch, C]`` state before the first frame.
    recurrent, recurrent_bias : torch.Tensor
        The GRU's ``[3, C]`` diagonal weights and ``[C]`` bias.

    Returns
    -------
    torch.Tensor
        ``[batch, frames, C]``, the hidden state after every frame.

    Each step writes into buffers whose slices are made once (the router's time is
    per-op overhead, not arithmetic): the same maths as :func:`diagonal_gru_step`, to
    float rounding. From 16 frames on, the loop runs compiled by TorchScript (the same
    ops, bit-identical, ~0.2-0.55x the time of the Python loop; the Python loop if
    scripting fails).

    Example
    -------
    >>> projected, hidden = torch.randn(2, 5, 3, 4), torch.randn(2, 4)
    >>> weights = torch.randn(3, 4), torch.randn(4)
    >>> steps = [hidden]
    >>> for frame in range(5):
    ...     steps.append(diagonal_gru_step(projected[:, frame], steps[-1], *weights))
    >>> torch.allclose(diagonal_gru_scan(projected, hidden, *weights),
    ...                torch.stack(steps[1:], dim=1), atol=1e-6)
    True
    """
    if projected.shape[1] >= _SCRIPTED_MIN_FRAMES:
        scan = _scripted_scan()
        if scan is not None:
            return scan(projected, hidden, recurrent, recurrent_bias)
    return _diagonal_gru_scan(projected, hidden, recurrent, recurrent_bias)


def _diagonal_gru_scan(projected, hidden, recurrent, recurrent_bias):
    """The body of :func:`diagonal_gru_scan` (also compiled by TorchScript, as written)."""
    batch, frames, _, channels = projected.shape
    bias = torch.cat([recurrent_bias.new_zeros(2, channels), recurrent_bias.unsqueeze(0)])
    from_hidden = projected.new_empty(batch, 3, channels)  # recurrent * h (+ bias for n)
    update_reset = projected.new_empty(batch, 2, channels)
    update, reset = update_reset[:, 0:1], update_reset[:, 1:2]
    hidden_n = from_hidden[:, 2:3]
    candidate = projected.new_empty(batch, 1, channels)
    out = projected.new_empty(frames, batch, 1, channels)
    state = hidden.reshape(batch, 1, channels)
    gates_zr, gates_n = projected[:, :, :2], projected[:, :, 2:3]
    for frame in range(frames):
        torch.addcmul(bias, recurrent, state, out=from_hidden)
        torch.add(gates_zr[:, frame], from_hidden[:, :2], out=update_reset).sigmoid_()
        torch.addcmul(gates_n[:, frame], reset, hidden_n, out=candidate).tanh_()
        state = torch.lerp(candidate, state, update, out=out[frame])
    return out.view(frames, batch, channels).transpose(0, 1)


# Offline (hundreds of frames) the scan's time is per-op dispatch from Python: the same
# ops run from TorchScript's interpreter take ~0.55x the time (same kernels, bit-identical
# results). A stream's one frame per call stays in Python (a scripted call costs more).
_SCRIPTED_MIN_FRAMES = 16
_SCRIPTED = []


def _scripted_scan():
    """:func:`_diagonal_gru_scan` compiled by TorchScript once (``None`` if that fails)."""
    if not _SCRIPTED:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit.script's deprecation notice
                _SCRIPTED.append(torch.jit.script(_diagonal_gru_scan))
        except Exception:  # noqa: BLE001 - any TorchScript failure: run the Python loop
            _SCRIPTED.append(None)
    return _SCRIPTED[0]


class DiagonalGRU(nn.Module):
    """GRU whose recurrent weights are diagonal: ``h`` enters its gates element-wise.

    ``z = sigmoid(W_z x + u_z * h + b_z)``, ``r = sigmoid(W_r x + u_r * h + b_r)``,
    ``n = tanh(W_n x + r * (u_n * h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Arguments
    ---------
    channels : int
        Input and hidden width.

    Example
    -------
    >>> gru = DiagonalGRU(8)
    >>> out, state = gru(torch.randn(2, 5, 8))
    >>> out.shape, state.shape
    (torch.Size([2, 5, 8]), torch.Size([2, 8]))
    """

    def __init__(self, channels):
        super().__init__()
        self.channels = channels
        self.input_proj = nn.Linear(channels, 3 * channels)
        self.recurrent = nn.Parameter(torch.empty(3, channels).uniform_(-0.5, 0.5))
        self.recurrent_bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x, state=None):
        """Runs over ``x`` [batch, frames, channels]; returns outputs and the last state."""
        batch, frames, channels = x.shape
        projected = self.input_proj(x).view(batch, frames, 3, channels)
        hidden = x.new_zeros(batch, channels) if state is None else state
        if not torch.is_grad_enabled():
            out = diagonal_gru_scan(projected, hidden, self.recurrent, self.recurrent_bias)
            return out, out[:, -1]
        outputs = []
        for frame in range(frames):
            hidden = diagonal_gru_step(
                projected[:, frame], hidden, self.recurrent, self.recurrent_bias
            )
            outputs.append(hidden)
        return torch.stack(outputs, dim=1), hidden


class Router(nn.Module):
    """Per-frame UF decisions from the (normalised) noisy waveform.

    Arguments
    ---------
    ufs : sequence of float
        The UFs to choose from (ascending).
    frame_stride : int
        Input samples per decision: the backbone's bottleneck stride
        (``SlimDemucs.total_stride``).
    kernel_size : int
        Samples each frame's conv reads (default: two strides).
    channels : int
        Width of the conv and the GRU.
    temperature : float
        Gumbel-softmax temperature in training.

    Example
    -------
    >>> router = Router(frame_stride=256)
    >>> logits = router(torch.randn(2, 256 * 10 + 256), frames=10)
    >>> logits.shape
    torch.Size([2, 10, 4])
    """

    def __init__(
        self,
        ufs=(0.125, 0.25, 0.5, 1.0),
        frame_stride=256,
        kernel_size=None,
        channels=32,
        temperature=1.0,
    ):
        super().__init__()
        self.ufs = tuple(sorted(float(uf) for uf in ufs))
        self.frame_stride = frame_stride
        self.kernel_size = kernel_size or 2 * frame_stride
        self.channels = channels
        self.temperature = temperature
        self.conv = SlimConv1d(1, channels, self.kernel_size, frame_stride)
        self.gru = DiagonalGRU(channels)
        self.classifier = nn.Linear(channels, len(self.ufs))

    def input_length(self, frames):
        """Input samples needed for ``frames`` decisions."""
        return (frames - 1) * self.frame_stride + self.kernel_size

    def macs_per_frame(self):
        """MACs per decision: the conv, the GRU's input projections and the classifier."""
        return self.channels * (self.kernel_size + 3 * self.channels + len(self.ufs))

    def streaming(self):
        """A :class:`RouterStream` of this router: logits frame by frame as audio arrives."""
        return RouterStream(self)

    def forward(self, waveform, frames):
        """Logits ``[batch, frames, J]`` for ``waveform`` [batch, time] (zero-padded or cut)."""
        needed = self.input_length(frames)
        if waveform.shape[-1] < needed:
            waveform = nn.functional.pad(waveform, (0, needed - waveform.shape[-1]))
        features = torch.relu(self.conv(waveform[:, :needed].unsqueeze(-1)))
        hidden, _ = self.gru(features)
        return self.classifier(hidden)


class RouterStream:
    """A stateful :class:`Router` for a stream: logits for one frame per ``frame_stride``
    normalised samples, as they arrive.

    The router's layers written out on cached weights (its conv as one GEMM over
    the frames' windows, its diagonal GRU step by step with :func:`diagonal_gru_step`):
    no module calls per frame.

    Arguments
    ---------
    router : Router
        The router (its weights are read once).

    Example
    -------
    >>> router, x = Router(frame_stride=64, channels=8), torch.randn(64 * 6)
    >>> stream = router.streaming()
    >>> stream.reset()
    >>> logits = torch.cat([stream.push(x[:200]), stream.push(x[200:], total_frames=5)])
    >>> torch.allclose(logits, router(x[None], frames=5)[0], atol=1e-5)
    True
    """

    def __init__(self, router):
        self.stride, self.kernel = router.frame_stride, router.kernel_size
        conv, gru, classifier = router.conv, router.gru, router.classifier
        self.span = conv.taps * conv.stride  # a window in the conv's padded tap layout
        self.conv = (conv.bias.detach(),
                     conv.masked_weight().detach().reshape(conv.out_channels, -1).t())
        self.projection = (gru.input_proj.bias.detach(), gru.input_proj.weight.detach().t())
        self.recurrent, self.recurrent_bias = gru.recurrent.detach(), gru.recurrent_bias.detach()
        self.classifier = (classifier.bias.detach(), classifier.weight.detach().t())
        self.channels = gru.channels

    def reset(self):
        self.inputs = self.recurrent.new_zeros(0)
        self.start = self.done = 0
        self.hidden = self.recurrent.new_zeros(self.channels)

    @staticmethod
    def ready(received, kernel, stride):
        return max(0, (received - kernel) // stride + 1)

    def push(self, x, total_frames=None):
        """Adds normalised samples; returns the new frames' logits ``[frames, J]`` (up to
        ``total_frames`` frames in all, if given)."""
        self.inputs = torch.cat((self.inputs, x))
        end = self.start + self.inputs.shape[0]
        last = total_frames or self.ready(end, self.kernel, self.stride)
        if last <= self.done:
            return self.classifier[0].new_zeros(0, self.classifier[0].shape[0])
        frames = last - self.done
        first_sample = self.stride * self.done - self.start
        needed = self.stride * (frames - 1) + self.span
        window = self.inputs[first_sample : first_sample + needed]
        if window.shape[0] < needed:  # past the stream's end, or the tap layout's padding
            window = F.pad(window, (0, needed - window.shape[0]))
        windows = window.unfold(0, self.span, self.stride)  # [frames, span]
        features = torch.addmm(self.conv[0], windows, self.conv[1]).relu_()
        projected = torch.addmm(self.projection[0], features, self.projection[1])
        projected = projected.view(frames, 3, self.channels)
        hidden = diagonal_gru_scan(projected.unsqueeze(0), self.hidden, self.recurrent,
                                   self.recurrent_bias)[0]
        self.hidden = hidden[-1]
        logits = torch.addmm(self.classifier[0], hidden, self.classifier[1])
        drop = self.stride * last - self.start
        self.inputs, self.start, self.done = self.inputs[drop:], self.start + drop, last
        return logits
