"""Static export: a SlimDemucs frozen at one utilization factor, as a plain torch model.

:func:`export_static` returns a SlimDemucs frozen at one UF as a
:class:`~speechbrain_slim.lobes.static_demucs.StaticDemucs` (re-exported here): plain
torch layers holding only that UF's weights, built by
:meth:`~speechbrain_slim.lobes.slim_demucs.SlimDemucs.export_static` from its blocks'
``static(uf)`` layers (:mod:`speechbrain_slim.nnet.static_blocks` lists the shapes).
``torch.jit.script`` compiles it: :func:`save_torchscript` writes a file that
``torch.jit.load`` runs without this package. :func:`save_onnx` exports one fixed
input length to ONNX (see its notes).

Command line::

    python -m speechbrain_slim.export hub/slim-demucs-embedded --uf 0.25 \\
        --out model_uf0.25.pt [--onnx model_uf0.25.onnx --onnx-length 16000]

Authors
 * speechbrain-slim contributors 2026
"""

import argparse
import warnings

import torch

from speechbrain_slim.lobes.slim_demucs import SlimDemucs
from speechbrain_slim.lobes.static_demucs import StaticDemucs

__all__ = ["StaticDemucs", "export_static", "save_torchscript", "save_onnx"]


def export_static(model, uf):
    """Returns a :class:`StaticDemucs` computing ``model(noisy, uf)[0]`` with UF's weights only.

    Arguments
    ---------
    model : SlimDemucs
        The slimmable model.
    uf : float
        One of ``model.ufs``.

    Returns
    -------
    StaticDemucs
        On the model's device and dtype, in eval mode.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=8, depth=2, normalize="running")
    >>> static = export_static(model, 0.5)
    >>> [tuple(block.conv.weight.shape) for block in static.encoder]
    [(4, 1, 8), (8, 8, 8)]
    >>> export_static(model, 0.3)
    Traceback (most recent call last):
    ...
    ValueError: uf=0.3 is not one of the model's utilization factors (0.125, 0.25, 0.5, 1.0)
    """
    if not isinstance(model, SlimDemucs):
        raise ValueError(f"export_static needs a SlimDemucs, got {type(model).__name__}")
    return model.export_static(uf)


def save_torchscript(model, uf, path):
    """Exports ``model`` at ``uf`` and writes it with ``torch.jit.save``.

    The file runs with ``torch.jit.load(path)(noisy)`` (``[batch, time]`` -> ``[batch, time]``,
    any length), without ``speechbrain_slim``.

    Arguments
    ---------
    model : SlimDemucs
        The slimmable model.
    uf : float
        One of ``model.ufs``.
    path : str or path-like
        Output file.

    Returns
    -------
    torch.jit.ScriptModule
        The scripted static model that was saved.

    Example
    -------
    >>> import os, tempfile
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> _ = save_torchscript(model, 0.25, path)
    >>> loaded = torch.jit.load(path)
    >>> noisy = torch.randn(1, 777)
    >>> with torch.no_grad():
    ...     bool((loaded(noisy) - model(noisy, 0.25)[0]).abs().max() < 1e-5)
    True
    """
    scripted = torch.jit.script(export_static(model, uf).cpu())
    torch.jit.save(scripted, str(path))
    return scripted


def save_onnx(model, uf, path, length=16_000, batch=1, opset=None):
    """Exports ``model`` at ``uf`` to ONNX for inputs of one fixed shape ``[batch, length]``.

    What works (tested with onnxruntime, max abs difference to the slim model ~1e-7):
    LSTM and grouped-GRU bottlenecks (native ONNX ``LSTM``/``GRU`` nodes, one per
    group), causal or not, with ``"global"``, ``"running"`` or no normalisation, at the
    fixed input shape given here (exporter: ``torch.onnx.export(..., dynamo=True)``).
    The graph is traced at that shape, so the padding to a valid length, the
    resampler's blocks and the running std's chunks are baked in: run other lengths
    through a graph of their own, or zero-pad them to ``length`` and crop the output
    (exact before the last ``model.lookahead`` samples for causal models with
    ``"running"`` or no normalisation; otherwise the padding changes every sample).
    A dynamic length does not export (torch 2.14: the exporter's decomposition of
    ``aten.lstm``/``aten.gru`` fails on a symbolic number of frames); for
    any-length inference use :func:`save_torchscript`.

    Arguments
    ---------
    model : SlimDemucs
        The slimmable model.
    uf : float
        One of ``model.ufs``.
    path : str or path-like
        Output ``.onnx`` file (input ``noisy`` [batch, length], output ``enhanced``).
    length : int
        Input length in samples.
    batch : int
        Batch size.
    opset : int, optional
        ONNX opset (the exporter's default if omitted).

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> model = SlimDemucs(hidden=4, depth=2, bottleneck="grouped_gru", gru_groups=2)
    >>> path = save_onnx(model, 0.5, os.path.join(tempfile.mkdtemp(), "m.onnx"), length=700)
    >>> session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    >>> noisy = torch.randn(1, 700)
    >>> (out,) = session.run(None, {"noisy": noisy.numpy()})
    >>> with torch.no_grad():
    ...     bool(np.abs(out - model(noisy, 0.5)[0].numpy()).max() < 1e-5)
    True
    """
    static = export_static(model, uf).cpu()
    example = torch.zeros(batch, length)
    kwargs = {} if opset is None else {"opset_version": opset}
    with torch.no_grad(), warnings.catch_warnings():
        # torch.export notes that nn.GRU/nn.LSTM re-assign their flat weight list.
        warnings.filterwarnings("ignore", message=".*_flat_weights.*")
        torch.onnx.export(
            static, (example,), str(path), input_names=["noisy"], output_names=["enhanced"],
            dynamo=True, external_data=False, verbose=False, **kwargs,
        )
    return str(path)


def main(argv=None):
    """Command line: export a pretrained EnhanceSlim's SlimDemucs at one UF.

    Arguments
    ---------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` if omitted).

    Returns
    -------
    int
        Exit status.

    Example
    -------
    >>> main(["--help"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    SystemExit: 0
    """
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_slim.export",
        description="Export a SlimDemucs at one utilization factor as a static TorchScript "
        "(and optionally ONNX) model holding only that UF's weights.",
    )
    parser.add_argument("source", help="EnhanceSlim source: a local folder or a Hub repo id")
    parser.add_argument("--uf", type=float, required=True, help="utilization factor to export")
    parser.add_argument("--out", required=True, help="TorchScript output file (.pt)")
    parser.add_argument("--savedir", default=None, help="where from_hparams puts the files")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="load a model folder whose hyperparams.yaml names other code")
    parser.add_argument("--onnx", default=None, help="also write an ONNX file here")
    parser.add_argument("--onnx-length", type=int, default=16_000,
                        help="fixed input length (samples) of the ONNX graph")
    args = parser.parse_args(argv)

    import tempfile

    from speechbrain_slim import EnhanceSlim

    # torch 2.14 marks torch.jit as deprecated; the files it writes load and run as usual.
    warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=FutureWarning)
    savedir = args.savedir or tempfile.mkdtemp(prefix="speechbrain_slim_export_")
    enhancer = EnhanceSlim.from_hparams(source=args.source, savedir=savedir,
                                        trust_remote_code=args.trust_remote_code)
    model = enhancer.model.cpu().eval()
    save_torchscript(model, args.uf, args.out)
    print(f"wrote {args.out} (TorchScript, UF {args.uf}, any input length)")
    if args.onnx:
        save_onnx(model, args.uf, args.onnx, length=args.onnx_length)
        print(f"wrote {args.onnx} (ONNX, input [1, {args.onnx_length}])")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
