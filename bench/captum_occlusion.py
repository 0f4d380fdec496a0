"""Captum's side of the native-engine benchmark (issue 14): easy-explain's job (Occlusion, window 45x45x3, stride 9,
baseline 0: 441 windows + 1 = 442 forwards) on the same two networks as bench/native.mjs, timed with Captum on
PyTorch on this machine, so both sides are measured in the same hour instead of against figures from another host.

- MobileNet v1 0.75: the shared ONNX export's own weights, loaded into an equivalent PyTorch module (TF "same"
  padding); its output on the reference input is checked against PyTorch's stored output before anything is timed.
- ResNet-50: torchvision's resnet50 with random weights (eval mode), BatchNorm unfolded as a PyTorch user runs it;
  bench/resnet50-onnx.mjs writes the same layout with BatchNorm folded, as PyTorch's ONNX export does.

For each thread count and perturbations_per_eval the job runs once after a warm-up job (window 56, stride 28), which
is the protocol of bench/native.mjs. Prints a table and, last, one JSON line with every time and each model's best.

Needs Python 3 with torch, torchvision, onnx and Captum (`pip install captum`, or Captum's source tree on PYTHONPATH).
On Debian 12: apt-get install python3-torch python3-torchvision python3-onnx python3-matplotlib python3-tqdm
(PyTorch 1.13.1, the version of the issue's figures).

Usage: python3 bench/captum_occlusion.py [--threads 1,2] [--ppe 1,8,16,32] [--models mobilenet,resnet50]
                                         [--json FILE] [--save-map DIR]
Then `CAPTUM_RESULTS=FILE node bench/native.mjs` prints our times against these.

The script keeps PyTorch's large tensors on pages it has touched before (glibc's mallopt: no mmap for them, no trim
below 2 GiB): on these VMs, where a fresh page costs ~2.7 ms/MB, glibc otherwise maps them afresh for each batch and
returns them after it. MobileNet at 2 threads and perturbations_per_eval 8 took 10.0 s with 1.17 M page faults
without it, 2.4-2.6 s with 94-102 k faults with it (the same as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1e11 in the
environment); it changes no result, and without it Captum's best setting here would look 2.6x slower than it is.
"""

import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
import torchvision
from captum.attr import Occlusion
from onnx import numpy_helper

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")


class MobileNetV1(torch.nn.Module):
    """MobileNet v1 as the shared ONNX export runs it: TF "same" padding (a stride-2 3x3 convolution pads one pixel
    at the bottom and right only), ReLU6, BatchNorm already folded into each convolution, softmax at the end."""

    # (output channels, stride) of each depthwise-separable block at width 0.75
    BLOCKS = [(48, 1), (96, 2), (96, 1), (192, 2), (192, 1), (384, 2)] + [(384, 1)] * 5 + [(768, 2), (768, 1)]

    def __init__(self, convs):
        super().__init__()
        # convs: (weight, bias) of every Conv node in graph order: the stem, then depthwise and pointwise per block,
        # then the classifier.
        it = iter(convs)

        def conv(stride, groups):
            weight, bias = next(it)
            layer = torch.nn.Conv2d(weight.shape[1] * groups, weight.shape[0], weight.shape[2], stride, 0, groups=groups)
            layer.weight.data = torch.from_numpy(weight.copy())
            layer.bias.data = torch.from_numpy(bias.copy())
            return layer

        self.stem = conv(2, 1)
        self.blocks = torch.nn.ModuleList()
        channels = self.stem.out_channels
        for out, stride in self.BLOCKS:
            self.blocks.append(torch.nn.ModuleList([conv(stride, channels), conv(1, 1)]))
            channels = out
        self.classifier = conv(1, 1)

    @staticmethod
    def same_pad(x, stride):
        return F.pad(x, (0, 1, 0, 1)) if stride == 2 else F.pad(x, (1, 1, 1, 1))

    def forward(self, x):
        x = F.relu6(self.stem(self.same_pad(x, 2)))
        for depthwise, pointwise in self.blocks:
            x = F.relu6(depthwise(self.same_pad(x, depthwise.stride[0])))
            x = F.relu6(pointwise(x))
        x = self.classifier(F.adaptive_avg_pool2d(x, 1))
        return torch.softmax(x.flatten(1), dim=1)


def keep_pages():
    """Large allocations stay in glibc's heap and freed memory is not given back to the system, so a batch reuses
    the pages of the one before it (see the module's docstring). Elsewhere than glibc, says so and leaves malloc as
    it is."""
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's malloc.h
    try:
        libc = ctypes.CDLL("libc.so.6")
        if libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1:
            return
    except (OSError, AttributeError):
        pass
    print("glibc's mallopt is not available: Captum's times may include fresh pages for each batch", file=sys.stderr)


def read_f32(name, shape):
    return np.fromfile(os.path.join(SHARED, name), dtype="<f4").reshape(shape)


def mobilenet():
    graph = onnx.load(os.path.join(SHARED, "models/onnx/mobilenet_v1_0.75.onnx")).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [(weights[n.input[1]], weights[n.input[2]]) for n in graph.node if n.op_type == "Conv"]
    model = MobileNetV1(convs).eval()
    nhwc = read_f32("reference/onnx/mobilenet_v1_0.75__input.bin", (1, 224, 224, 3))
    x = torch.from_numpy(nhwc.transpose(0, 3, 1, 2).copy())
    expected = read_f32("reference/onnx/mobilenet_v1_0.75__output.bin", (1, 1000))
    with torch.no_grad():
        got = model(x).numpy()
    error = float(np.abs(got - expected).max() / np.abs(expected).max())
    if error > 1e-4:
        raise SystemExit(f"the PyTorch MobileNet differs from the ONNX export's output by {error:.1e} of its maximum")
    return model, x, error


def resnet50():
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    nhwc = read_f32("reference/onnx/resnet18__input.bin", (1, 224, 224, 3))
    return model, torch.from_numpy(nhwc.transpose(0, 3, 1, 2).copy()), None


MODELS = {"mobilenet": ("MobileNet v1 0.75", mobilenet), "resnet50": ("ResNet-50", resnet50)}


def occlude(model, x, target, window, stride, ppe):
    occlusion = Occlusion(model)
    return occlusion.attribute(
        x,
        sliding_window_shapes=(3, window, window),
        strides=(3, stride, stride),
        baselines=0,
        target=target,
        perturbations_per_eval=ppe,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--ppe", default="1,8,16,32")
    parser.add_argument("--models", default="mobilenet,resnet50")
    parser.add_argument("--json", help="file for the results (the JSON line printed last)")
    parser.add_argument("--save-map", help="directory for each model's map (NHWC float32, <model>_45_9.bin)")
    args = parser.parse_args()
    keep_pages()
    threads = [int(t) for t in args.threads.split(",")]
    ppes = [int(p) for p in args.ppe.split(",")]
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, cores {os.cpu_count()}, "
          f"load {' '.join(f'{l:.1f}' for l in os.getloadavg())}")
    results = {}
    print("| model | threads | perturbations_per_eval | exact s | load after |")
    print("|---|---:|---:|---:|---|")
    for key in args.models.split(","):
        name, make = MODELS[key]
        model, x, error = make()
        with torch.no_grad():
            target = int(model(x).argmax())
        rows = []
        for n in threads:
            torch.set_num_threads(n)
            for ppe in ppes:
                occlude(model, x, target, 56, 28, ppe)  # warm-up
                start = time.perf_counter()
                attribution = occlude(model, x, target, 45, 9, ppe)
                seconds = time.perf_counter() - start
                rows.append({"threads": n, "ppe": ppe, "seconds": round(seconds, 3)})
                print(f"| {name} | {n} | {ppe} | {seconds:.2f} | {' '.join(f'{l:.1f}' for l in os.getloadavg())} |",
                      flush=True)
        if args.save_map:
            os.makedirs(args.save_map, exist_ok=True)
            path = os.path.join(args.save_map, f"{key}_45_9.bin")
            attribution.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(path)
        best = min(rows, key=lambda r: r["seconds"])
        results[name] = {"target": target, "best": best, "runs": rows}
        if error is not None:
            results[name]["onnx_output_error"] = error
    print(json.dumps(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out)


if __name__ == "__main__":
    main()
