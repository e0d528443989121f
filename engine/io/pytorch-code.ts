/**
 * A project's graph as a self-contained PyTorch file: `class Model(nn.Module)` whose forward computes the prediction
 * node and whose `objective` computes the training objective, with `load_weights(model, path)` for the weights
 * Backprop Studio exports (.safetensors, read without the safetensors package when it is not installed).
 *
 * The module's state_dict keys are the format's tensor names (project-format.md, "Parameters and weights files"):
 * each layer is a submodule named by its node id (`h1.weight`), each parameter node a parameter named by its id,
 * and the standardisation statistics are buffers of `data.INPUT_ID` (`data.INPUT_ID.mean`), so exported weights
 * load by name and a state_dict saved in PyTorch loads back into the project. Each op follows
 * engine/graph/catalogue.ts: axes index the whole tensor (batch first), `reshape` is per example, default
 * reductions skip the batch axis, eval() is the engine's inference mode (dropout off, batchnorm on running
 * statistics). The output depends on the project alone, so the same project always gives the same bytes.
 */
import { opSpec, type Attrs } from '../graph/catalogue';
import { expandGraph, type Expansion, type GraphNode } from '../graph/expand';
import { pair } from '../graph/attrs';
import { normAxes, normAxis, type Shape } from '../ir/shape';
import { NO_PREDICTION, resolveTargets, standardizedLabel, throwGraphErrors } from '../train/program';
import { StudioError } from '../util/errors';
import type { Project } from './project';

/** Python's keywords, and the names the generated methods use besides node values. */
const PY_KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(
    ' ',
  ),
);
const RESERVED_LOCALS = new Set(['self', 'torch', 'F', 'nn', 'getattr']);

/** What nn.ModuleDict has besides nn.Module's attributes: keys of the standardisation's ModuleDict may not be these. */
const MODULE_DICT_ATTRS = new Set(['clear', 'items', 'keys', 'pop', 'update', 'values']);

/**
 * Attributes of torch.nn.Module (torch 1.13 to 2.x) and of the generated Model: a submodule, parameter or buffer of
 * one of these names cannot be registered, so a node owning tensors may not be named so.
 */
const MODULE_ATTRS = new Set(
  `T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches eval
  extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu load_state_dict modules mtia
  named_buffers named_children named_modules named_parameters parameters register_backward_hook register_buffer
  register_forward_hook register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
  register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module register_parameter
  register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory
  state_dict to to_empty train training type xpu zero_grad objective`.split(/\s+/),
);

/** A file name for the generated source: the project's name in lower snake case, `.py`. */
export function pytorchFileName(project: Project): string {
  const stem = (project.name ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return `${stem || 'model'}.py`;
}

/** The Python source for `project`; a StudioError naming the node for anything it cannot write. */
export function pytorchCode(project: Project): string {
  return new Writer(project).source();
}

/** A float literal: integers get `.0`, so that torch.tensor makes float32. */
function pyFloat(x: number): string {
  return Number.isInteger(x) && Math.abs(x) < 1e16 ? `${x}.0` : String(x);
}

function pyTensor(v: unknown): string {
  return Array.isArray(v) ? `[${v.map(pyTensor).join(', ')}]` : pyFloat(v as number);
}

const pyTuple = (xs: readonly number[]) => (xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(', ')})`);

class Writer {
  private readonly nodes: readonly GraphNode[];
  private readonly byId: ReadonlyMap<string, GraphNode>;
  private readonly e: Expansion;
  /** Whether the inputs are standardised inside (data.standardize). */
  private readonly standardized: boolean;
  /** The `real` label standardised inside, when data.standardizeLabel applies to one (program.ts standardizedLabel). */
  private readonly standardizedLabel: string | undefined;
  private readonly prediction: string;
  private readonly objective: string;
  /** Each node's local variable in the generated methods. */
  private readonly locals = new Map<string, string>();

  constructor(private readonly project: Project) {
    this.nodes = project.graph.nodes;
    this.byId = new Map(this.nodes.map((n) => [n.id, n]));
    this.e = expandGraph(this.nodes, { batch: null, mode: 'infer' });
    throwGraphErrors(this.e.errors);
    const targets = resolveTargets(this.nodes, project.training ?? {});
    if (targets.prediction === undefined) throw new StudioError(NO_PREDICTION);
    this.prediction = targets.prediction;
    this.objective = targets.objective;
    this.standardized = project.data?.standardize === true;
    this.standardizedLabel = standardizedLabel(project.data, targets);
    const taken = new Set(this.nodes.map((n) => n.id));
    for (const n of this.nodes) {
      let name = n.id;
      while (PY_KEYWORDS.has(name) || RESERVED_LOCALS.has(name) || (name !== n.id && taken.has(name))) name += '_';
      taken.add(name);
      this.locals.set(n.id, name);
    }
  }

  source(): string {
    return [this.header(), READER, ...(this.hasData ? [standardizeModule(this.standardizedLabel !== undefined)] : []), this.model()].join('\n\n\n') + '\n';
  }

  /** Whether the module has `self.data`, the standardisation of the inputs or of the label. */
  private get hasData(): boolean {
    return this.standardized || this.standardizedLabel !== undefined;
  }

  private header(): string {
    const name = JSON.stringify(this.project.name ?? 'untitled');
    const args = this.argsOf(this.prediction).map((id) => this.local(id));
    return `"""The Backprop Studio project ${name} as a PyTorch module (generated by bpstudio export --format pytorch).

Model is the project's graph; load_weights(model, path) loads the weights Backprop Studio exports (.safetensors).
The module's state_dict keys are the project's tensor names, so safetensors.torch.save_file(model.state_dict(), path)
writes weights that load back into the project (batchnorm's num_batches_tracked is ignored there).

    model = Model()
    load_weights(model, "weights.safetensors")
    model.eval()  # dropout off, batchnorm on its running statistics
    with torch.no_grad():
        prediction = model(${args.join(', ')})
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F
from torch import nn`;
  }

  private model(): string {
    const init = this.nodes.flatMap((n) => this.member(n));
    if (this.hasData) {
      const standardised = this.nodes.filter((n) => (this.standardized && n.op === 'input') || n.id === this.standardizedLabel);
      // nn.ModuleDict refuses a key that names one of its attributes
      const taken = standardised.find((n) => MODULE_ATTRS.has(n.id) || MODULE_DICT_ATTRS.has(n.id));
      if (taken) {
        throw new StudioError(`the ${taken.op} id "${taken.id}" is taken by torch.nn.ModuleDict in PyTorch (it holds the standardisation): rename the node to export it`, { node: taken.id });
      }
      const entries = standardised.map((n) => `"${n.id}": Standardize(${pyTuple(this.perExample(n.id))})`);
      init.push(`self.data = nn.ModuleDict({${entries.join(', ')}})`);
    }
    const predictionArgs = this.argsOf(this.prediction);
    const objectiveArgs = this.argsOf(this.objective);
    const call = (args: string[]) => args.map((id) => this.local(id)).join(', ');
    const allArgs = new Set([...predictionArgs, ...objectiveArgs]);
    const batchMean = this.e.batched.get(this.objective) ? ', its batch mean' : '';
    return [
      'class Model(nn.Module):',
      `    """The graph of ${JSON.stringify(this.project.name ?? 'untitled')}.`,
      '',
      `    forward(${call(predictionArgs)}) -> node "${this.prediction}", ${this.describeShape(this.prediction)}: the prediction${this.standardizedLabel ? ` (in the units of label "${this.standardizedLabel}")` : ''}.`,
      `    objective(${call(objectiveArgs)}) -> node "${this.objective}"${batchMean}: the training objective.`,
      '',
      ...this.nodes.filter((n) => allArgs.has(n.id)).map((n) => `    ${this.describeArg(n.id)}`),
      '    """',
      '',
      '    def __init__(self):',
      '        super().__init__()',
      ...(init.length ? init.map((l) => `        ${l}`) : ['        pass']),
      '',
      ...this.method('forward', this.prediction, predictionArgs, 'prediction'),
      '',
      ...this.method('objective', this.objective, objectiveArgs, this.e.batched.get(this.objective) === true ? 'batch mean' : 'value'),
    ].join('\n');
  }

  /**
   * A method computing `target` from `args`: as it is (`value`), its batch mean, or as the prediction, which is given
   * back in the label's units where the label is standardised.
   */
  private method(name: string, target: string, args: string[], returns: 'value' | 'batch mean' | 'prediction'): string[] {
    const body: string[] = [];
    for (const id of this.ancestry(target)) {
      const n = this.byId.get(id)!;
      if (n.op === 'input' || n.op === 'label') {
        if ((this.standardized && n.op === 'input') || id === this.standardizedLabel) body.push(`${this.local(id)} = self.data["${id}"](${this.local(id)})`);
        continue;
      }
      body.push(`${this.local(id)} = ${this.expression(n)}`);
    }
    const result = this.local(target);
    const label = this.standardizedLabel;
    body.push(`return ${returns === 'batch mean' ? `${result}.mean()` : returns === 'prediction' && label ? `self.data["${label}"].undo(${result})` : result}`);
    return [`    def ${name}(self${args.map((id) => `, ${this.local(id)}`).join('')}):`, ...body.map((l) => `        ${l}`)];
  }

  /**
   * The nodes `target` depends on, itself included, each after its inputs: depth first along the ports in the
   * op's order, so that a value is mostly computed just before its first use.
   */
  private ancestry(target: string): string[] {
    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      const n = this.byId.get(id)!;
      for (const port of opSpec(n.op)!.inputs) visit(n.inputs![port]);
      order.push(id);
    };
    visit(target);
    return order;
  }

  /** The data a method takes: the input and label nodes it depends on, in graph order. */
  private argsOf(target: string): string[] {
    const needed = new Set(this.ancestry(target));
    return this.nodes.filter((n) => (n.op === 'input' || n.op === 'label') && needed.has(n.id)).map((n) => n.id);
  }

  private local(id: string): string {
    return this.locals.get(id)!;
  }

  /** A node's module, parameter or buffer: `self.ID`, or getattr for an id that is a Python keyword. */
  private attr(id: string): string {
    return PY_KEYWORDS.has(id) ? `getattr(self, "${id}")` : `self.${id}`;
  }

  private shape(id: string): Shape {
    return this.e.outputs.get(id)!.shape;
  }

  private perExample(id: string): number[] {
    return this.shape(id).slice(1) as number[];
  }

  private describeShape(id: string): string {
    const s = this.shape(id).map((d, i) => (i === 0 && this.e.batched.get(id) ? 'B' : String(d)));
    return `float32 [${s.join(', ')}]`;
  }

  private describeArg(id: string): string {
    const n = this.byId.get(id)!;
    if (n.op === 'label') {
      const kind = (this.e.attrs.get(id)!.kind as string) ?? 'class';
      const what = kind === 'class' ? 'class indices' : kind === 'sign' ? '-1/+1 labels' : 'real values';
      const inside = id === this.standardizedLabel ? ' (standardised inside with the saved statistics)' : '';
      return `${this.local(id)}: label node "${id}", ${this.describeShape(id)}: ${what}${inside}.`;
    }
    const how = this.standardized ? 'as in the data (standardised inside with the saved statistics)' : 'as in the data';
    return `${this.local(id)}: input node "${id}", ${this.describeShape(id)}, ${how}.`;
  }

  /** The lines of __init__ that make a node's module, parameter or buffer (none for most ops). */
  private member(n: GraphNode): string[] {
    const a = this.e.attrs.get(n.id)!;
    const free = () => {
      if (MODULE_ATTRS.has(n.id) || (this.hasData && n.id === 'data')) {
        throw new StudioError(`the node id "${n.id}" is taken by torch.nn.Module in PyTorch: rename the node to export it`, { node: n.id });
      }
    };
    const register = (what: string): string[] => {
      free();
      return PY_KEYWORDS.has(n.id) ? [`setattr(self, "${n.id}", ${what})`] : [`self.${n.id} = ${what}`];
    };
    const x = () => this.shape(n.inputs!.x);
    switch (n.op) {
      case 'parameter':
        return register(`nn.Parameter(torch.zeros(${pyTuple(a.shape as number[])}))`);
      case 'constant':
        free();
        return [`self.register_buffer("${n.id}", torch.tensor(${pyTensor(a.value)}), persistent=False)`];
      case 'dense': {
        const inF = x()[x().length - 1];
        return register(`nn.Linear(${inF}, ${a.units as number}${a.bias ? '' : ', bias=False'})`);
      }
      case 'conv2d': {
        const [kh, kw] = pair(a.kernel);
        const [ph, pw] = a.padding === 'same' ? [(kh - 1) / 2, (kw - 1) / 2] : pair(a.padding);
        const args = [x()[1], a.filters as number, `kernel_size=${pyTuple([kh, kw])}`, `stride=${pyTuple(pair(a.stride))}`, `padding=${pyTuple([ph, pw])}`];
        return register(`nn.Conv2d(${args.join(', ')}${a.bias ? '' : ', bias=False'})`);
      }
      case 'batchnorm': {
        const kind = x().length === 2 ? 'BatchNorm1d' : 'BatchNorm2d';
        return register(`nn.${kind}(${x()[1]}, eps=${pyFloat(a.eps as number)}, momentum=${pyFloat(a.momentum as number)})`);
      }
      default:
        return [];
    }
  }

  /** The Python expression of a node's value, from the locals of its inputs. */
  private expression(n: GraphNode): string {
    const a = this.e.attrs.get(n.id)!;
    const v = (port: string) => this.local(n.inputs![port]);
    const rank = (port: string) => this.shape(n.inputs![port]).length;
    const scaled = (loss: string) => ((a.weight as number) === 1 ? loss : `${pyFloat(a.weight as number)} * ${loss}`);
    switch (n.op) {
      case 'parameter':
      case 'constant':
        return this.attr(n.id);
      case 'neg':
        return `-${v('x')}`;
      case 'exp':
      case 'sin':
      case 'cos':
      case 'tanh':
      case 'sigmoid':
      case 'relu':
      case 'abs':
      case 'sqrt':
        return `torch.${n.op}(${v('x')})`;
      case 'ln':
        return `torch.log(${v('x')})`;
      case 'leaky_relu':
        return `F.leaky_relu(${v('x')}, ${pyFloat(a.alpha as number)})`;
      case 'softplus':
        return `F.softplus(${v('x')})`;
      case 'square':
        return `${v('x')} * ${v('x')}`;
      case 'pow':
        return `torch.pow(${v('x')}, ${pyFloat(a.exponent as number)})`;
      case 'softmax':
      case 'log_softmax':
        return `torch.${n.op}(${v('x')}, dim=${normAxis(a.axis as number, rank('x'))})`;
      case 'add':
        return `${v('a')} + ${v('b')}`;
      case 'sub':
        return `${v('a')} - ${v('b')}`;
      case 'mul':
        return `${v('a')} * ${v('b')}`;
      case 'div':
        return `${v('a')} / ${v('b')}`;
      case 'maximum':
      case 'minimum':
        return `torch.${n.op}(${v('a')}, ${v('b')})`;
      case 'matmul':
        return `torch.matmul(${v('a')}, ${v('b')})`;
      case 'transpose':
        return a.perm === undefined ? `${v('x')}.transpose(-2, -1)` : `${v('x')}.permute${pyTuple(a.perm as number[])}`;
      case 'reshape':
      case 'flatten':
        return this.reshape(v('x'), n.id);
      case 'concat':
        return `torch.cat([${v('a')}, ${v('b')}], dim=${normAxis(a.axis as number, rank('a'))})`;
      case 'sum':
      case 'mean':
      case 'reduce_max':
        return this.reduction(n, a);
      case 'dense':
      case 'conv2d':
        return activation(`${this.attr(n.id)}(${v('x')})`, a.activation as string);
      case 'batchnorm':
        return `${this.attr(n.id)}(${v('x')})`;
      case 'maxpool2d':
      case 'avgpool2d': {
        const f = n.op === 'maxpool2d' ? 'max_pool2d' : 'avg_pool2d';
        return `F.${f}(${v('x')}, kernel_size=${pyTuple(pair(a.kernel))}, stride=${pyTuple(pair(a.stride ?? a.kernel))})`;
      }
      case 'dropout':
        return `F.dropout(${v('x')}, p=${pyFloat(a.rate as number)}, training=self.training)`;
      case 'mse':
        return scaled(`F.mse_loss(${v('pred')}, ${v('target')}.reshape(${v('pred')}.shape))`);
      case 'softmax_cross_entropy':
        return scaled(`F.cross_entropy(${v('logits')}, ${v('labels')}.long())`);
      case 'sigmoid_cross_entropy': {
        const y = this.labelKind(n, 'labels') === 'sign' ? `(${v('labels')} + 1) / 2` : v('labels');
        return scaled(`F.binary_cross_entropy_with_logits(${v('logits')}.reshape(-1), ${y})`);
      }
      case 'hinge': {
        const s = this.shape(n.inputs!.scores);
        if (this.labelKind(n, 'labels') === 'class' || (s.length === 2 && (s[1] as number) > 1)) {
          return scaled(`F.multi_margin_loss(${v('scores')}, ${v('labels')}.long())`);
        }
        return scaled(`torch.relu(1 - ${v('labels')} * ${v('scores')}.reshape(-1)).mean()`);
      }
      case 'l2':
        return scaled(
          this.e.batched.get(n.inputs!.x)
            ? `(0.5 * ${v('x')} * ${v('x')}).reshape(${v('x')}.shape[0], -1).sum(1).mean()`
            : `0.5 * (${v('x')} * ${v('x')}).sum()`,
        );
      default:
        throw new StudioError(`PyTorch export has no translation of the ${n.op} op`, { node: n.id });
    }
  }

  /** reshape and flatten, to the node's inferred shape (per example when batched). */
  private reshape(x: string, id: string): string {
    const s = this.shape(id) as number[];
    if (this.e.batched.get(id)) return `${x}.reshape(${[`${x}.shape[0]`, ...s.slice(1)].join(', ')})`;
    return `${x}.reshape(${pyTuple(s)})`;
  }

  private reduction(n: GraphNode, a: Attrs): string {
    const x = this.local(n.inputs!.x);
    const rank = this.shape(n.inputs!.x).length;
    const axes =
      a.axes !== undefined ? normAxes(a.axes as number[], rank) : [...Array(rank).keys()].filter((i) => !(i === 0 && this.e.batched.get(n.inputs!.x)));
    // (torch reduces every axis for dim=(), the format reduces none)
    if (axes.length === 0) return x;
    const f = n.op === 'reduce_max' ? 'amax' : n.op;
    return `torch.${f}(${x}, dim=${pyTuple(axes)}${a.keepdims ? ', keepdim=True' : ''})`;
  }

  private labelKind(n: GraphNode, port: string): string | undefined {
    const src = this.byId.get(n.inputs![port])!;
    return src.op === 'label' ? ((this.e.attrs.get(src.id)!.kind as string | undefined) ?? 'class') : undefined;
  }
}

function activation(y: string, act: string): string {
  switch (act) {
    case 'relu':
    case 'sigmoid':
    case 'tanh':
      return `torch.${act}(${y})`;
    case 'leaky_relu':
      return `F.leaky_relu(${y}, 0.01)`;
    case 'softplus':
      return `F.softplus(${y})`;
    default:
      return y;
  }
}

/** The safetensors reader and load_weights (no dependency beyond torch). */
const READER = `_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
           "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    """The tensors of a .safetensors file by name: an 8-byte little-endian header length, a JSON header
    {name: {dtype, shape, data_offsets}}, then the little-endian data. Uses safetensors.torch when installed."""
    try:
        from safetensors.torch import load_file
    except ImportError:
        pass
    else:
        return load_file(path)
    if sys.byteorder != "little":
        raise RuntimeError("reading .safetensors without the safetensors package needs a little-endian machine")
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def load_weights(model, path):
    """Loads a Backprop Studio weights file into model by tensor name; every tensor of the model must be there."""
    result = model.load_state_dict(read_safetensors(path), strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(".num_batches_tracked")]
    statistics = [k for k in result.unexpected_keys if k.startswith("data.")]
    if statistics and not missing and len(statistics) == len(result.unexpected_keys):
        raise ValueError(f"{path} holds standardisation statistics that the model does not apply ({', '.join(statistics)}): "
                         "the weights were trained on standardised data, so without it their predictions are off. In Backprop "
                         "Studio, tick Standardise features or Standardise label (data.standardize, data.standardizeLabel) "
                         "and export the code again")
    if missing or result.unexpected_keys:
        raise ValueError(f"{path} does not fit the model: missing {missing}, unexpected {result.unexpected_keys}")
    return model`;

/** The module that standardises an input (and the label, whose `undo` gives a prediction back in its units). */
const standardizeModule = (label: boolean) => `class Standardize(nn.Module):
    """(x - mean) / std, with the statistics the project's data was standardised with (${label ? `data.ID.mean, .std: an input's
    or the label's); undo(y) = y * std + mean gives a prediction back in the label's units.` : 'data.INPUT_ID.mean, .std).'}"""

    def __init__(self, shape):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def forward(self, x):
        return (x - self.mean) / self.std${
          label
            ? `

    def undo(self, y):
        return y * self.std + self.mean`
            : ''
        }`;
