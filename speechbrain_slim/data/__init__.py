"""Training and evaluation data: embedded TTS corpus, synthetic noise, mixing, preparers.

Modules
 * ``corpus``: the committed clean-speech corpus (``corpus/``) and its manifest;
 * ``noise``: deterministic noise families;
 * ``mixing``: active-speech SNR measurement and mixing at a requested SNR;
 * ``dataset``: on-the-fly noisy/clean training segments;
 * ``augment``: DEMUCS augmentations (remix, band-mask, shift, reverberant echo);
 * ``embedded``: ``python -m speechbrain_slim.data.embedded --out DIR``;
 * ``prepare``: manifests for any folder of paired noisy/clean files;
 * ``voicebank``: VoiceBank+DEMAND at 16 kHz,
   ``python -m speechbrain_slim.data.voicebank DATA_FOLDER SAVE_FOLDER``.
"""
