"""Compute accounting for SlimDemucs: MACs per input sample, GMAC/s and parameters per UF.

MACs count the multiply-accumulates of the weights (biases, activations, the
GLU products and skip additions are not counted):

* **slimmed** part: every encoder/decoder block's strided conv, transposed conv
  and 1x1 conv, at ``ceil(C * uf)`` internal channels;
* **fixed** part: the recurrent bottleneck (all gates, input and recurrent
  weights, every layer and direction, plus the Linear of bidirectional models)
  and the windowed-sinc resampling (``2 * zeros`` taps per interpolated sample;
  with resample=4: 1 + 2 interpolated samples per input sample up, 2 + 1 down).

For the paper config (hidden=32, depth=5, K=8, S=4, resample=4, grouped GRU with
4 groups, 1 layer) the slimmed part is exactly ``53,760 * uf`` MACs per input
sample and the fixed part ``1,536`` (GRU) ``+ 672`` (resampling) ``= 2,208``.

The per-block formulas belong to the blocks (``macs_per_frame``, ``parameters_at`` of
:mod:`speechbrain_slim.nnet.demucs_blocks` and :mod:`speechbrain_slim.nnet.recurrent`);
this module adds them up per level and frame. :class:`HookMacCounter` counts
independently, from the shapes a real forward pass sees.

Run ``python -m speechbrain_slim.complexity hparams/slim_demucs.yaml`` for the table.

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import sys

import torch

from speechbrain_slim.nnet.recurrent import GroupedGRU
from speechbrain_slim.nnet.slimmable import (
    SlimConv1d,
    SlimConvTranspose1d,
    SlimPointwise,
)

__all__ = [
    "block_macs_per_frame",
    "recurrent_macs_per_frame",
    "macs_per_sample",
    "macs_per_uf",
    "resampling_macs",
    "count_macs",
    "parameters_at",
    "complexity_table",
    "format_table",
    "time_per_uf",
    "HookMacCounter",
]


def block_macs_per_frame(model, index, uf):
    """MACs of encoder block ``index`` plus its mirror decoder block, per frame of that level.

    Arguments
    ---------
    model : SlimDemucs
        The model.
    index : int
        Encoder level (0 = first, highest frame rate).
    uf : float
        Utilization factor.

    Returns
    -------
    int
        ``cin * w * K + w * halves * C`` (encoder) ``+ C * halves * w + w * cin * K`` (decoder)
        with ``w = ceil(C * uf)`` and ``halves = 2`` with GLU.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=32, depth=5, bottleneck="grouped_gru")
    >>> block_macs_per_frame(model, 0, 1.0)
    4608
    """
    decoder = model.decoder[model.depth - 1 - index]
    return model.encoder[index].macs_per_frame(uf) + decoder.macs_per_frame(uf)


def recurrent_macs_per_frame(model):
    """MACs of the recurrent bottleneck per bottleneck frame (never slimmed).

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=32, depth=5, bottleneck="grouped_gru", gru_groups=4)
    >>> recurrent_macs_per_frame(model)
    393216
    """
    return model.bottleneck.macs_per_frame()


def resampling_macs(model, input_length):
    """MACs of the sinc resampling for an input of ``input_length`` (already padded).

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2, resample=1)
    >>> resampling_macs(model, model.valid_length(1000))
    0
    """
    interpolated, length = 0, input_length
    for _ in range(model.resampler.steps):
        interpolated += length  # upsampling interpolates one sample per input sample
        length *= 2
    for _ in range(model.resampler.steps):
        length = -(-length // 2)
        interpolated += length  # downsampling interpolates every odd sample
    return interpolated * model.resampler.taps


def macs_per_sample(model, uf=1.0):
    """Asymptotic MACs per input sample at a UF, split into slimmed and fixed parts.

    Arguments
    ---------
    model : SlimDemucs
        The model.
    uf : float
        Utilization factor.

    Returns
    -------
    dict
        ``slimmed``, ``fixed`` and ``total`` MACs per input sample.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> paper = SlimDemucs(hidden=32, depth=5, bottleneck="grouped_gru", gru_groups=4)
    >>> macs_per_sample(paper, 0.125)
    {'slimmed': 6720.0, 'fixed': 2208.0, 'total': 8928.0}
    """
    slimmed = 0.0
    for index in range(model.depth):
        frames_per_sample = model.resample / model.stride ** (index + 1)
        slimmed += frames_per_sample * block_macs_per_frame(model, index, uf)
    fixed = recurrent_macs_per_frame(model) / model.total_stride
    fixed += 2 * (model.resample - 1) * model.resampler.taps if model.resample > 1 else 0
    return {"slimmed": slimmed, "fixed": float(fixed), "total": slimmed + fixed}


def macs_per_uf(model):
    """Total MACs per input sample at each of the model's UFs (ascending), for hparams.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> macs_per_uf(SlimDemucs(hidden=32, depth=5, bottleneck="grouped_gru", gru_groups=4))[0]
    8928.0
    """
    return [macs_per_sample(model, uf)["total"] for uf in model.ufs]


def count_macs(model, length, uf=1.0):
    """Exact MACs SlimDemucs spends on one waveform of ``length`` samples.

    Arguments
    ---------
    model : SlimDemucs
        The model.
    length : int
        Input length in samples (before padding to a valid length).
    uf : float or torch.Tensor
        A UF, or the waveform's decision track (``[bottleneck_frames]`` UFs): every
        frame of every block is then counted at the width its decision gives it.

    Returns
    -------
    int
        MACs for one waveform, including the padding DEMUCS adds.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=32, depth=5, bottleneck="grouped_gru")
    >>> count_macs(model, 16000, 0.5) < count_macs(model, 16000, 1.0)
    True
    >>> frames = model.bottleneck_frames(16000)
    >>> count_macs(model, 16000, torch.full((frames,), 0.5)) == count_macs(model, 16000, 0.5)
    True
    """
    levels = model.level_frames(length)
    macs = resampling_macs(model, model.valid_length(length))
    for index, frames in enumerate(levels):
        if isinstance(uf, torch.Tensor):
            level_track = model.track_at_level(uf.view(1, -1), index, frames)[0]
            counted = 0
            for value in model.ufs:  # J comparisons: cheaper than sorting the track
                count = int((level_track == value).sum())
                counted += count
                if count:
                    macs += count * block_macs_per_frame(model, index, value)
            if counted != level_track.numel():
                raise ValueError(f"track holds UFs outside the model's {list(model.ufs)}")
        else:
            macs += frames * block_macs_per_frame(model, index, uf)
    return macs + levels[-1] * recurrent_macs_per_frame(model)


def parameters_at(model, uf=1.0):
    """Number of parameters a forward pass at ``uf`` reads (the bottleneck in full).

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=8, depth=2)
    >>> parameters_at(model, 1.0) == sum(p.numel() for p in model.parameters())
    True
    """
    total = sum(p.numel() for p in model.bottleneck.parameters())
    for encoder, decoder in zip(model.encoder, reversed(model.decoder)):
        total += encoder.parameters_at(uf) + decoder.parameters_at(uf)
    return total


def complexity_table(model, times=None):
    """Parameters, MACs per sample and GMAC per second of audio for each of the model's UFs.

    Arguments
    ---------
    model : SlimDemucs
        The model.
    times : dict, optional
        ``{uf: seconds per second of audio}`` (:func:`time_per_uf`): adds each UF's
        measured ``rtf`` and ``time_ratio`` (time / time(UF 1)) next to its MACs.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> rows = complexity_table(SlimDemucs(hidden=32, depth=5, bottleneck="grouped_gru"))
    >>> [round(row["macs_per_sample"]) for row in rows]
    [8928, 15648, 29088, 55968]
    """
    full = macs_per_sample(model, 1.0)["total"]
    rows = []
    for uf in model.ufs:
        macs = macs_per_sample(model, uf)
        rows.append(
            {
                "uf": uf,
                "params": parameters_at(model, uf),
                "macs_per_sample": macs["total"],
                "slimmed_macs_per_sample": macs["slimmed"],
                "fixed_macs_per_sample": macs["fixed"],
                "gmac_per_second": macs["total"] * model.sample_rate / 1e9,
                "mac_ratio": macs["total"] / full,
            }
        )
        if times is not None:
            rows[-1]["rtf"] = times[uf]
            rows[-1]["time_ratio"] = times[uf] / times[max(model.ufs)]
    return rows


def time_per_uf(model, seconds=4.0, repeats=3, threads=1):
    """Measured CPU time of an offline pass at each UF, per second of audio (real-time factor).

    One waveform of ``seconds`` of noise, batch 1, ``threads`` threads, inference mode; the
    UFs are timed round-robin (best of ``repeats``, this thread's CPU time), so their
    ratios are measured side by side. It is what a user's pass costs, MACs or not:
    resampling, full-width block outputs and per-op overhead do not shrink with the UF
    (see ``benchmarks/profile_blocks.py`` for where the time goes).

    Returns
    -------
    dict
        ``{uf: seconds of CPU time per second of audio}``.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> times = time_per_uf(SlimDemucs(hidden=4, depth=2), seconds=0.1, repeats=1)
    >>> sorted(times) == [0.125, 0.25, 0.5, 1.0] and all(t > 0 for t in times.values())
    True
    """
    import time

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(0)
        reference = next(model.parameters())
        noisy = 0.1 * torch.randn(1, int(seconds * model.sample_rate), generator=generator)
        noisy = noisy.to(reference.device, reference.dtype)
        best = {uf: float("inf") for uf in model.ufs}
        with torch.inference_mode():
            for uf in model.ufs:  # warm-up
                model(noisy, uf)
            for _ in range(repeats):
                for uf in model.ufs:
                    start = time.thread_time()
                    model(noisy, uf)
                    best[uf] = min(best[uf], time.thread_time() - start)
    finally:
        torch.set_num_threads(previous)
    return {uf: spent / seconds for uf, spent in best.items()}


def format_table(rows):
    """Renders :func:`complexity_table` rows as a markdown table (with the measured time per
    UF when the rows have it)."""
    timed = all("rtf" in row for row in rows)
    lines = [
        "| UF | params | MACs/sample | slimmed | fixed | GMAC/s | MAC ratio |"
        + (" RTF (1 thread) | time ratio |" if timed else ""),
        "|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if timed else ""),
    ]
    for row in rows:
        lines.append(
            f"| {row['uf']:g} | {row['params']:,} | {row['macs_per_sample']:,.0f} "
            f"| {row['slimmed_macs_per_sample']:,.0f} | {row['fixed_macs_per_sample']:,.0f} "
            f"| {row['gmac_per_second']:.3f} | {row['mac_ratio']:.3f} |"
            + (f" {row['rtf']:.4f} | {row['time_ratio']:.2f} |" if timed else "")
        )
    return "\n".join(lines)


class HookMacCounter:
    """Counts MACs during a real forward pass from the shapes each layer sees.

    Independent of the analytic formulas above: it hooks the slimmable
    convolutions, the recurrent layers and the resampler and multiplies
    the tensor shapes that actually flow through them.

    Arguments
    ---------
    model : SlimDemucs
        The model to observe.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=8, depth=3)
    >>> with HookMacCounter(model) as counter:
    ...     _ = model(torch.randn(1, 4000), uf=0.5)
    >>> counter.macs == count_macs(model, 4000, 0.5)
    True
    """

    def __init__(self, model):
        self.model = model
        self.macs = 0
        self._handles = []
        self._wrapped = []

    def _conv(self, module, inputs, output):
        x = inputs[0]
        if isinstance(module, SlimConv1d):
            self.macs += output.numel() * x.shape[-1] * module.kernel_size
        else:  # SlimPointwise
            self.macs += x.numel() * output.shape[-1] * module.halves

    def _recurrent(self, module, inputs, output):
        x = inputs[0]
        steps = x.shape[0] * x.shape[1]
        gates = 4 if isinstance(module, torch.nn.LSTM) else 3
        directions = 2 if module.bidirectional else 1
        width = module.hidden_size
        for layer in range(module.num_layers):
            inputs_width = module.input_size if layer == 0 else width * directions
            self.macs += steps * directions * gates * (inputs_width + width) * width

    def _linear(self, module, inputs, output):
        self.macs += inputs[0].numel() * module.out_features

    def _wrap(self, owner, name, count):
        method = getattr(owner, name)

        def counted(*args, **kwargs):
            out = method(*args, **kwargs)
            self.macs += count(args, out)
            return out

        setattr(owner, name, counted)
        self._wrapped.append((owner, name))

    def _resampling(self, direction):
        def count(args, out):
            x = args[0]
            length, interpolated = x.shape[-1], 0
            for _ in range(self.model.resampler.steps):
                if direction == "up":
                    interpolated += length
                    length *= 2
                else:
                    length = -(-length // 2)
                    interpolated += length
            return x.numel() // x.shape[-1] * interpolated * self.model.resampler.taps

        return count

    def __enter__(self):
        for module in self.model.modules():
            if isinstance(module, (SlimConv1d, SlimPointwise)):
                self._handles.append(module.register_forward_hook(self._conv))
            if isinstance(module, SlimConv1d):  # frames gathered by UF along a track
                self._wrap(
                    module,
                    "gathered_frames",
                    lambda args, out, m=module: out.numel() * m.in_channels * m.kernel_size,
                )
            elif isinstance(module, SlimConvTranspose1d):
                self._wrap(
                    module,
                    "frame_taps",
                    lambda args, out, m=module: args[0].numel() * m.out_channels * m.kernel_size,
                )
            elif isinstance(module, (torch.nn.LSTM, torch.nn.GRU)):
                self._handles.append(module.register_forward_hook(self._recurrent))
            elif isinstance(module, torch.nn.Linear):
                self._handles.append(module.register_forward_hook(self._linear))
            elif isinstance(module, GroupedGRU):
                # one unidirectional layer of all groups: 3 gates, input and recurrent weights
                self._wrap(
                    module,
                    "scan_layer",
                    lambda args, out, m=module: 6 * args[0].numel() * (out.shape[-1] // m.groups),
                )
        resampler = self.model.resampler
        self._wrap(resampler, "upsample", self._resampling("up"))
        self._wrap(resampler, "downsample", self._resampling("down"))
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        for owner, name in self._wrapped:
            delattr(owner, name)
        self._handles, self._wrapped = [], []
        return False


def load_model(hparams_file, overrides=None):
    """Instantiates the ``model`` entry of a HyperPyYAML file."""
    from hyperpyyaml import load_hyperpyyaml

    with open(hparams_file, encoding="utf-8") as stream:
        hparams = load_hyperpyyaml(stream, overrides or {})
    if "model" not in hparams:
        raise KeyError(f"{hparams_file} has no 'model' entry")
    return hparams["model"]


def main(argv=None):
    """Prints the complexity table of the model in a hparams file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hparams", help="HyperPyYAML file with a `model:` entry")
    args = parser.parse_args(argv)
    model = load_model(args.hparams)
    print(f"{type(model).__name__} from {args.hparams}")
    print(format_table(complexity_table(model)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
