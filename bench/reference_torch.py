"""The benchmark's PyTorch reference: the demo MLP and training loop of floodsweep, timed the same way.

Run by bench/run.ts with the plan and workload it measures tfjs with; prints one JSON object.
Usage: python3 bench/reference_torch.py --threads N --workload '<json>' --plan '<json>'
   or: python3 bench/reference_torch.py --threads N --workload '<json>' --demo '<json>'
       (--demo: train these flood levels for these epochs, evaluating like floodsweep, and print the seconds)
"""

import argparse
import json
import os
import statistics
import time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--workload", required=True)
measurement = parser.add_mutually_exclusive_group(required=True)
measurement.add_argument("--plan")
measurement.add_argument("--demo")
args = parser.parse_args()

# The BLAS and OpenMP thread pools read these once, when torch loads.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(args.threads)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

workload = json.loads(args.workload)
plan = json.loads(args.plan) if args.plan else None
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def blas_library():
    """The BLAS this process loaded: torch's float32 dense layers run on it."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1].lower() for line in maps if ".so" in line}
    for name in ("openblas", "mkl_rt", "blis", "atlas"):
        if any(name in path for path in paths):
            return name
    if any(os.path.basename(path).startswith("libblas.so") for path in paths):
        return "reference"
    return "unknown"


def make_model():
    layers = []
    fan_in = workload["inputDim"]
    for _ in range(workload["depth"]):
        layers += [nn.Linear(fan_in, workload["width"], bias=False), nn.BatchNorm1d(workload["width"]), nn.ReLU()]
        fan_in = workload["width"]
    layers.append(nn.Linear(fan_in, workload["numClasses"]))
    return nn.Sequential(*layers)


def sinusoid2d(n, label_noise=0.1):
    """Uniform on the disk of radius 2, labelled by 1.5 x0 + sin(1.5 x1) > 0, with a fraction of labels flipped."""
    direction = torch.randn(n, 4)
    x = 2 * direction[:, 2:] / direction.norm(dim=1, keepdim=True)
    clean = (1.5 * x[:, 0] + torch.sin(1.5 * x[:, 1]) > 0).long()
    labels = clean.clone()
    flipped = torch.randperm(n)[: int(n * label_noise)]
    labels[flipped] = 1 - labels[flipped]
    return x, labels, clean


class Run:
    """One task: model, optimizer and data, trained like floodsweep's TrainingRun."""

    def __init__(self, n_train, n_val, n_test, batch_size=workload["batchSize"]):
        self.batch_size = batch_size
        self.model = make_model()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=workload["lr"], momentum=workload["momentum"])
        self.splits = [sinusoid2d(n) for n in (n_train, n_val, n_test)]
        self.flooded_batches = 0
        self.objective_sum = 0.0
        self.metrics = []

    def train_epoch(self):
        x, labels, _ = self.splits[0]
        order = torch.randperm(len(x))
        flood = workload["floodLevel"]
        self.model.train()
        for start in range(0, len(x), self.batch_size):
            batch = order[start : start + self.batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(x[batch]), labels[batch])
            objective = (loss - flood).abs() + flood
            objective.backward()
            self.optimizer.step()
            self.flooded_batches += loss.item() < flood
            self.objective_sum += objective.item()

    def evaluate(self):
        self.model.eval()
        chunk = workload["evalChunk"]
        self.metrics = []
        with torch.no_grad():
            for x, labels, clean in self.splits:
                totals = torch.zeros(4)
                for start in range(0, len(x), chunk):
                    log_probs = F.log_softmax(self.model(x[start : start + chunk]), dim=1)
                    predicted = log_probs.argmax(dim=1)
                    noisy, truth = labels[start : start + chunk], clean[start : start + chunk]
                    totals += torch.stack([
                        F.nll_loss(log_probs, noisy, reduction="sum"),
                        (predicted == noisy).sum(),
                        F.nll_loss(log_probs, truth, reduction="sum"),
                        (predicted == truth).sum(),
                    ])
                self.metrics.append((totals / len(x)).tolist())


def train_demo_tasks(demo):
    """Each flood level's task as floodsweep trains it: evaluated at epoch 0, every evalEvery epochs and at the end."""
    for level in demo["floodLevels"]:
        workload["floodLevel"] = level
        run = Run(workload["nTrain"], workload["nVal"], workload["nTest"])
        run.evaluate()
        for epoch in range(1, demo["epochs"] + 1):
            run.train_epoch()
            if epoch % demo["evalEvery"] == 0 or epoch == demo["epochs"]:
                run.evaluate()


if args.demo:
    started = time.perf_counter()
    train_demo_tasks(json.loads(args.demo))
    print(json.dumps({"seconds": time.perf_counter() - started, "torch": torch.__version__, "threads": torch.get_num_threads()}))
    raise SystemExit


def time_repeats(operation, repeats):
    """Like bench/timing.ts: wall and process CPU seconds per run."""
    for _ in range(repeats["warmup"]):
        operation()
    wall, cpu = [], []
    for _ in range(repeats["repeats"]):
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        operation()
        wall.append(time.perf_counter() - started_wall)
        cpu.append(time.process_time() - started_cpu)
    return {
        "median": statistics.median(wall),
        "min": min(wall),
        "max": max(wall),
        "repeats": len(wall),
        "cpuMedian": statistics.median(cpu),
        "coreShare": sum(cpu) / sum(wall),
    }


def measure_inference():
    model = make_model().eval()
    x = torch.rand(plan["evalSamples"], workload["inputDim"]) * 4 - 2
    chunk = workload["evalChunk"]

    def forward_all():
        with torch.no_grad():
            for start in range(0, len(x), chunk):
                model(x[start : start + chunk]).numpy()

    return time_repeats(forward_all, plan["evaluation"])


step_run = Run(workload["batchSize"], 1, 1)
train_step = time_repeats(step_run.train_epoch, plan["step"])
batch_sizes = [
    {"batchSize": size, "trainStep": time_repeats(Run(size, 1, 1, size).train_epoch, plan["batchStep"])}
    for size in plan["batchSizes"]
]
evaluation = measure_inference()
demo_sizes = (workload["nTrain"], workload["nVal"], workload["nTest"])
epoch_train_only = time_repeats(Run(*demo_sizes).train_epoch, plan["epochTrainOnly"])
evaluated_run = Run(*demo_sizes)
evaluated_run.evaluate()  # epoch 0, as TrainingRun.start does: it warms the evaluation up


def epoch_with_eval():
    evaluated_run.train_epoch()
    evaluated_run.evaluate()


print(json.dumps({
    "torch": torch.__version__,
    "threads": torch.get_num_threads(),
    "blas": blas_library(),
    "trainStep": train_step,
    "batchSizes": batch_sizes,
    "evaluation": evaluation,
    "evalSamples": plan["evalSamples"],
    "epochTrainOnly": epoch_train_only,
    "epochWithEval": time_repeats(epoch_with_eval, plan["epochWithEval"]),
}))
