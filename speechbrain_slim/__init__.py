"""speechbrain-slim: dynamically slimmable DEMUCS speech enhancement for SpeechBrain.

One set of DEMUCS weights runs at several utilization factors (UF); a router
picks the UF over time from the input (Miccini et al., WASPAA 2025).
"""

__version__ = "0.1.0"
