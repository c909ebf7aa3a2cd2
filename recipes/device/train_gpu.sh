#!/usr/bin/env bash
# One command on a lent GPU machine: install the carried wheels, time a step, train the backbone
# stage on the packed real corpus for a fixed wall-clock budget, and put the best checkpoint,
# the logs and the hparams under $OUT. recipes/device/README.md has the `run` call and what to
# do with the files afterwards on the CPU.
#
# Carried: .whl (recipes/device/fetch_wheels.sh) and device_pack
# (python -m speechbrain_slim.data.pack_corpus --out device_pack).
#
# Settings (environment), with their defaults:
#   DEVICE=cuda:0  BUDGET_SECONDS=480 (train.py's hard limit: SIGTERM, then a checkpoint)
#   BATCH=64  WORKERS=min(12, cores-2)  EPOCHS=12 (the probe sizes each epoch to fit the budget)
#   HIDDEN=16 DEPTH=5 RESAMPLE=4 (continue hub/slim-demucs-real); any other shape trains from
#   scratch: HIDDEN=32 (the paper's width), or HIDDEN=48 DEPTH=4 RESAMPLE=1 (the shape whose
#   small UFs save more time: docs/ARCHITECTURE.md, "Which backbone lets the UFs save time")
#   LR=1e-3 FINAL_LR=1e-4 DECAY_FROM=2 (from scratch: LR=2e-3 FINAL_LR=2e-4)
#   PYTHON=python3  WHEELS=.whl  SITE=/tmp/site  PACK=device_pack  PROBE=1
#   EXP=results/slim_demucs_real_gpu/1234
# CPU rehearsal (recipes/device/README.md):
#   DEVICE=cpu BUDGET_SECONDS=150 BATCH=4 WORKERS=1 EPOCHS=2 PYTHON=.venv/bin/python \
#       WHEELS=/tmp/whl311 OUT=/tmp/out_rehearsal bash recipes/device/train_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
START=$(date +%s)
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
DEVICE=${DEVICE:-cuda:0}
BUDGET_SECONDS=${BUDGET_SECONDS:-480}
BATCH=${BATCH:-64}
CORES=$(nproc)
WORKERS=${WORKERS:-$(( CORES - 2 < 12 ? (CORES - 2 > 1 ? CORES - 2 : 1) : 12 ))}
EPOCHS=${EPOCHS:-12}
HIDDEN=${HIDDEN:-16}
DEPTH=${DEPTH:-5}
RESAMPLE=${RESAMPLE:-4}
if [ "$HIDDEN/$DEPTH/$RESAMPLE" = 16/5/4 ]; then
    INIT_FROM=${INIT_FROM:-hub/slim-demucs-real}; LR=${LR:-1e-3}; FINAL_LR=${FINAL_LR:-1e-4}
else
    INIT_FROM=${INIT_FROM:-null}; LR=${LR:-2e-3}; FINAL_LR=${FINAL_LR:-2e-4}
fi
DECAY_FROM=${DECAY_FROM:-2}
[ "$DECAY_FROM" -ge "$EPOCHS" ] && DECAY_FROM=$(( EPOCHS - 1 ))  # stage_lr needs decay_from < epochs
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/site}
PACK=${PACK:-device_pack}
PROBE=${PROBE:-1}
EXP=${EXP:-results/slim_demucs_real_gpu/1234}
export PYTHONUNBUFFERED=1

echo "== $(date -u +%FT%TZ) train_gpu.sh: device $DEVICE, budget ${BUDGET_SECONDS}s, batch $BATCH," \
     "workers $WORKERS, hidden $HIDDEN depth $DEPTH resample $RESAMPLE, init $INIT_FROM," \
     "lr $LR -> $FINAL_LR"
[ -f "$PACK/pack.json" ] || { echo "no $PACK/pack.json: carry device_pack"; exit 2; }
ls "$WHEELS"/*.whl >/dev/null 2>&1 || { echo "no wheels in $WHEELS: carry .whl"; exit 2; }

# 1. The wheels (train.py's packages the image lacks) and a stand-in for pesq, which has no
#    wheel: pesq_wb catches the error and scores NaN; validation selects by SI-SDR.
rm -rf "$SITE" && mkdir -p "$SITE"
"$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$WHEELS"/*.whl || { echo "wheel install failed"; exit 3; }
mkdir -p "$SITE/_stub"
cat > "$SITE/_stub/pesq.py" <<'STUB'
"""Stand-in for the pesq package during recipes/device/train_gpu.sh (no PESQ there)."""


def pesq(*args, **kwargs):
    raise RuntimeError("pesq is not installed on this machine (recipes/device/train_gpu.sh)")
STUB
export PYTHONPATH="$SITE/_stub:$SITE:$PWD"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
    --format=csv
"$PYTHON" - <<'EOF' || { echo "imports failed"; exit 3; }
import sys, torch, torchaudio, speechbrain, soundfile, hyperpyyaml
print("python", sys.version.split()[0], "torch", torch.__version__, "torchaudio",
      torchaudio.__version__, "speechbrain", speechbrain.__version__, "soundfile",
      soundfile.__version__, "libsndfile", soundfile.__libsndfile_version__,
      "cuda", torch.cuda.is_available() and torch.cuda.get_device_name(0))
assert "OPUS" in soundfile.available_subtypes("OGG"), "this libsndfile reads no Opus"
EOF
"$PYTHON" -c "import json; p = json.load(open('$PACK/pack.json')); print('pack', p['codec'], \
p['total_mib'], 'MiB', {k: v['minutes'] for k, v in p['parts'].items()})"

SHAPE=(--hidden="$HIDDEN" --depth="$DEPTH" --resample="$RESAMPLE")
COMMON=(--device="$DEVICE" --data_folder="$PACK" "${SHAPE[@]}" --num_threads=4)

# 2. Time a step and a validation; size the epochs so that EPOCHS of them fit the budget.
EPOCH_SIZE=${EPOCH_SIZE:-}
if [ -z "$EPOCH_SIZE" ] && [ "$PROBE" = 1 ]; then
    timeout 150 "$PYTHON" recipes/device/gpu_probe.py hparams/slim_demucs_real.yaml \
        --out "$OUT/probe.json" --device "$DEVICE" --budget "$BUDGET_SECONDS" \
        --batch "$BATCH" --workers "$WORKERS" --epochs "$EPOCHS" \
        --data_folder="$PACK" "${SHAPE[@]}" --output_folder=/tmp/gpu_probe \
        && EPOCH_SIZE=$("$PYTHON" -c "import json; print(json.load(open('$OUT/probe.json'))['epoch_size'])")
fi
if [ -z "$EPOCH_SIZE" ]; then  # no probe: an estimate (README: ~0.15 s a step of 64 on an H200)
    EPOCH_SIZE=$(( (BUDGET_SECONDS - 60) * BATCH * 5 / EPOCHS ))
    echo "probe failed or off: epoch_size $EPOCH_SIZE (an estimate)"
fi
echo "== $(date -u +%FT%TZ) schedule: $EPOCHS epochs of $EPOCH_SIZE items (batch $BATCH)"

# 3. Train: SIGTERM at the budget makes train.py save a checkpoint after the running step.
LOADER="collate_fn: !name:speechbrain.dataio.batch.PaddedBatch "  # a tag ends at a space
timeout --signal=TERM --kill-after=60 "$BUDGET_SECONDS" "$PYTHON" train.py \
    hparams/slim_demucs_real.yaml "${COMMON[@]}" --output_folder="$EXP" --stage=backbone \
    --init_from="$INIT_FROM" --evaluate_after_training=False --calibrate_router=False \
    --batch_size="$BATCH" --epoch_size="$EPOCH_SIZE" --ckpt_interval_minutes=2 \
    --schedule="{backbone: {epochs: $EPOCHS, lr: $LR, final_lr: $FINAL_LR, decay_from: $DECAY_FROM}, router: {epochs: 8, lr: 0.003}, joint: {epochs: 4, lr: 0.0002}, finetune: {epochs: 1, lr: 0.00005}}" \
    --train_loader_kwargs="{batch_size: $BATCH, shuffle: True, num_workers: $WORKERS, $LOADER}" \
    --valid_loader_kwargs="{batch_size: 24, num_workers: 2, $LOADER}"
STATUS=$?
echo "== $(date -u +%FT%TZ) train.py exit status $STATUS (124: stopped at the budget, checkpoint saved)"

# 4. Bring back: the best end-of-epoch checkpoint (by valid SI-SDR) as a tar (split above
#    15 MiB), optimizer.ckpt on its own if it fits, the logs and the hparams.
"$PYTHON" - "$EXP" "$OUT" <<'EOF'
import glob, json, os, subprocess, sys, tarfile
import yaml
exp, out = sys.argv[1], sys.argv[2]
limit = 15 * 1024 * 1024
best, metas = None, []
for path in glob.glob(os.path.join(exp, "save", "backbone", "CKPT+*", "CKPT.yaml")):
    with open(path) as stream:
        meta = yaml.safe_load(stream) or {}
    metas.append({"ckpt": os.path.basename(os.path.dirname(path)), **meta})
    if "si_sdr" in meta and (best is None or meta["si_sdr"] > best[1]["si_sdr"]):
        best = (os.path.dirname(path), meta)
summary = {"checkpoints": metas, "best": None, "files": {}}
if best is not None:
    folder = best[0]
    summary["best"] = {"ckpt": os.path.relpath(folder, exp), **best[1]}
    tar_path = os.path.join(out, "backbone_best.tar")
    with tarfile.open(tar_path, "w") as tar:
        for name in sorted(os.listdir(folder)):
            if name != "optimizer.ckpt":
                tar.add(os.path.join(folder, name), arcname=os.path.relpath(
                    os.path.join(folder, name), exp))
    if os.path.getsize(tar_path) > limit:
        subprocess.run(["split", "-b", str(limit), "-d", tar_path, tar_path + ".part"], check=True)
        os.remove(tar_path)
    optimizer = os.path.join(folder, "optimizer.ckpt")
    if os.path.isfile(optimizer) and os.path.getsize(optimizer) <= limit:
        subprocess.run(["cp", optimizer, os.path.join(out, "optimizer.ckpt")], check=True)
for name in ("train_log.txt", "hyperparams.yaml"):
    if os.path.isfile(os.path.join(exp, name)):
        subprocess.run(["cp", os.path.join(exp, name), os.path.join(out, name)], check=True)
for name in sorted(os.listdir(out)):
    summary["files"][name] = os.path.getsize(os.path.join(out, name))
with open(os.path.join(out, "summary.json"), "w") as stream:
    json.dump(summary, stream, indent=2)
print(json.dumps(summary, indent=2))
EOF
echo "== last epochs:"
tail -n 4 "$EXP/train_log.txt" 2>/dev/null
echo "== $(date -u +%FT%TZ) done in $(( $(date +%s) - START )) s; \$OUT holds $(ls "$OUT" | wc -l) files"
ls -l "$OUT"
