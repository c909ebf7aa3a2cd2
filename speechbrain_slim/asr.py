"""Enhancement before speech recognition: EnhanceSlim chained with a SpeechBrain ASR interface.

* :class:`EnhancedASR` chains a loaded :class:`~speechbrain_slim.inference.EnhanceSlim` with
  any SpeechBrain ASR interface that has ``transcribe_batch(wavs, wav_lens)`` (e.g.
  ``speechbrain.inference.ASR.EncoderDecoderASR``), resampling the enhanced audio to the
  ASR's sample rate when the two differ. Relative lengths are unchanged by resampling.
* :class:`EnhanceFrontend` is the frozen front-end module for ASR *training* recipes: it
  wraps the ``enhance_model`` ModuleDict (``model`` + ``router``) that a ``Pretrainer``
  loads from a hub folder (see ``recipes/ASR_enhance``).

Trust. ``EnhancedASR.from_hparams`` and ``EnhanceFrontend.from_hparams`` load the
enhancement model folder as :meth:`EnhanceSlim.from_hparams
<speechbrain_slim.inference.EnhanceSlim.from_hparams>` does: its ``hyperparams.yaml`` may
only name speechbrain-slim's model classes unless ``trust_remote_code=True``, and the
checkpoint is read weights-only. The ASR interface itself is loaded by SpeechBrain, whose
``from_hparams`` runs whatever its ``hyperparams.yaml`` names: load ASR models only from
sources you trust.

Authors
 * speechbrain-slim contributors 2026
"""

import torch
import torchaudio

from speechbrain_slim.routing import parse_uf, route

__all__ = ["EnhancedASR", "EnhanceFrontend", "asr_sample_rate"]


def asr_sample_rate(asr, default=16000):
    """The sample rate an ASR interface expects (its audio normalizer's, else hparams')."""
    normalizer = getattr(asr, "audio_normalizer", None)
    if getattr(normalizer, "sample_rate", None):
        return int(normalizer.sample_rate)
    hparams = getattr(asr, "hparams", None)
    return int(getattr(hparams, "sample_rate", default) or default)


class EnhancedASR:
    """Transcribes enhanced speech: ``asr.transcribe_batch(enhancer.enhance_batch(...))``.

    Arguments
    ---------
    enhancer : EnhanceSlim
        The enhancement interface.
    asr : speechbrain.inference.interfaces.Pretrained
        An ASR interface with ``transcribe_batch(wavs, wav_lens)``.
    uf : str or float
        UF spec for the enhancer (``"auto"``, a UF, ``"max=<uf>"``).
    shift : float
        Router operating-point shift.

    Example
    -------
    >>> from speechbrain_slim.inference import EnhanceSlim
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> modules = {"enhance_model": torch.nn.ModuleDict({"model": SlimDemucs(hidden=4, depth=2)})}
    >>> enhancer = EnhanceSlim(modules=modules, hparams={}, run_opts={"device": "cpu"})
    >>> class LengthASR:  # stands in for EncoderDecoderASR: reports what it was given
    ...     sample_rate = 8000
    ...     def transcribe_batch(self, wavs, wav_lens):
    ...         return [f"{wavs.shape[-1]} samples"] * len(wavs), None
    >>> chain = EnhancedASR(enhancer, LengthASR(), uf=1.0)
    >>> chain.transcribe_batch(torch.randn(2, 16000), torch.tensor([1.0, 0.5]))[0]
    ['8000 samples', '8000 samples']
    """

    def __init__(self, enhancer, asr, uf="auto", shift=0.0):
        parse_uf(uf, enhancer.model.ufs)
        self.enhancer, self.asr, self.uf, self.shift = enhancer, asr, uf, shift
        self.sample_rate = int(getattr(asr, "sample_rate", 0) or asr_sample_rate(asr))

    @classmethod
    def from_hparams(cls, enhance_source, asr, uf="auto", shift=0.0, trust_remote_code=False,
                     **kwargs):
        """Loads the enhancer from ``enhance_source`` and chains it with ``asr``.

        Arguments
        ---------
        enhance_source : str
            Enhancement model folder or Hub repo id (``EnhanceSlim.from_hparams``).
        asr : speechbrain.inference.interfaces.Pretrained
            The loaded ASR interface.
        uf : str or float
            UF spec for the enhancer.
        shift : float
            Router operating-point shift.
        trust_remote_code : bool
            Load an enhancement folder whose ``hyperparams.yaml`` names other code.
        **kwargs
            Passed to ``EnhanceSlim.from_hparams`` (``savedir``, ``run_opts`` ...).

        Returns
        -------
        EnhancedASR
        """
        from speechbrain_slim.inference import EnhanceSlim

        enhancer = EnhanceSlim.from_hparams(source=enhance_source,
                                            trust_remote_code=trust_remote_code, **kwargs)
        return cls(enhancer, asr, uf=uf, shift=shift)

    def enhance(self, wavs, wav_lens=None, sample_rate=None):
        """Enhanced ``wavs`` resampled to the ASR's rate (``[batch, time']``)."""
        rate = int(sample_rate or self.enhancer.sample_rate)
        enhanced = self.enhancer.enhance_batch(wavs, wav_lens, uf=self.uf, shift=self.shift,
                                               sample_rate=rate)
        if rate != self.sample_rate:
            enhanced = torchaudio.functional.resample(enhanced, rate, self.sample_rate)
        return enhanced

    def transcribe_batch(self, wavs, wav_lens, sample_rate=None):
        """Enhances ``wavs`` ([batch, time] at ``sample_rate``, default the enhancer's rate)
        and transcribes them; returns what ``asr.transcribe_batch`` returns (words, tokens)."""
        wav_lens = torch.as_tensor(wav_lens, dtype=torch.float)
        return self.asr.transcribe_batch(self.enhance(wavs, wav_lens, sample_rate), wav_lens)

    def transcribe_file(self, path):
        """Enhances a file (any rate; channels averaged after enhancement) and transcribes it."""
        enhanced = self.enhancer.enhance_file(path, uf=self.uf, shift=self.shift,
                                              output_sample_rate=self.sample_rate)
        words, _ = self.asr.transcribe_batch(enhanced.mean(dim=0, keepdim=True),
                                             torch.tensor([1.0]))
        return words[0]

    @property
    def last_routing(self):
        """The enhancer's routing of the last call."""
        return self.enhancer.last_routing


class EnhanceFrontend(torch.nn.Module):
    """Frozen enhancement front-end for ASR training (weights from a ``Pretrainer``).

    Arguments
    ---------
    enhance_model : torch.nn.ModuleDict
        ``model`` (SlimDemucs) and optionally ``router`` (Router), as in a hub folder.
    uf : str or float
        UF spec (``"auto"`` needs the router).
    sample_rate : int, optional
        Rate of the waveforms given to :meth:`forward` (default: the model's); the output
        has the same rate.

    Example
    -------
    >>> from speechbrain_slim.lobes.slim_demucs import SlimDemucs
    >>> frontend = EnhanceFrontend(torch.nn.ModuleDict({"model": SlimDemucs(hidden=4, depth=2)}),
    ...                            uf=0.5)
    >>> frontend.train()(torch.randn(2, 4000), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 4000])
    >>> frontend.training, any(p.requires_grad for p in frontend.parameters())
    (False, False)
    """

    def __init__(self, enhance_model, uf="auto", sample_rate=None):
        super().__init__()
        self.enhance_model = enhance_model
        self.uf = uf
        self.sample_rate = sample_rate
        parse_uf(uf, enhance_model["model"].ufs)
        self.train(False)

    @classmethod
    def from_hparams(cls, source, uf="auto", sample_rate=None, savedir=None,
                     trust_remote_code=False):
        """The front-end of a model folder, loaded as ``EnhanceSlim.from_hparams`` loads it.

        The architecture comes from the folder's ``hyperparams.yaml`` (checked: only
        speechbrain-slim's model classes unless ``trust_remote_code=True``), the weights
        from its checkpoint (weights-only), so nothing has to be repeated in the ASR yaml.

        Arguments
        ---------
        source : str
            Model folder or Hub repo id.
        uf : str or float
            UF spec.
        sample_rate : int, optional
            Rate of the waveforms given to :meth:`forward` (default: the model's).
        savedir : str, optional
            Where to collect the folder's files.
        trust_remote_code : bool
            Load a ``hyperparams.yaml`` that names other code (it then runs).

        Returns
        -------
        EnhanceFrontend
        """
        from speechbrain_slim.inference import EnhanceSlim

        enhancer = EnhanceSlim.from_hparams(source=source, savedir=savedir,
                                            run_opts={"device": "cpu"},
                                            trust_remote_code=trust_remote_code)
        return cls(enhancer.mods.enhance_model, uf=uf, sample_rate=sample_rate)

    def train(self, mode=True):
        """Stays in eval mode and frozen whatever ``mode`` asks (a frozen front-end)."""
        super().train(False)
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        return self

    def forward(self, wavs, wav_lens=None):
        """Enhances ``wavs`` [batch, time]; samples past each relative length are zeroed.

        Items of different lengths are enhanced one by one, so that padding never enters
        the input normalisation or the router.
        """
        if wav_lens is None:
            return self._enhance(wavs)
        lengths = (wav_lens.float().cpu() * wavs.shape[-1]).round().long().clamp(1, wavs.shape[-1])
        if bool((lengths == wavs.shape[-1]).all()):
            return self._enhance(wavs)
        enhanced = torch.zeros_like(wavs, dtype=torch.float)
        for index, length in enumerate(lengths.tolist()):
            enhanced[index, :length] = self._enhance(wavs[index : index + 1, :length])[0]
        return enhanced

    def _enhance(self, wavs):
        model = self.enhance_model["model"]
        router = self.enhance_model["router"] if "router" in self.enhance_model else None
        rate = int(self.sample_rate or model.sample_rate)
        with torch.no_grad():
            x = wavs if rate == model.sample_rate else torchaudio.functional.resample(
                wavs, rate, model.sample_rate)
            enhanced, _ = route(model, router, x.float(), self.uf)
            if rate != model.sample_rate:
                enhanced = torchaudio.functional.resample(enhanced, model.sample_rate, rate)
        return enhanced[..., : wavs.shape[-1]]
