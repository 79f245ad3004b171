"""Multiply-accumulate (MAC) counting: the one counter behind every FLOP table here.

What the papers call "FLOPs"
----------------------------
SegFormer (Tables 1 and 2) and ViViT (Table 2) report *multiply-accumulates* under
the name FLOPs: one multiply followed by one add is one operation. This module counts
exactly the operations that dominate a vision transformer's cost:

* convolutions of any dimension, grouped and depth-wise included:
  ``output elements x (C_in / groups) x kernel volume`` (a transposed convolution:
  ``input elements x (C_out / groups) x kernel volume``); the bias is not counted;
* linear layers and every matrix product (``nn.Linear``, ``@``, ``torch.matmul``,
  ``bmm``, ``einsum`` ...): ``M x K x N`` per product; the bias is not counted;
* attention, including ``F.scaled_dot_product_attention`` in every kernel PyTorch
  may pick for it (the CPU flash kernel, CUDA flash / memory-efficient / cuDNN,
  or the math fallback that is a pair of batched matmuls):
  ``Q K^T`` and ``attn @ V`` cost ``batch x heads x N_q x N_k x (d_qk + d_v)``.
  A causal mask does not halve the count (the dense product is counted).

Not counted: normalisation layers, activations, softmax, dropout, element-wise
arithmetic (residual adds, scaling), pooling, interpolation, embeddings lookups. Nor
operators whose multiply-adds no rule here knows (``cdist``, FFTs, linear algebra, fused
recurrent kernels, quantised matmuls): a forward that runs one is counted without it, and
an ``UncountedOperatorWarning`` names them.

Why this convention reproduces the SegFormer tables: the authors ran mmcv's
``get_model_complexity_info`` (module hooks on ``nn.Conv2d`` and ``nn.Linear``) and
added the two attention matmuls of every block by hand, because mmcv's hooks never
see a ``torch.matmul``. Counted this way our SegFormer lands within 0.25% of every
figure of Table 1a/1b. The residual is what mmcv 1.2.7 also counted: one operation
per output element for a convolution's bias and for ``nn.ReLU``. Its table had no
``nn.LayerNorm`` yet and matched module types exactly, so the decode head's
``SyncBatchNorm`` (and GELU, and ``F.interpolate``) were not counted. Pass
``convention="mmcv-segformer"`` to add those two extras. The official head's
classifier is a 1x1 ``Conv2d``, so mmcv counted its bias too; with a classifier
written as ``nn.Linear`` add ``pixels at H/4 x classes`` by hand. Then every figure
of Table 1a (ADE20K, Cityscapes and COCO-Stuff columns) and Table 1b comes out
equal to the printed one-decimal value.

How it counts without computing
-------------------------------
The forward runs under ``FakeTensorMode``: every tensor carries a shape, dtype and
device but no data, so counting MiT-B5 at 1024x2048 takes about a second and no
activation memory. The caller's parameters are wrapped as fake tensors on the fly
(no copy of their data, no change to them). A ``TorchDispatchMode`` above the fake
mode sees every ATen operator the forward dispatches (after ``nn.Linear``,
``matmul`` and ``einsum`` have been lowered to ``mm``/``addmm``/``bmm``) and charges
its MACs to the module that is running, tracked with global forward hooks.
An operator the mode sees is counted once and its internals stay invisible, so a
fused attention kernel is never counted again through the ops it calls.

The forward runs in eval mode (every module's train/eval flag is restored
afterwards) without autograd, with the fused ``nn.MultiheadAttention`` /
``nn.TransformerEncoderLayer`` fast path switched off so that its projections and
attention are seen as the ops above.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from collections import Counter

import torch
from torch import nn
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = [
    "CONVENTIONS",
    "BREAKDOWN_HEADERS",
    "count_macs",
    "macs_by_module",
    "macs_by_op",
    "breakdown_rows",
    "UncountedOperatorWarning",
    "device_memory",
    "check_fits",
]

CONVENTIONS = ("macs", "mmcv-segformer")
BREAKDOWN_HEADERS = ("module", "GMACs", "share")

aten = torch.ops.aten


# --------------------------------------------------------------------------------------
# MAC formulas, one per ATen operator. Each takes (args, kwargs, out) and returns an int.
# --------------------------------------------------------------------------------------


def _mm_macs(a, b) -> int:
    # (..., n, k) @ (..., k, p): every output element is a k-long dot product.
    return math.prod(a.shape[:-1]) * a.shape[-1] * b.shape[-1]


def _mm(args, kwargs, out):  # mm(a, b), bmm(a, b), _int_mm(a, b), _scaled_mm(a, b, ...)
    return _mm_macs(args[0], args[1])


def _addmm(args, kwargs, out):  # addmm(bias, a, b), baddbmm(...), _addmm_activation(...)
    return _mm_macs(args[1], args[2])


def _addbmm(args, kwargs, out):  # addbmm(bias, b1, b2): sum over the batch of b1[i] @ b2[i]
    return _mm_macs(args[1], args[2])


def _mv(args, kwargs, out):  # mv(mat, vec)
    return args[0].numel()


def _addmv(args, kwargs, out):  # addmv(bias, mat, vec)
    return args[1].numel()


def _dot(args, kwargs, out):  # dot(a, b), vdot(a, b)
    return args[0].numel()


def _matmul(args, kwargs, out):  # matmul(a, b): each output element sums over a's last dim
    return out.numel() * args[0].shape[-1]


def _linear(args, kwargs, out):  # linear(x, weight, bias)
    return out.numel() * args[1].shape[-1]


def _conv(args, kwargs, out):
    # convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
    x, weight = args[0], args[1]
    transposed = len(args) > 6 and bool(args[6])
    per_element = weight.shape[1] * math.prod(weight.shape[2:])
    if transposed:  # weight (C_in, C_out / groups, *k): each input element feeds C_out/groups x k outputs
        return x.numel() * per_element
    return out.numel() * per_element  # weight (C_out, C_in / groups, *k)


def _conv_no_transpose(args, kwargs, out):  # cudnn_convolution, _slow_conv2d_forward (weight second)
    weight = args[1]
    return _first(out).numel() * weight.shape[1] * math.prod(weight.shape[2:])


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def _sdpa(args, kwargs, out):
    """Q K^T plus attn @ V for the (..., N, d) layout of every scaled_dot_product_attention kernel."""
    q, k, v = args[0], args[1], args[2]
    o = _first(out)
    rows = o.numel() // o.shape[-1]  # batch x heads x N_q, after broadcasting (and GQA)
    return rows * k.shape[-2] * (q.shape[-1] + v.shape[-1])


def _attention_forward_bnhd(args, kwargs, out):
    """_flash_attention_forward / _efficient_attention_forward: (batch, N, heads, d) layout."""
    q, k, v, cu_q, cu_k = args[0], args[1], args[2], args[3], args[4]
    if cu_q is not None or cu_k is not None:
        raise NotImplementedError(
            "count_macs cannot count variable-length (cumulative sequence) attention: the sequence "
            "lengths live in tensor values, which are not computed; pad the batch instead"
        )
    o = _first(out)
    rows = o.numel() // o.shape[-1]  # batch x N_q x heads
    return rows * k.shape[1] * (q.shape[-1] + v.shape[-1])


def _unsupported(args, kwargs, out):
    raise NotImplementedError(
        "count_macs met a fused transformer kernel whose projections it cannot see; "
        "call the model without the fused fast path (torch.backends.mha.set_fastpath_enabled(False))"
    )


def _elements(args, kwargs, out):  # one operation per output element
    return _first(out).numel()


def _conv_bias(args, kwargs, out):  # mmcv: a conv's bias costs one operation per output element
    return _first(out).numel() if args[2] is not None else 0


def _ops(*names):
    """The ATen overload packets of this torch build among ``names`` (older builds lack some)."""
    return [getattr(aten, n) for n in names if hasattr(aten, n)]


_MAC_RULES = {}
for _packet in _ops("mm", "bmm", "_int_mm", "_scaled_mm"):
    _MAC_RULES[_packet] = _mm
for _packet in _ops("addmm", "addmm_", "baddbmm", "baddbmm_", "_addmm_activation"):
    _MAC_RULES[_packet] = _addmm
for _packet in _ops("addbmm", "addbmm_"):
    _MAC_RULES[_packet] = _addbmm
for _packet in _ops("mv"):
    _MAC_RULES[_packet] = _mv
for _packet in _ops("addmv", "addmv_"):
    _MAC_RULES[_packet] = _addmv
for _packet in _ops("dot", "vdot"):
    _MAC_RULES[_packet] = _dot
# Composite ops: normally lowered before a dispatch mode sees them; counted if one ever arrives whole.
for _packet in _ops("matmul"):
    _MAC_RULES[_packet] = _matmul
for _packet in _ops("linear"):
    _MAC_RULES[_packet] = _linear
for _packet in _ops("convolution", "_convolution"):
    _MAC_RULES[_packet] = _conv
for _packet in _ops("cudnn_convolution", "_slow_conv2d_forward"):
    _MAC_RULES[_packet] = _conv_no_transpose
for _packet in _ops(
    "scaled_dot_product_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_fused_attention_overrideable",
    "_scaled_dot_product_attention_math",
    "_scaled_dot_product_attention_math_for_mps",
):
    _MAC_RULES[_packet] = _sdpa
for _packet in _ops("_flash_attention_forward", "_efficient_attention_forward"):
    _MAC_RULES[_packet] = _attention_forward_bnhd
for _packet in _ops("_native_multi_head_attention", "_transformer_encoder_layer_fwd"):
    _MAC_RULES[_packet] = _unsupported

# What mmcv 1.2.7 counted on top of the MACs above, for SegFormer's modules (see the docstring).
_MMCV_EXTRA_RULES = {_packet: _conv_bias for _packet in _ops("convolution", "_convolution")}
for _packet in _ops("relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_",
                    "hardtanh", "hardtanh_", "_prelu_kernel", "prelu"):
    _MMCV_EXTRA_RULES[_packet] = _elements

# Operators with multiply-adds of their own that no rule above counts: distances, FFTs, linear
# algebra, fused recurrent kernels, quantised matmuls, a convolution outside aten.convolution.
# A forward that runs one is still counted, with a warning naming them (UncountedOperatorWarning).
_UNCOUNTED = set(_ops(
    "_cdist_forward", "cdist", "_euclidean_dist",
    "_fft_r2c", "_fft_c2r", "_fft_c2c",
    "_linalg_solve_ex", "linalg_solve", "linalg_inv_ex", "_linalg_svd", "_linalg_eigh", "linalg_eig",
    "linalg_cholesky_ex", "linalg_qr", "linalg_lu_factor_ex", "linalg_lu", "_linalg_det", "_linalg_slogdet",
    "linalg_solve_triangular", "triangular_solve", "cholesky_solve",
    "mkldnn_rnn_layer", "_cudnn_rnn", "miopen_rnn", "_thnn_fused_lstm_cell", "_thnn_fused_gru_cell",
    "lstm", "gru", "rnn_tanh", "rnn_relu",
    "_weight_int4pack_mm", "_weight_int8pack_mm", "conv_tbc",
))


class UncountedOperatorWarning(UserWarning):
    """A forward ran operators with multiply-adds that ``count_macs`` does not count."""


# --------------------------------------------------------------------------------------
# The counting pass
# --------------------------------------------------------------------------------------


class _MacMode(TorchDispatchMode):
    """Records the MACs of every ATen operator dispatched while it is active.

    Each record is ``(module path, operator, MACs, mmcv extras)``: the path of the innermost
    running module (``module_stack[-1]``), the operator's name, its MACs under the default
    convention and what mmcv's count added on top (conv bias and ReLU elements).
    ``uncounted`` counts the calls of ``_UNCOUNTED`` operators with a non-empty output;
    ``failure`` is ``(error, module path, operator)`` of the first operator that raised.
    """

    def __init__(self, module_stack):
        super().__init__()
        self.module_stack = module_stack
        self.records = []
        self.uncounted = Counter()
        self.failure = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func.overloadpacket
        path = self.module_stack[-1] if self.module_stack else ""
        try:
            out = func(*args, **kwargs)
        except Exception as error:
            if self.failure is None:
                self.failure = (error, path, str(packet))
            raise
        rule, extra_rule = _MAC_RULES.get(packet), _MMCV_EXTRA_RULES.get(packet)
        if rule is not None or extra_rule is not None:
            macs = int(rule(args, kwargs, out)) if rule is not None else 0
            extra = int(extra_rule(args, kwargs, out)) if extra_rule is not None else 0
            if macs or extra:
                self.records.append((path, str(packet), macs, extra))
        elif packet in _UNCOUNTED and _first(out).numel():
            self.uncounted[str(packet)] += 1
        return out


def _check_call(model, inputs, kwargs, convention):
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_macs needs an nn.Module as its first argument, got {type(model).__name__}")
    if not inputs and not kwargs:
        raise ValueError(
            f"count_macs needs the inputs of {type(model).__name__}.forward, e.g. "
            "count_macs(model, torch.empty(1, 3, 512, 512, device='meta')); got none"
        )
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")


def _model_device(model) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _shapes(values):
    """The shapes of the tensors in ``values`` (nested), for messages: [(1, 3, 64, 64), ...]."""
    return [tuple(v.shape) for v in pytree.tree_leaves(values) if isinstance(v, torch.Tensor)]


_EXTRA_SUFFIX = " (mmcv extra)"


def _trace(model, inputs, kwargs, convention) -> list[tuple[str, str, int]]:
    """Run ``model(*inputs, **kwargs)`` on fake tensors; return ``(module path, operator, MACs)``
    for every counted operator call, in forward order. Under ``"mmcv-segformer"`` what mmcv
    added is a record of its own, named ``"<operator> (mmcv extra)"``."""
    from torch._subclasses import fake_tensor

    _check_call(model, inputs, kwargs, convention)
    # Module paths of the model and a stack of the running ones, kept by global forward
    # hooks (nothing is registered on the model itself). The model's own path is "".
    paths = {id(m): name for name, m in model.named_modules()}
    stack, entered, received = [], [], {}

    def pre_hook(module, args):
        path = paths.get(id(module))
        entered.append(path is not None)  # modules outside the model leave the stack alone
        if path is not None:
            stack.append(path)
            received[path] = _shapes(args)  # for the error of a forward that fails

    def post_hook(module, args, output):
        if entered and entered.pop():
            stack.pop()

    model_device = _model_device(model)
    flags = {m: m.training for m in model.modules()}
    mha = getattr(torch.backends, "mha", None)
    if not hasattr(mha, "set_fastpath_enabled"):  # torch < 2.3 has no switch
        mha = None
    fastpath = mha.get_fastpath_enabled() if mha is not None else None
    handles = []
    mode = _MacMode(stack)
    global _tracing
    try:
        _tracing = True  # fake tensors allocate nothing: the models' memory guards stand aside
        model.eval()
        if mha is not None:
            mha.set_fastpath_enabled(False)
        handles.append(nn.modules.module.register_module_forward_pre_hook(pre_hook))
        try:  # always_call: pop the stack even when a module's forward raises (torch >= 2.1)
            handles.append(nn.modules.module.register_module_forward_hook(post_hook, always_call=True))
        except TypeError:
            handles.append(nn.modules.module.register_module_forward_hook(post_hook))
        # Parameters stay real; the fake mode wraps them as data-less fake tensors when used. A model
        # and inputs all on the meta device hold no data already: shapes propagate through meta
        # kernels as they are, the same operators at a third of the cost.
        on_meta = model_device.type == "meta" and all(
            t.device.type == "meta" for t in [*model.parameters(), *model.buffers()]) and all(
            t.device.type == "meta" for t in pytree.tree_leaves((inputs, kwargs)) if isinstance(t, torch.Tensor))
        fake = contextlib.nullcontext() if on_meta else fake_tensor.FakeTensorMode(allow_non_fake_inputs=True)
        with fake, torch.no_grad():

            def to_fake(x):
                if not isinstance(x, torch.Tensor):
                    return x
                device = model_device if x.device.type == "meta" else x.device
                return torch.empty_strided(tuple(x.shape), tuple(x.stride()), dtype=x.dtype, device=device)

            fake_inputs = pytree.tree_map(to_fake, tuple(inputs))
            fake_kwargs = pytree.tree_map(to_fake, dict(kwargs))
            try:
                with mode:
                    model(*fake_inputs, **fake_kwargs)
            except (fake_tensor.DataDependentOutputException, fake_tensor.DynamicOutputShapeException,
                    fake_tensor.UnsupportedOperatorException) as error:
                raise RuntimeError(
                    f"count_macs runs {type(model).__name__}.forward on fake tensors (shapes, no values), "
                    f"and the forward needed a value or an operator without a shape rule: {error!r}"
                ) from error
            except Exception as error:
                if mode.failure is None or mode.failure[0] is not error:
                    raise  # the model's own error (e.g. its input check): already says what it expects
                _, path, op = mode.failure
                module = model.get_submodule(path)
                raise ValueError(
                    f"count_macs: {type(model).__name__}.forward failed on inputs {_shapes(inputs)}: module "
                    f"{path or '(the model itself)'} = {type(module).__name__}({module.extra_repr()}) received "
                    f"{received.get(path, '?')} and {op} raised {type(error).__name__}: {error}"
                ) from error
    finally:
        _tracing = False
        for handle in handles:
            handle.remove()
        if mha is not None:
            mha.set_fastpath_enabled(fastpath)
        for module, training in flags.items():
            module.training = training
    if mode.uncounted:
        ops = ", ".join(f"{op} ({n} call{'s' if n > 1 else ''})" for op, n in mode.uncounted.items())
        warnings.warn(
            f"count_macs: {type(model).__name__}.forward ran operators whose multiply-adds are not counted "
            f"(missing from the total): {ops}", UncountedOperatorWarning, stacklevel=3)
    records = []
    for path, op, macs, extra in mode.records:
        if macs:
            records.append((path, op, macs))
        if extra and convention == "mmcv-segformer":
            records.append((path, op + _EXTRA_SUFFIX, extra))
    return records


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def count_macs(model: nn.Module, *inputs, convention: str = "macs", **kwargs) -> int:
    """Multiply-accumulates of one forward pass ``model(*inputs, **kwargs)``.

    ``inputs`` are tensors (or nested lists/tuples/dicts of them) whose shape, dtype and
    device matter, not their values: pass ``torch.empty(1, 3, 1024, 2048, device="meta")``
    to count at a size you never allocate (meta inputs are placed on the model's device).
    ``convention="macs"`` (default) counts conv + linear/matmul + attention as described
    in the module docstring; ``"mmcv-segformer"`` adds what SegFormer's mmcv count added
    (conv bias and ReLU elements). ``convention`` is not passed on to the model. Inputs
    the model cannot take are a ``ValueError`` naming the module that failed, what it is
    (its ``Linear(in_features=8, ...)``) and the shapes it received.

    >>> count_macs(nn.Linear(8, 4), torch.empty(2, 8))
    64
    """
    return sum(macs for _, _, macs in _trace(model, inputs, kwargs, convention))


def macs_by_op(model: nn.Module, *inputs, convention: str = "macs", **kwargs) -> dict[str, int]:
    """MACs per ATen operator (e.g. ``"aten.addmm"``, ``"aten.convolution"``), in first-use order.

    Shows which kernel the attention ran as (``aten._scaled_dot_product_flash_attention_for_cpu``
    on a CPU, the ``bmm`` pair of the math fallback elsewhere). Sums to :func:`count_macs`.
    With ``convention="mmcv-segformer"`` the additions get keys of their own,
    ``"aten.convolution (mmcv extra)"`` (conv bias) and ``"aten.relu (mmcv extra)"``, so one
    call shows both conventions: drop the ``(mmcv extra)`` keys to get the default count.
    """
    totals = Counter()
    for _, op, macs in _trace(model, inputs, kwargs, convention):
        totals[op] += macs
    return dict(totals)


def macs_by_module(model: nn.Module, *inputs, depth: int | None = 2, convention: str = "macs",
                   **kwargs) -> dict[str, int]:
    """MACs per module path, truncated to ``depth`` dotted levels, inclusive of children.

    Every counted operation is charged to the innermost running submodule and its path
    is cut to the first ``depth`` components, so for a SegFormer ``depth=1`` gives
    ``{"encoder": ..., "decoder": ...}``, ``depth=2`` ``"encoder.patch_embeds"``,
    ``"encoder.blocks"``, ``"decoder.linear_c"`` ..., and ``depth=3`` one entry per stage
    (``"encoder.blocks.0"`` ...) and per decoder layer. ``depth=None`` keeps full paths.
    Keys come in forward order (first operation), modules without counted operations are
    left out, and the values sum to :func:`count_macs`. An operation of the model's own
    forward, outside every submodule, goes to ``""``. ``depth`` and ``convention`` are not
    passed on to the model.
    """
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 1):
        raise ValueError(f"depth must be a positive int or None, got {depth!r}")
    totals = {}
    for path, _, macs in _trace(model, inputs, kwargs, convention):
        if depth is not None:
            path = ".".join(path.split(".")[:depth])
        totals[path] = totals.get(path, 0) + macs
    return totals


def breakdown_rows(by_module: dict[str, int], unit: float = 1e9, digits: int = 3) -> list[tuple]:
    """Rows ``(module, GMACs, share)`` plus a total row, for ``report.print_table(rows, BREAKDOWN_HEADERS)``.

    ``by_module`` is what :func:`macs_by_module` returned (any ``{name: MACs}`` dict works).
    """
    if not isinstance(by_module, dict) or not by_module:
        raise ValueError(f"breakdown_rows needs a non-empty {{module path: MACs}} dict, got {by_module!r}")
    total = sum(by_module.values())
    rows = []
    for path, macs in by_module.items():
        share = f"{100 * macs / total:.1f}%" if total else "-"
        rows.append((path or "(model itself)", round(macs / unit, digits), share))
    rows.append(("total", round(total / unit, digits), "100.0%" if total else "-"))
    return rows


# --------------------------------------------------------------------------------------
# Memory: does a request fit?
# --------------------------------------------------------------------------------------

_tracing = False  # True while count_macs runs a forward on fake tensors


def device_memory(device) -> int | None:
    """Bytes of memory of ``device``: a CUDA GPU's total memory, otherwise the machine's RAM
    (``os.sysconf``; None where the system does not tell)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    return _ram()


@functools.lru_cache(maxsize=1)
def _ram() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits(nbytes: int, device, describe, hint: str = "") -> None:
    """Raise ``MemoryError`` when ``nbytes`` exceed the memory of ``device`` (:func:`device_memory`),
    before anything is allocated. ``describe()`` returns what the bytes are (it is called only
    then), ``hint`` what to do instead. Models call this with a cheap estimate of their largest
    tensor. Nothing is checked on the meta device, nor while :func:`count_macs` traces a
    forward (fake tensors allocate nothing)."""
    if _tracing or torch.device(device).type == "meta":
        return
    have = device_memory(device)
    if have is not None and nbytes > have:
        raise MemoryError(f"{describe()}: {nbytes / 1e9:,.1f} GB, more than the {have / 1e9:,.1f} GB of memory of "
                          f"this {torch.device(device).type} device" + (f"; {hint}" if hint else ""))
