"""Prepare VoiceBank+DEMAND for speechbrain-slim: the recipe's script.

The code is importable package code, :mod:`speechbrain_slim.data.voicebank` (so an
installed speechbrain-slim prepares VoiceBank+DEMAND without this checkout); this script
runs its command line and re-exports its functions.

Usage (the same as ``python -m speechbrain_slim.data.voicebank ...``)::

    python recipes/Voicebank/voicebank_prepare.py DATA_FOLDER SAVE_FOLDER [--download]

Authors
 * speechbrain-slim contributors
"""

from speechbrain_slim.data.voicebank import (  # noqa: F401
    FOLDERS,
    SAMPLE_RATE,
    VALID_SPEAKERS,
    check_pairs,
    download_voicebank,
    main,
    prepare_voicebank,
)

if __name__ == "__main__":
    main()
