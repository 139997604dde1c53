"""PyTorch doing the work of one training epoch of examples/fashion-mnist-mlp.json (bench/fashion.ts).

The MLP 784-500-500-10 (ReLU), Adam (lr 0.001), mini-batches of 200 over 48,000 Fashion-MNIST
training images scaled to [0, 1], batch flooding at b = 0.02. Times one epoch after a warm-up epoch.
Usage: python3 bench/fashion_torch.py --threads N; prints one JSON object.
"""

import argparse
import gzip
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, required=True)
args = parser.parse_args()
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(args.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)
FASHION = "/usr/share/datasets/fashion-mnist"


def idx(name, offset):
    with gzip.open(f"{FASHION}/{name}-ubyte.gz") as file:
        return np.frombuffer(file.read(), dtype=np.uint8, offset=offset)


images = torch.tensor(idx("train-images-idx3", 16).reshape(-1, 784)[:48000], dtype=torch.float32) / 255
labels = torch.tensor(idx("train-labels-idx1", 8)[:48000].astype(np.int64))
model = nn.Sequential(nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 500), nn.ReLU(), nn.Linear(500, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
FLOOD = 0.02


def epoch():
    order = torch.randperm(len(labels))
    for start in range(0, len(labels), 200):
        rows = order[start : start + 200]
        loss = F.cross_entropy(model(images[rows]), labels[rows])
        objective = (loss - FLOOD).abs() + FLOOD
        optimizer.zero_grad()
        objective.backward()
        optimizer.step()


epoch()
started = time.perf_counter()
epoch()
print(json.dumps({"torch": torch.__version__, "threads": args.threads, "epochSeconds": time.perf_counter() - started}))
