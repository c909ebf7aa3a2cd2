"""Recurrent bottlenecks for SlimDemucs: DEMUCS's LSTM and the paper's grouped GRU.

Both take and return channels-last ``[batch, frames, channels]`` tensors and are
never slimmed. Each also gives its MACs per frame, a stateful stream
(:class:`LSTMStream`, :class:`GroupedGRUStream`: frames in as they arrive) and a
plain torch copy for static export. They are unidirectional when the model is causal; otherwise
bidirectional, followed by a linear layer back to ``channels``.

Authors
 * speechbrain-slim contributors 2026
"""

import torch
from torch import nn

from speechbrain_slim.nnet.static_blocks import StaticGroupedGRU, StaticLSTM, load_copies

__all__ = ["LSTMBottleneck", "GroupedGRU", "LSTMStream", "GroupedGRUStream", "recurrent_macs"]


class LSTMBottleneck(nn.Module):
    """DEMUCS's bottleneck: a stacked LSTM (+ a Linear layer when bidirectional).

    Parameter names match ``denoiser.demucs.BLSTM`` (``lstm.*``, ``linear.*``).

    Arguments
    ---------
    channels : int
        Input and output width.
    layers : int
        Number of stacked LSTM layers.
    bidirectional : bool
        Runs both directions (non-causal models).

    Example
    -------
    >>> lstm = LSTMBottleneck(64)
    >>> lstm(torch.randn(2, 5, 64)).shape
    torch.Size([2, 5, 64])
    """

    def __init__(self, channels, layers=2, bidirectional=False):
        super().__init__()
        self.channels = channels
        self.layers = layers
        self.bidirectional = bidirectional
        self.lstm = nn.LSTM(
            channels, channels, num_layers=layers, bidirectional=bidirectional, batch_first=True
        )
        self.linear = nn.Linear(2 * channels, channels) if bidirectional else None

    def macs_per_frame(self):
        """MACs per frame: 4 gates of input and recurrent weights per layer and direction.

        Example
        -------
        >>> LSTMBottleneck(64).macs_per_frame()
        65536
        """
        return recurrent_macs(self.channels, self.layers, self.bidirectional, gates=4)

    def static(self):
        """This bottleneck as a plain torch :class:`StaticLSTM` (``[B, C, frames]``, copied).

        Example
        -------
        >>> lstm, x = LSTMBottleneck(8), torch.randn(2, 5, 8)
        >>> torch.allclose(lstm.static()(x.transpose(1, 2)).transpose(1, 2), lstm(x), atol=1e-6)
        True
        """
        static = StaticLSTM(self.channels, self.layers, self.bidirectional)
        return load_copies(static, _prefixed({"lstm": self.lstm, "linear": self.linear}),
                           like=self.lstm.weight_ih_l0)

    def streaming(self):
        """A stateful :class:`LSTMStream` of this bottleneck (unidirectional only)."""
        if self.bidirectional:
            raise ValueError("a bidirectional bottleneck cannot stream")
        return LSTMStream(self)

    def forward(self, x):
        """Runs the LSTM over ``x`` [batch, frames, channels]."""
        out, _ = self.lstm(x)
        return self.linear(out) if self.linear is not None else out


class GroupedGRU(nn.Module):
    """Grouped GRU: the channels are split into groups, each run through its own GRU.

    Costs ``groups`` times fewer recurrent MACs than one GRU over all channels.

    Arguments
    ---------
    channels : int
        Input and output width (divisible by ``groups``).
    groups : int
        Number of channel groups, each with its own GRU.
    layers : int
        Stacked GRU layers per group.
    bidirectional : bool
        Runs both directions (non-causal models), then a Linear back to ``channels``.

    Example
    -------
    >>> gru = GroupedGRU(512, groups=4, layers=1)
    >>> gru(torch.randn(2, 5, 512)).shape
    torch.Size([2, 5, 512])
    """

    def __init__(self, channels, groups=4, layers=1, bidirectional=False):
        super().__init__()
        if channels % groups:
            raise ValueError(f"{channels} channels cannot be split into {groups} equal groups")
        self.channels = channels
        self.groups = groups
        self.layers = layers
        self.bidirectional = bidirectional
        width = channels // groups
        self.grus = nn.ModuleList(
            nn.GRU(width, width, num_layers=layers, bidirectional=bidirectional, batch_first=True)
            for _ in range(groups)
        )
        self.linear = nn.Linear(2 * channels, channels) if bidirectional else None

    def macs_per_frame(self):
        """MACs per frame: 3 gates of input and recurrent weights per group, layer, direction.

        Example
        -------
        >>> GroupedGRU(512, groups=4, layers=1).macs_per_frame()
        393216
        """
        return recurrent_macs(self.channels, self.layers, self.bidirectional, gates=3,
                              groups=self.groups)

    def static(self):
        """This bottleneck as a plain torch :class:`StaticGroupedGRU` (``[B, C, frames]``, copied).

        Example
        -------
        >>> gru, x = GroupedGRU(8, groups=2), torch.randn(2, 5, 8)
        >>> torch.allclose(gru.static()(x.transpose(1, 2)).transpose(1, 2), gru(x), atol=1e-6)
        True
        """
        static = StaticGroupedGRU(self.channels, self.groups, self.layers, self.bidirectional)
        return load_copies(static, _prefixed({"grus": self.grus, "linear": self.linear}),
                           like=self.grus[0].weight_ih_l0)

    def streaming(self):
        """A stateful :class:`GroupedGRUStream` of this bottleneck (unidirectional only)."""
        if self.bidirectional:
            raise ValueError("a bidirectional bottleneck cannot stream")
        return GroupedGRUStream(self)

    def forward(self, x):
        """Runs each group's GRU over its slice of ``x`` [batch, frames, channels]."""
        if self.bidirectional:
            chunks = x.chunk(self.groups, dim=-1)
            outs = [gru(chunk.contiguous())[0] for gru, chunk in zip(self.grus, chunks)]
            return self.linear(torch.cat(outs, dim=-1))
        for layer in range(self.layers):
            x = self.scan_layer(x, layer)
        return x

    def scan_layer(self, x, layer):
        """One unidirectional layer of all groups at once (same maths as ``torch.nn.GRU``).

        The input projections of every frame are one batched GEMM; each step then
        needs a single batched GEMM over the groups, instead of one small GEMM per
        group and step. This runs the bottleneck ~3x faster than ``nn.GRU`` on CPU.
        """
        batch, frames, channels = x.shape
        groups, width = self.groups, channels // self.groups
        w_ih = torch.stack([getattr(g, f"weight_ih_l{layer}") for g in self.grus])
        w_hh = torch.stack([getattr(g, f"weight_hh_l{layer}") for g in self.grus])
        b_ih = torch.stack([getattr(g, f"bias_ih_l{layer}") for g in self.grus])
        b_hh = torch.stack([getattr(g, f"bias_hh_l{layer}") for g in self.grus])
        # Reset/update gates need x- and h-projections summed: both biases go into the
        # x-projection, so each step adds h @ W_hh onto it in a single baddbmm.
        bias = b_ih + torch.cat([b_hh[:, : 2 * width], torch.zeros_like(b_hh[:, 2 * width :])], 1)
        inputs = x.reshape(batch * frames, groups, width).transpose(0, 1)
        projected = torch.baddbmm(bias.unsqueeze(1), inputs, w_ih.transpose(1, 2))
        projected = projected.view(groups, batch, frames, 3 * width)
        if not torch.is_grad_enabled():
            return self._scan_inference(x, projected, w_hh, b_hh)
        w_rz = w_hh[:, : 2 * width].transpose(1, 2).contiguous()
        w_n = w_hh[:, 2 * width :].transpose(1, 2).contiguous()
        b_n = b_hh[:, 2 * width :].unsqueeze(1)
        hidden = x.new_zeros(groups, batch, width)
        outputs = []
        for frame in range(frames):
            gates_x = projected[:, :, frame]
            reset_update = torch.baddbmm(gates_x[..., : 2 * width], hidden, w_rz).sigmoid()
            candidate = torch.addcmul(
                gates_x[..., 2 * width :],
                reset_update[..., :width],
                torch.baddbmm(b_n, hidden, w_n),
            ).tanh()
            hidden = torch.lerp(candidate, hidden, reset_update[..., width:])
            outputs.append(hidden)
        out = torch.stack(outputs, dim=2)  # [groups, batch, frames, width]
        return out.permute(1, 2, 0, 3).reshape(batch, frames, channels)

    @staticmethod
    def _scan_inference(x, projected, w_hh, b_hh):
        """:meth:`scan_layer`'s steps without autograd: five ops per step, into buffers.

        ``projected`` ([groups, batch, frames, 3 * width]) holds every bias but ``b_hn``;
        with ``b_hn`` added, one batched GEMM per step adds ``h @ W_hh`` onto it
        (reset/update pre-activations and ``n_x + n_h``), and with ``n_x`` kept aside the
        candidate is
        ``tanh(lerp(n_x, P_n + h W_hn, r))`` (as :class:`GroupedGRUStream`). Every step
        writes into preallocated buffers whose slices are made once, so a step costs
        five dispatches instead of a dozen (the bottleneck's time is per-op overhead).
        """
        groups, batch, frames, gates_width = projected.shape
        width = gates_width // 3
        projected = projected.transpose(1, 2).contiguous()  # [groups, frames, batch, 3w]
        n_x = projected[..., 2 * width :].clone()
        projected[..., 2 * width :] += b_hh[:, 2 * width :].view(groups, 1, 1, width)
        w_t = w_hh.transpose(1, 2).contiguous()
        out = x.new_empty(groups, frames, batch, width)
        hidden = x.new_zeros(groups, batch, width)
        gates = x.new_empty(groups, batch, 3 * width)
        reset_update, reset = gates[..., : 2 * width], gates[..., :width]
        update, new = gates[..., width : 2 * width], gates[..., 2 * width :]
        candidate = x.new_empty(groups, batch, width)
        for step, n_step, output in zip(projected.unbind(1), n_x.unbind(1), out.unbind(1)):
            torch.baddbmm(step, hidden, w_t, out=gates)
            reset_update.sigmoid_()
            torch.lerp(n_step, new, reset, out=candidate).tanh_()
            hidden = torch.lerp(candidate, hidden, update, out=output)
        return out.permute(2, 1, 0, 3).reshape(batch, frames, groups * width)


class LSTMStream:
    """Stateful steps of :class:`LSTMBottleneck`, reading its ``nn.LSTM`` weights.

    Written out (input projections of all new frames in one GEMM, then one GEMM
    per step): ``nn.LSTM`` called frame by frame is 6x (oneDNN: 50x) slower on CPU.

    Arguments
    ---------
    bottleneck : LSTMBottleneck
        A unidirectional LSTM bottleneck (its weights are read once).

    Example
    -------
    >>> lstm, x = LSTMBottleneck(8), torch.randn(1, 5, 8)
    >>> stream = lstm.streaming()
    >>> stream.reset()
    >>> out = torch.cat([stream(x[0, :2]), stream(x[0, 2:])])
    >>> torch.allclose(out, lstm(x)[0], atol=1e-6)
    True
    """

    def __init__(self, bottleneck):
        lstm = bottleneck.lstm
        self.layers, self.hidden_size = lstm.num_layers, lstm.hidden_size
        self.weights = []
        for layer in range(self.layers):
            def weight(name, layer=layer):
                return getattr(lstm, f"{name}_l{layer}").detach()

            self.weights.append((weight("bias_ih") + weight("bias_hh"),
                                 weight("weight_ih").t(), weight("weight_hh").t()))

    def reset(self):
        zeros = self.weights[0][0].new_zeros(1, self.hidden_size)
        self.state = [(zeros, zeros) for _ in range(self.layers)]

    def __call__(self, x):
        size = self.hidden_size
        for layer, (bias, w_ih, w_hh) in enumerate(self.weights):
            projected = torch.addmm(bias, x, w_ih)  # [frames, 4 * hidden]: i, f, g, o
            hidden, cell = self.state[layer]
            outputs = []
            for frame in range(x.shape[0]):
                gates = torch.addmm(projected[frame : frame + 1], hidden, w_hh)
                sigmoid = gates.sigmoid()
                cell = torch.addcmul(sigmoid[:, size : 2 * size] * cell, sigmoid[:, :size],
                                     gates[:, 2 * size : 3 * size].tanh())
                hidden = sigmoid[:, 3 * size :] * cell.tanh()
                outputs.append(hidden)
            self.state[layer] = (hidden, cell)
            x = torch.cat(outputs) if len(outputs) > 1 else outputs[0]
        return x


class GroupedGRUStream:
    """Stateful steps of :class:`GroupedGRU`: one batched GEMM per step for all groups.

    The input projections ``P`` of all new frames carry every bias
    (``b_i* + b_h*``); a step's single GEMM adds ``h @ W_hh`` onto ``P``, giving
    the reset/update pre-activations and ``n_x + n_h`` at once. With
    ``n_x = P_n - b_hn`` kept aside, ``tanh(n_x + r * n_h)`` is
    ``tanh(lerp(n_x, P_n + h W_hn, r))``: four ops per step.

    Arguments
    ---------
    gru : GroupedGRU
        A unidirectional grouped GRU (its weights are read once).

    Example
    -------
    >>> gru, x = GroupedGRU(8, groups=2), torch.randn(1, 5, 8)
    >>> stream = gru.streaming()
    >>> stream.reset()
    >>> out = torch.cat([stream(x[0, :2]), stream(x[0, 2:])])
    >>> torch.allclose(out, gru(x)[0], atol=1e-6)
    True
    """

    def __init__(self, gru):
        self.groups, self.layers = gru.groups, gru.layers
        self.width = gru.channels // gru.groups
        self.weights = []
        for layer in range(gru.layers):
            def stack(name, layer=layer):
                return torch.stack([getattr(g, f"{name}_l{layer}").detach() for g in gru.grus])

            w_ih, w_hh, b_ih, b_hh = (stack(n) for n in ("weight_ih", "weight_hh", "bias_ih",
                                                          "bias_hh"))
            self.weights.append((
                (b_ih + b_hh).unsqueeze(1),  # [groups, 1, 3 * width]
                w_ih.transpose(1, 2).contiguous(),  # [groups, width, 3 * width]
                w_hh.transpose(1, 2).contiguous(),
                b_hh[:, 2 * self.width :].unsqueeze(1),  # b_hn: [groups, 1, width]
            ))

    def reset(self):
        like = self.weights[0][0]
        self.hidden = [like.new_zeros(self.groups, 1, self.width) for _ in range(self.layers)]
        # a step's buffers and their slices, made once (a step is then five dispatches)
        gates = like.new_empty(self.groups, 1, 3 * self.width)
        width = self.width
        self._step = (gates, gates[..., : 2 * width], gates[..., :width],
                      gates[..., width : 2 * width], gates[..., 2 * width :],
                      like.new_empty(self.groups, 1, width))

    def __call__(self, x):
        frames, channels = x.shape
        width = self.width
        gates, reset_update, reset, update, new, candidate = self._step
        for layer, (bias, w_ih, w_hh, b_hn) in enumerate(self.weights):
            inputs = x.view(frames, self.groups, width).transpose(0, 1)
            projected = torch.baddbmm(bias, inputs, w_ih)  # [groups, frames, 3 * width]
            n_x = projected[..., 2 * width :] - b_hn
            hidden = self.hidden[layer]
            out = x.new_empty(self.groups, frames, width)
            steps = ((projected, n_x, out),) if frames == 1 else zip(
                projected.split(1, dim=1), n_x.split(1, dim=1), out.split(1, dim=1))
            for step, n_step, output in steps:
                torch.baddbmm(step, hidden, w_hh, out=gates)
                reset_update.sigmoid_()
                torch.lerp(n_step, new, reset, out=candidate).tanh_()
                hidden = torch.lerp(candidate, hidden, update, out=output)
            self.hidden[layer] = hidden
            x = hidden.view(1, channels) if frames == 1 else out.transpose(0, 1).reshape(
                frames, channels)
        return x


def recurrent_macs(channels, layers, bidirectional, gates, groups=1):
    """MACs per frame of ``groups`` stacked RNNs over ``channels / groups`` channels each
    (``gates`` gates, input and recurrent weights), plus the Linear of a bidirectional one.

    Example
    -------
    >>> recurrent_macs(8, layers=1, bidirectional=False, gates=3)
    384
    """
    directions = 2 if bidirectional else 1
    width = channels // groups
    macs = 0
    for layer in range(layers):
        inputs = width if layer == 0 else width * directions
        macs += directions * gates * (inputs * width + width * width)
    macs *= groups
    if bidirectional:
        macs += 2 * channels * channels
    return macs


def _prefixed(modules):
    """The state dicts of ``{name: module or None}`` as one, keys prefixed with the name."""
    return {f"{name}.{key}": value for name, module in modules.items() if module is not None
            for key, value in module.state_dict().items()}
