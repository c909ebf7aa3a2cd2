#!/usr/bin/env bash
# Downloads, into .whl/ (git-ignored), the wheels train.py needs on the lent GPU machine that
# its image lacks (KINDS.md lists the image's packages: torch 2.11, torchaudio 2.11, numpy,
# scipy, pyyaml, joblib, sentencepiece, huggingface-hub, tqdm, packaging, requests,
# typing-extensions are there; these are not):
#   speechbrain, hyperpyyaml, ruamel.yaml (+ ruamel.yaml.clib), soundfile (bundles libsndfile
#   with FLAC/Vorbis/Opus), cffi (+ pycparser, soundfile's binding).
# Not carried: pesq (no wheel, does not build there: validation selects by SI-SDR and
# train_gpu.sh puts a stub `pesq` module on the path that makes PESQ NaN), pystoi (only
# evaluation uses it; the training's STOI loss is speechbrain_slim/stoi_loss.py).
# The versions are those of the project's .venv (tested here). Run from the repository root:
#   bash recipes/device/fetch_wheels.sh            # Python 3.12, manylinux x86_64 (the device)
#   PY_VERSION=3.11 WHEEL_DIR=/tmp/whl311 bash recipes/device/fetch_wheels.sh  # a CPU rehearsal
set -euo pipefail
PY_VERSION=${PY_VERSION:-3.12}
WHEEL_DIR=${WHEEL_DIR:-.whl}
PYTHON=${PYTHON:-$(command -v python3)}
[ -x .venv/bin/python ] && PYTHON=${PYTHON_FOR_PIP:-.venv/bin/python}
PACKAGES=(
    speechbrain==1.1.2
    hyperpyyaml==1.2.3
    ruamel.yaml==0.18.17
    ruamel.yaml.clib==0.2.15
    soundfile==0.14.0
    cffi==2.1.1
    pycparser==3.12
)
mkdir -p "$WHEEL_DIR"
rm -f "$WHEEL_DIR"/*.whl   # one version of each: two stop the install
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: \
    --python-version "$PY_VERSION" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d "$WHEEL_DIR" "${PACKAGES[@]}"
ls -l "$WHEEL_DIR"/*.whl
du -cb "$WHEEL_DIR"/*.whl | tail -1
