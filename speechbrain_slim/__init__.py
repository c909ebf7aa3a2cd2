"""speechbrain-slim: dynamically slimmable DEMUCS speech enhancement for SpeechBrain.

One set of DEMUCS weights runs at several utilization factors (UF); a router
picks the UF over time from the input (Miccini et al., WASPAA 2025).

``speechbrain_slim.EnhanceSlim`` (the pretrained interface) is imported lazily,
so ``import speechbrain_slim`` stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["EnhanceSlim", "EnhancedASR"]

_LAZY = {"EnhanceSlim": "speechbrain_slim.inference", "EnhancedASR": "speechbrain_slim.asr"}


def __getattr__(name):
    """Imports ``EnhanceSlim`` / ``EnhancedASR`` on first use (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'speechbrain_slim' has no attribute {name!r}")
