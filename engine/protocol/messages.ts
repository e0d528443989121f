/**
 * Every message that crosses a process boundary, with its runtime check. Two channels:
 *
 * - engine: renderer <-> engine host (a MessagePort in Electron, the WebSocket in web mode). Requests carry an
 *   `id` and get one reply with the same id; events (training progress and state, `engineEvent`) flow host ->
 *   renderer.
 * - shell: renderer <-> the shell that owns files, dialogs and the window (Electron main through the preload's
 *   `window.studio`, or the web server). Same request/reply shape.
 *
 * Main, preload, host, web server and renderer import this module and nothing else crosses.
 */
import { arr, bool, int, json, literal, nullable, num, obj, optional, record, str, union, type Infer } from './check';

/** Where a problem is (engine/util/errors.ts `Where`), as it crosses. */
export const whereCheck = obj({
  file: optional(str),
  node: optional(str),
  port: optional(str),
  row: optional(int),
  column: optional((v, p) => (typeof v === 'number' ? int(v, p) : str(v, p))),
  path: optional(str),
});

/**
 * How a weights file's tensors fit a project, by name (engine/io/weights-match.ts): taken, missing from the file,
 * not in the project, and of another shape (`expected` the project's, `found` the file's).
 */
const namedShape = obj({ name: str, shape: arr(int) });
export const weightsReport = obj({
  matched: arr(str),
  missing: arr(namedShape),
  unexpected: arr(namedShape),
  misshaped: arr(obj({ name: str, expected: arr(int), found: arr(int) })),
});
export type WeightsReportInfo = Infer<typeof weightsReport>;

/** `weightsReport`: on the error of a weights.load (or train.start) whose weights do not fit the graph. */
export const errorInfo = obj({ message: str, where: optional(whereCheck), weightsReport: optional(weightsReport) });
export type ErrorInfo = Infer<typeof errorInfo>;

// ---- engine channel ----------------------------------------------------------------------------------------------

export const engineRequest = union('type', {
  /** Compiles a project's training step: what only compiling finds (the plan's memory, graph errors). */
  compile: obj({ type: literal('compile'), id: int, project: json }),
  /**
   * Starts training `project` (its data, split and training section) as a new job, from `weights` (base64
   * safetensors, as weights.export gives) or from the seeded initialisation. `baseDir` is the project file's folder,
   * against which relative data paths are read (without it, relative data paths are an error). Replies once the job
   * is running, with its `trainJobInfo`; a job that was running or paused is stopped first (its `train.state`
   * says `stopped`, reason `replaced`, and the reply's `replaced` names it). Events follow (`engineEvent`).
   */
  'train.start': obj({ type: literal('train.start'), id: int, project: json, baseDir: optional(str), weights: optional(str) }),
  /** Pauses the running job between two steps; replies with its `trainStatus` when no step is in flight. */
  'train.pause': obj({ type: literal('train.pause'), id: int }),
  /** Resumes a paused job (an error for a job that is stopped, done or failed: start a new one). */
  'train.resume': obj({ type: literal('train.resume'), id: int }),
  /** Stops the job for good; its weights stay for weights.export and evaluate. Stopping a stopped job is a no-op. */
  'train.stop': obj({ type: literal('train.stop'), id: int }),
  /**
   * One optimizer step of the current job, which is (or becomes) paused: a running job is paused first. Without a
   * running or paused job, `project` (and `baseDir`, `weights` as for train.start) starts a paused job first,
   * whose info comes back in the reply's `started`.
   */
  'train.step': obj({ type: literal('train.step'), id: int, project: optional(json), baseDir: optional(str), weights: optional(str) }),
  /** The current (or last) job's weights now: `weightsExport`. */
  'weights.export': obj({ type: literal('weights.export'), id: int }),
  /**
   * Loads weights (base64 safetensors) into a new paused job of `project`, to resume training from them or to
   * evaluate. Missing, unexpected and mis-shaped tensors are an error that lists them (and carries them all in
   * `error.weightsReport`). With `partial: true` they are not: the matched tensors are loaded, missing and
   * mis-shaped ones keep their seeded initial values, unexpected ones are ignored, and the reply's
   * `weightsReport` says which. Replies with `trainJobInfo`.
   */
  'weights.load': obj({ type: literal('weights.load'), id: int, project: json, baseDir: optional(str), base64: str, partial: optional(bool) }),
  /** The graph as a self-contained PyTorch module (engine/io/pytorch-code.ts): `pytorchExport`. */
  'export.pytorch': obj({ type: literal('export.pytorch'), id: int, project: json }),
  /**
   * The prediction part of `project`'s graph with the current (or last) job's weights as an ONNX model (opset 17,
   * engine/io/onnx/export.ts), checked in ONNX Runtime against the engine on the first `rows` (default 256) of the
   * data's rows: `onnxExport`. A graph node without an ONNX equivalent (a label or loss the prediction reads) is an
   * error naming it. `baseDir` as for train.start.
   */
  'export.onnx': obj({ type: literal('export.onnx'), id: int, project: json, baseDir: optional(str), rows: optional(int) }),
  /** Loads the project's data as training would (no graph needed) and describes it: `dataPreview`. */
  'data.preview': obj({ type: literal('data.preview'), id: int, project: json, baseDir: optional(str) }),
  /**
   * Reads a CSV file streamed (in 1 MB chunks, while the host keeps answering other requests; `data.progress` events
   * carry this request's id) and describes it for the import wizard: `csvInspection`. A relative `path` is read
   * against `baseDir`, as for train.start. Malformed rows are listed, not errors.
   */
  'data.inspect': obj({ type: literal('data.inspect'), id: int, path: str, baseDir: optional(str) }),
  /**
   * Objective, accuracy and confusion matrix of the current (or last) job's weights now, in inference mode, on the
   * validation part (default) or on all the dataset's rows in file order (what `bpstudio eval` computes).
   */
  evaluate: obj({ type: literal('evaluate'), id: int, rows: optional(literal('validation', 'all')) }),
  /**
   * Reverse mode, forward mode and central differences compared on every trainable tensor, with the current (or
   * last) job's weights now, on the first 8 of the dataset's rows (GRADCHECK_ROWS; what `bpstudio gradcheck` computes).
   * The host answers other requests meanwhile, sends `request.progress` events, and stops it on `cancel`.
   */
  gradcheck: obj({ type: literal('gradcheck'), id: int }),
  /**
   * The Jacobian of project node `of` with respect to `wrt` (an input node's id or a parameter tensor's name; default:
   * the one input node `of` reads), with the current (or last) job's weights now, on the dataset's first row, in
   * inference mode (what `bpstudio jacobian` computes): `jacobianResult`, at most JACOBIAN_APP_VALUES values. The
   * host answers other requests meanwhile, sends `request.progress` events, and stops it on `cancel`.
   */
  jacobian: obj({ type: literal('jacobian'), id: int, of: str, wrt: optional(str) }),
  /**
   * How project node `node`'s output, the gradient with respect to it, and its own tensors and their gradients are
   * spread, with the current (or last) job's weights now, on the dataset's first DISTRIBUTION_ROWS rows (one forward
   * and backward pass, no update): `distributionsResult`.
   */
  distributions: obj({ type: literal('distributions'), id: int, node: str }),
  /**
   * Project node `node`'s primitives in a training step of `project` (no job needed): those its expansion emits and
   * those reverse mode emits for its gradients, `programResult`. Answered alongside other work, as compile is.
   */
  program: obj({ type: literal('program'), id: int, project: json, node: str }),
  /** What the machine can train on: `backendsInfo`. */
  backends: obj({ type: literal('backends'), id: int }),
  /**
   * Stops the in-flight request `request` (its id on this connection), answered at once with `cancelResult`. A
   * data.inspect stops reading between two chunks; a data.preview stops waiting for its CSV file, whose read stops
   * too unless another request waits for it; a gradcheck stops between two finite differences, a jacobian between two
   * columns. The canceled request's reply is an error, message `canceled`. Any
   * other request, or one already answered, is left alone (`canceled: false`).
   */
  cancel: obj({ type: literal('cancel'), id: int, request: int }),
});
export type EngineRequest = Infer<typeof engineRequest>;

export const compileResult = obj({
  ok: bool,
  /** Bytes of the training step's plan at the project's batch size. */
  planBytes: optional(num),
  parameterCount: num,
  errors: arr(obj({ node: nullable(str), port: optional(str), message: str })),
});
export type CompileResult = Infer<typeof compileResult>;

export const engineReply = obj({ id: int, ok: bool, result: optional(json), error: optional(errorInfo) });
export type EngineReply = Infer<typeof engineReply>;

/**
 * What the host sends in reply to a request. (The host also sends events, `engineEvent`, which carry an `event`
 * key and no `id`: tell them apart with `isEngineEvent` before checking.)
 */
export const engineMessage = engineReply;
export type EngineMessage = Infer<typeof engineMessage>;

// ---- training (engine channel) -----------------------------------------------------------------------------------
//
// A job is one training run of one project in the host: started by train.start (running), train.step or
// weights.load (paused). The host holds one job per connection: starting another stops the one before. Job ids
// increase; every event names its job, so a renderer shows the job with the highest id it has heard of.
//
// State machine: running <-> paused (train.pause, train.resume; train.step pauses a running job, then steps);
// running or paused -> stopped (train.stop, or replaced by a new job); running -> done (the project's
// training.epochs are finished); running or paused -> error (a NaN/Inf, or any failure of a step). stopped, done
// and error are final: their weights stay for weights.export and evaluate until the next job.
//
// Training's numbers are float32 computations: events carry them (losses, norms) to 7 significant digits, all that a
// float32 holds, so that they cost half the bytes; evaluate's reply carries full doubles.
//
// `step` counts optimizer steps (1-based; 0 before the first). `epoch` is the epoch of the latest step (1-based;
// 0 before the first step): during the 3rd epoch it is 3, and when the 3rd epoch's last step is done it is still 3.
//
// Events are batched in time, so that thousands of steps a second neither slow training nor flood the renderer:
// at most one train.progress and one train.epoch per 100 ms (each carrying everything since the one before), a
// train.boundary or train.fit at most once a second while running (and then only after 250 steps or more, and at
// most 0.5% of the running time), and a train.state on every change of state. The steps before a state change are
// always reported (train.progress, train.epoch) before its train.state, so the last step is always seen.

export const JOB_STATES = ['running', 'paused', 'stopped', 'done', 'error'] as const;
export const jobState = literal(...JOB_STATES);
export type JobState = Infer<typeof jobState>;

/** Where a job is: the reply to train.pause, train.resume and train.stop. */
export const trainStatus = obj({ job: int, state: jobState, step: int, epoch: int });
export type TrainStatus = Infer<typeof trainStatus>;

/** A range of the data, in its own units. */
const range = obj({ min: num, max: num });

/** A job, as train.start and weights.load describe it (and train.step, when it started one). */
/** The backend a job trains on, and why (the project's choice, `auto`'s reasoning, or the CPU's takeover). */
const jobBackend = obj({ name: literal('cpu', 'webgpu'), adapter: optional(str), reason: str });

export const trainJobInfo = obj({
  job: int,
  state: jobState,
  step: int,
  epoch: int,
  /** The project's training.epochs: the job is `done` after them. */
  epochs: int,
  stepsPerEpoch: int,
  /** epochs * stepsPerEpoch. */
  totalSteps: int,
  batchSize: int,
  trainRows: int,
  validationRows: int,
  /** Layers (and parameter nodes) with trainable tensors, in graph order: the order of every per-layer number. */
  layers: arr(obj({ id: str, tensors: arr(str) })),
  /** Whether steps and epochs report an accuracy (a class or sign label the prediction can be scored against). */
  hasAccuracy: bool,
  /** Whether epochs report a regression's RMSE (a real label against one value per example), in the label's units. */
  hasRmse: optional(bool),
  /** The label node's kind, when the objective has one. */
  labelKind: optional(literal('class', 'real', 'sign')),
  /**
   * When the label is standardised (data.standardizeLabel): the mean and standard deviation it was standardised with,
   * so the loss is in those units (predictions and fitted curves come in the label's own).
   */
  labelScale: optional(obj({ mean: num, std: num })),
  /** The job's training.clipNorm, where it clips its gradients. */
  clipNorm: optional(num),
  /** The classes that confusion matrices count (rows and columns, in index order), when there are such. */
  classes: optional(arr(str)),
  /**
   * When the input nodes read two feature columns in all (and the prediction is one score, or one score per class):
   * those columns' names and their ranges over all the dataset's rows. Only then are there train.boundary events.
   */
  plane: optional(obj({ features: arr(str), x1: range, x2: range })),
  /**
   * When the input nodes read one feature column and the prediction is one value per example with a real label (a
   * regression on one variable), one score per class, or one score that gives class 1's probability (a sigmoid's
   * output, or the logits of a sigmoid_cross_entropy objective): that column's name and its range over all the
   * dataset's rows. Only then are there train.fit events.
   */
  line: optional(obj({ feature: str, x: range })),
  /** The job this one stopped (train.start while another was running or paused). */
  replaced: optional(int),
  /** The backend the job trains on, the WebGPU adapter where there is one, and why (training.backend, `auto`). */
  backend: optional(jobBackend),
  /** weights.load with `partial`: how the file's tensors fitted. */
  weightsReport: optional(weightsReport),
  /** What a job from loaded weights should know: statistics they carry that the project leaves unused (Session.notes). */
  notes: optional(arr(str)),
});
export type TrainJobInfo = Infer<typeof trainJobInfo>;

/** The reply to train.step: the job after the step, the step's loss, and the job's info when the step started it. */
export const trainStepResult = obj({ job: int, state: jobState, step: int, epoch: int, loss: num, started: optional(trainJobInfo) });
export type TrainStepResult = Infer<typeof trainStepResult>;

/**
 * The reply to weights.export: base64 of a safetensors file with every tensor by its project-format.md name, the
 * standardisation tensors (`data.INPUT_ID.mean`, `.std`) when the data is standardised, and `__metadata__`
 * {format: backprop-studio/weights, version: 1, name: the project's name}. Save it with the shell's exportFile.
 */
export const weightsExport = obj({ job: int, step: int, epoch: int, base64: str, bytes: int });
export type WeightsExport = Infer<typeof weightsExport>;

/** The reply to export.pytorch: the Python source, and a file name for it from the project's name. */
export const pytorchExport = obj({ text: str, fileName: str });
export type PytorchExport = Infer<typeof pytorchExport>;

/** One primitive, `name = op(args) attrs`, its shape with null for the batch (engine/train/node-program.ts). */
const primitiveLine = obj({
  /** The value's name: a node's id, a tensor's name, `∇` and one of those for its gradient, else `%` and an index. */
  name: str,
  op: str,
  /** Its inputs by name; a scalar constant as its number. */
  args: arr(str),
  /** Its attributes in words (`axes [1] · keepdims`); '' when none. */
  attrs: str,
  shape: arr(nullable(int)),
});
export type PrimitiveLineInfo = Infer<typeof primitiveLine>;

/**
 * The reply to program: a node's forward primitives and the backward ones the gradients of the trainable tensors and
 * the input nodes need; a constant that depends on the batch size (a mean's 1/B) is for the training batch, `batch`.
 */
export const programResult = obj({
  node: str,
  /** The batch size that constants depending on it (a mean's 1/B) are for: the training batch's. */
  batch: int,
  forward: arr(primitiveLine),
  /**
   * Only those the gradients of the trainable tensors and of the input nodes' values need (the VJPs also write what
   * nothing reads; a plan drops those, and a training step the inputs' too).
   */
  backward: arr(primitiveLine),
});
export type ProgramResult = Infer<typeof programResult>;

/**
 * The reply to export.onnx: the .onnx file as base64 (save it with the shell's exportFile), and the parity check:
 * the largest |ONNX Runtime - engine| over the predictions of the first `rows` rows, raw features in, and the
 * largest |engine| among them (`scale`: float32 rounding grows with it).
 */
export const onnxExport = obj({ base64: str, parity: obj({ maxAbsDiff: num, rows: int, scale: num }) });
export type OnnxExportInfo = Infer<typeof onnxExport>;

/** rows = true class, columns = predicted class, both in the order of `classes`. */
const confusionMatrix = arr(arr(int));

/** The reply to evaluate. */
export const evaluateResult = obj({
  job: int,
  step: int,
  rows: int,
  which: literal('validation', 'all'),
  objective: nullable(num),
  accuracy: optional(num),
  /** A regression's root mean squared error, in the label's units (null where not finite). */
  rmse: optional(nullable(num)),
  classes: optional(arr(str)),
  confusion: optional(confusionMatrix),
});
export type EvaluateResult = Infer<typeof evaluateResult>;

/**
 * The reply to gradcheck: each trainable tensor's largest relative errors, in the model's order; for a model without
 * any (a function of its inputs), each input node's (`of`: `inputs`).
 */
export const gradcheckResult = obj({
  job: int,
  step: int,
  rows: int,
  ok: bool,
  of: literal('parameters', 'inputs'),
  maxRelError: num,
  /** What `ok` is measured against: every error below it. */
  tolerance: num,
  tensors: arr(obj({ name: str, reverseVsNumeric: num, forwardVsReverse: num })),
});
export type GradcheckResult = Infer<typeof gradcheckResult>;

/** The reply to jacobian: `shape` is [...of's shape, ...wrt's shape] (`ofRank` of them of's), values row-major (null: not finite). */
export const jacobianResult = obj({
  job: int,
  step: int,
  of: str,
  wrt: str,
  rows: int,
  shape: arr(int),
  ofRank: int,
  values: arr(nullable(num)),
});
export type JacobianResult = Infer<typeof jacobianResult>;

/**
 * A tensor's values in BINS equal bins over [min, max] of the finite ones, and over their central range between two
 * quantiles, with how many fall outside it (engine/train/node-distributions.ts).
 */
const histogram = obj({
  n: int,
  nonFinite: int,
  zeros: int,
  min: nullable(num),
  max: nullable(num),
  mean: nullable(num),
  std: nullable(num),
  counts: arr(int),
  central: optional(obj({ lo: num, hi: num, counts: arr(int), below: int, above: int })),
});
export type HistogramInfo = Infer<typeof histogram>;

/** The reply to distributions; `deadUnits` for a ReLU's output [B, units, ...] (hasReluUnits): the units zero on every row. */
export const distributionsResult = obj({
  job: int,
  step: int,
  node: str,
  rows: int,
  output: histogram,
  outputGradient: histogram,
  deadUnits: optional(obj({ dead: int, units: int })),
  tensors: arr(obj({ name: str, value: histogram, gradient: histogram })),
});
export type DistributionsResult = Infer<typeof distributionsResult>;

const cell = (v: unknown, p?: string): number | string | null => (v === null ? null : typeof v === 'string' ? str(v, p) : num(v, p));

/** The reply to data.preview. */
export const dataPreview = obj({
  /** The dataset's name (file or builtin). */
  name: str,
  rows: int,
  /** Every feature's name (a CSV's encoded features: a one-hot column gives one per category, `color=red`). */
  features: arr(str),
  /** The label column's name and kind, when there is one. */
  label: optional(obj({ name: str, kind: literal('class', 'real') })),
  /** The shown columns: the first (up to) 32 features, then the label. */
  columns: arr(str),
  /** The first (up to) 20 rows, one cell per shown column: numbers, and the label as its class name. */
  head: arr(arr(cell)),
  /** For a class label: each class's name and row count (the class balance), in class order. */
  classes: optional(arr(obj({ name: str, count: int }))),
  /** For a real label: its range. */
  labelRange: optional(range),
  /** Which feature columns each `input` node of the graph reads (where the graph says and they exist). */
  inputs: arr(obj({ id: str, features: arr(str) })),
  /**
   * For two-feature data (the input nodes read two columns in all, or, failing that, the data has two features):
   * the points, at most 4000 (evenly spaced through the rows when there are more), in the data's own units, with
   * each point's label (class index, or value; null without a label). For one-feature data with a label (the input
   * nodes read one column in all, or, failing that, the data has one feature) with `labelAxis`: x1 is that feature
   * and x2 the label (a class label's class index), `features` their names.
   */
  points: optional(obj({ features: arr(str), x1: arr(num), x2: arr(num), label: arr(nullable(num)), sampled: bool, labelAxis: optional(bool) })),
  /** CSV data with the import's keys: the file's rows that are not rows of the dataset (`missing: drop`, `malformed: skip`). */
  dropped: optional(obj({ missing: int, malformed: int })),
  /**
   * For image data (kind `images`; IDX images of [n, H, W], or [n, C, H, W] with C 1 or 3): one example's `shape`
   * [C, H, W] and a grid of samples, one group per class in class order (one group named "all" without a label):
   * the first (up to) 8 of the class in file order, their 1-based `rows`, each a grayscale (C 1) or RGB (C 3) PNG
   * in base64, at most 64 pixels a side. At most 20 groups; `hiddenClasses` counts the classes left out.
   */
  images: optional(
    obj({ shape: arr(int), groups: arr(obj({ name: str, rows: arr(int), png: arr(str) })), hiddenClasses: int }),
  ),
});
export type DataPreview = Infer<typeof dataPreview>;

/**
 * The reply to data.inspect (engine/data/csv-scan.ts): the file's size, its well-formed data rows, the header, and
 * per column the inferred type (`numeric`: every non-missing cell is a number; else `categorical` with at most
 * max(20, 5% of the rows) distinct values, at most 1000; else `text`), its missing cells (empty, NA, N/A, NaN,
 * null, ?), its distinct values (counted up to 10001), the categories of a categorical column in order of first
 * appearance, the range and mean of a numeric one, and up to 3 distinct example values. `malformed`: the first 100
 * malformed rows (wrong cell count, broken quoting) by line, `malformedCount` all of them; `head`: the first 20
 * well-formed rows as read.
 */
export const csvInspection = obj({
  file: str,
  bytes: num,
  rows: int,
  header: arr(str),
  columns: arr(
    obj({
      name: str,
      type: literal('numeric', 'categorical', 'text'),
      missing: int,
      distinct: int,
      categories: optional(arr(str)),
      min: optional(num),
      max: optional(num),
      mean: optional(num),
      examples: arr(str),
    }),
  ),
  malformed: arr(obj({ line: int, column: optional(str), message: str })),
  malformedCount: int,
  head: arr(arr(str)),
});
export type CsvInspectionInfo = Infer<typeof csvInspection>;

/** The reply to backends: the CPU always; WebGPU's adapter (software ones are exact but slow), or why there is none. */
export const backendsInfo = obj({
  webgpu: nullable(obj({ adapter: str, software: bool })),
  reason: optional(str),
});
export type BackendsInfo = Infer<typeof backendsInfo>;

/** The reply to cancel: whether the request was in flight and cancelable (its own reply says `canceled`). */
export const cancelResult = obj({ canceled: bool });

/** What each engine request's reply carries in `result` when `ok`. */
export const engineResults = {
  compile: compileResult,
  'train.start': trainJobInfo,
  'train.pause': trainStatus,
  'train.resume': trainStatus,
  'train.stop': trainStatus,
  'train.step': trainStepResult,
  'weights.export': weightsExport,
  'weights.load': trainJobInfo,
  'export.pytorch': pytorchExport,
  'export.onnx': onnxExport,
  'data.preview': dataPreview,
  'data.inspect': csvInspection,
  evaluate: evaluateResult,
  gradcheck: gradcheckResult,
  jacobian: jacobianResult,
  distributions: distributionsResult,
  program: programResult,
  backends: backendsInfo,
  cancel: cancelResult,
} as const;
export type EngineResult<T extends EngineRequest['type']> = Infer<(typeof engineResults)[T]>;

/** A metric over a train.progress event's points: per point, the min, max and last value of its bucket of steps. */
const series = obj({ min: arr(nullable(num)), max: arr(nullable(num)), last: arr(nullable(num)) });
export type MetricSeries = Infer<typeof series>;

/** Per-epoch numbers (train.epoch). */
const epochInfo = obj({
  epoch: int,
  step: int,
  /** Mean training objective over the epoch's examples (as the weights moved during the epoch). */
  loss: num,
  /** Running training accuracy over the epoch's batches. */
  accuracy: optional(num),
  /** A regression's root mean squared error over the epoch's batches, in the label's units (null where not finite). */
  rmse: optional(nullable(num)),
  /** On the validation part at the epoch's end, in inference mode. */
  valLoss: optional(nullable(num)),
  valAccuracy: optional(num),
  valRmse: optional(nullable(num)),
  /** The learning rate of the epoch's last step: optimizer.lr times training.schedule's factor. */
  lr: num,
});
export type EpochInfo = Infer<typeof epochInfo>;

export const engineEvent = union('event', {
  /**
   * How far a request that reads a data file has got (data.inspect; data.preview, train.start, train.step,
   * weights.load and export.onnx of a CSV file or an image folder, whose images' bytes count): `bytes` read of
   * `total` to read, at most about 10 a second, `requestId` the request's id. Loading a CSV reads it twice (types
   * first, then values), so its `total` is twice the file's size.
   */
  'data.progress': obj({ event: literal('data.progress'), requestId: int, bytes: num, total: num }),
  /**
   * How far request `requestId` has got, at most about 10 a second: a gradcheck, `done` of `total` elements checked by
   * finite differences; a jacobian, `done` of `total` columns (forward passes).
   */
  'request.progress': obj({ event: literal('request.progress'), requestId: int, done: int, total: int }),
  /**
   * The steps since the last train.progress, decimated to at most 100 points (1000 a second): the steps are cut into
   * buckets of s = ceil(n / 100) consecutive steps, and each point is one bucket (its last step's number and epoch, its size,
   * and per metric the bucket's min, max and last value), so a chart that draws min..max sees every spike.
   * `updateRatio` is each layer's ||w_after - w_before|| / ||w_before|| (norms over the layer's trainable tensors)
   * over one step of this batch, `updateRatio.step`: the host reads the weights before and after that one step
   * (the first step after the previous train.progress, the step of a train.step, or the job's last step), so it
   * costs a copy of the weights ten times a second, not every step. null where the layer's weights were all zero.
   */
  'train.progress': obj({
    event: literal('train.progress'),
    job: int,
    /** The latest step, and its epoch. */
    step: int,
    epoch: int,
    totalSteps: int,
    /** Optimizer steps per second of running time (since the job last started or resumed). */
    stepsPerSecond: num,
    /** At that rate, until the last epoch is done; null when paused or not yet known. */
    secondsLeft: nullable(num),
    points: obj({
      step: arr(int),
      epoch: arr(int),
      count: arr(int),
      loss: series,
      /** By layer id (trainJobInfo.layers): the L2 norm of the layer's gradient (all its trainable tensors). */
      gradNorm: record(series),
    }),
    updateRatio: nullable(obj({ step: int, layers: record(nullable(num)) })),
    /**
     * The size of the gradient flowing back along each edge of the graph, measured on the same step as `updateRatio`
     * (`flow.step`), on that step's batch with the weights after it: for the edge source -> target, the L2 norm
     * (over the whole tensor, the batch included) of the part of d objective / d source's value that comes back
     * from target; the edges out of a node sum, as tensors, to its gradient. One entry per edge in graph order (a
     * source wired to two ports of one target is one edge); 0 where no gradient flows (out of a label or constant,
     * or into nothing the objective depends on); edges out of input nodes carry d objective / d input. null where
     * not finite, and `flow` null when no step was measured. Each train.step is measured, so after one both
     * `flow` and `updateRatio` are that step's. Absent from hosts that predate it. `units`: the nodes whose value is a
     * ReLU's [B, units, ...] (hasReluUnits) with units that are zero on every row of the batch (dead), and how many.
     */
    flow: optional(
      nullable(
        obj({
          step: int,
          edges: arr(obj({ source: str, target: str, norm: nullable(num) })),
          units: optional(arr(obj({ node: str, dead: int, units: int }))),
        }),
      ),
    ),
  }),
  /**
   * The epochs finished since the last train.epoch (usually one; many when epochs are short), and the validation
   * part's confusion matrix at the end of the latest of them (for class and sign labels).
   */
  'train.epoch': obj({
    event: literal('train.epoch'),
    job: int,
    epochs: arr(epochInfo),
    confusion: optional(obj({ epoch: int, classes: arr(str), matrix: confusionMatrix })),
  }),
  /**
   * The prediction over a grid covering the data's plane (trainJobInfo.plane), for two-feature inputs: `width` x
   * `height` cells, cell (i, j) at index j * width + i, its centre at x1 = x1.min + i (x1.max - x1.min) / (width - 1)
   * and x2 = x2.min + j (x2.max - x2.min) / (height - 1) (j = 0 is the bottom row). The grid covers the data's
   * range and 5% more on each side. `mode` class (K scores): `predicted` is the argmax class and `value` its
   * softmax probability. `mode` score (one value per example): `value` is the prediction itself and, for class and
   * sign labels, `predicted` is 1 where it is above `threshold` (0.5 after a sigmoid, else 0), 0 elsewhere.
   * Sent every few hundred steps (at most once a second, and at most 0.5% of the training time), when the job pauses,
   * stops or finishes, and after each train.step.
   */
  'train.boundary': obj({
    event: literal('train.boundary'),
    job: int,
    step: int,
    epoch: int,
    features: arr(str),
    x1: range,
    x2: range,
    width: int,
    height: int,
    mode: literal('class', 'score'),
    classes: optional(arr(str)),
    threshold: optional(num),
    predicted: arr(int),
    value: arr(nullable(num)),
  }),
  /**
   * The fitted curves of a model on one feature (trainJobInfo.line), at `points` evenly spaced values of the
   * feature from x.min to x.max (the data's range and 5% more on each side); null where not finite. A regression's
   * `value`: the prediction, 5 significant digits. A classifier's `classes` and `probabilities`: each class's
   * probability (one array per class, in class order), 4 decimals. Sent as train.boundary is.
   */
  'train.fit': obj({
    event: literal('train.fit'),
    job: int,
    step: int,
    epoch: int,
    feature: str,
    x: range,
    points: int,
    value: optional(arr(nullable(num))),
    classes: optional(arr(str)),
    probabilities: optional(arr(arr(nullable(num)))),
  }),
  /**
   * The job's state changed (see the state machine above). `reason`: `user` (a request), `replaced` (a new job
   * stopped it), `finished` (done). For `error`, the engine's message and where (a NaN/Inf names the node whose
   * value first went non-finite).
   */
  'train.state': obj({
    event: literal('train.state'),
    job: int,
    state: jobState,
    step: int,
    epoch: int,
    /** `takeover`: the GPU was lost and the job goes on on the CPU (`backend` says from where) in the same state. */
    reason: optional(literal('user', 'replaced', 'finished', 'takeover')),
    error: optional(errorInfo),
    /** With reason `takeover`: the backend the job now trains on. */
    backend: optional(jobBackend),
  }),
});
export type EngineEvent = Infer<typeof engineEvent>;
export type EngineEventOf<T extends EngineEvent['event']> = Extract<EngineEvent, { event: T }>;

/** Whether a message from the host is an event (it has an `event` key) rather than a reply (an `id`). */
export function isEngineEvent(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && typeof (raw as { event?: unknown }).event === 'string';
}

// ---- shell channel -----------------------------------------------------------------------------------------------

export const fileEntry = obj({ name: str, path: str, kind: literal('file', 'dir') });
export type FileEntry = Infer<typeof fileEntry>;

export const openedFile = obj({ path: str, text: str });
export type OpenedFile = Infer<typeof openedFile>;

export const recoveryItem = obj({ key: str, name: str, path: nullable(str), savedAt: num, text: str });
export type RecoveryItem = Infer<typeof recoveryItem>;

export const exampleItem = obj({ name: str, path: str, text: str });
export type ExampleItem = Infer<typeof exampleItem>;

/** Texts are bounded so that a broken renderer cannot make the shell write gigabytes. */
const MAX_TEXT = 256 * 1024 * 1024;
const text = (v: unknown, p?: string) => {
  const s = str(v, p);
  if (s.length > MAX_TEXT) throw new Error(`${p}: text too long`);
  return s;
};

export const shellRequest = union('type', {
  /** Opens a project: the given path, or (without one) the native dialog / the workspace picker's choice. */
  open: obj({ type: literal('open'), path: optional(str) }),
  save: obj({ type: literal('save'), path: str, text }),
  /** Asks where to save (native dialog in Electron; in web mode the renderer's picker chose `path`). */
  saveAs: obj({ type: literal('saveAs'), suggestedName: str, text, path: optional(str) }),
  /** Writes bytes (base64) next to the project: exported weights. */
  exportFile: obj({ type: literal('exportFile'), suggestedName: str, base64: str, path: optional(str) }),
  /**
   * A folder's sub-folders and files (not hidden ones): project files by default, or the files with one of
   * `extensions` (lowercase, without the dot: `csv`; `*` for any file).
   */
  list: obj({ type: literal('list'), dir: optional(str), extensions: optional(arr(str)) }),
  recent: obj({ type: literal('recent') }),
  examples: obj({ type: literal('examples') }),
  recoverySave: obj({ type: literal('recoverySave'), key: str, name: str, path: nullable(str), text }),
  recoveryList: obj({ type: literal('recoveryList') }),
  recoveryDiscard: obj({ type: literal('recoveryDiscard'), key: str }),
  /** The window title and whether there is unsaved work (Electron asks before closing over it). */
  windowState: obj({ type: literal('windowState'), title: str, dirty: bool }),
  info: obj({ type: literal('info') }),
  /**
   * Asks for a file to read: a dataset (`data`: CSV, TSV, text or IDX) or trained weights (`weights`: .safetensors);
   * or, for `images`, a folder (of images, one sub-folder per class).
   * Electron: the native open dialog, starting at `path` (the project's folder, or the file chosen before) when it is
   * absolute; null when canceled. Web mode: the page's picker chose `path` (without one it is refused, as for
   * `open`); the reply says it is a readable file (for `images`, folder) of the workspace. Reading a file (readFile)
   * is allowed afterwards.
   */
  chooseFile: obj({ type: literal('chooseFile'), purpose: literal('data', 'weights', 'images'), path: optional(str) }),
  /** A file's bytes as base64 (at most 256 MB): weights to load. Only files the user opened or chose (Electron), or the workspace's (web mode). */
  readFile: obj({ type: literal('readFile'), path: str }),
});
export type ShellRequest = Infer<typeof shellRequest>;

export const shellInfo = obj({
  platform: literal('electron', 'web'),
  /** Web mode: the workspace folder that file access is confined to. */
  workspace: optional(str),
  version: str,
});
export type ShellInfo = Infer<typeof shellInfo>;

/** What each shell request returns. */
export const shellResults = {
  open: nullable(openedFile),
  save: obj({ path: str }),
  saveAs: nullable(obj({ path: str })),
  exportFile: nullable(obj({ path: str })),
  list: obj({ dir: str, entries: arr(fileEntry) }),
  recent: obj({ paths: arr(str) }),
  examples: obj({ examples: arr(exampleItem) }),
  recoverySave: obj({}),
  recoveryList: obj({ items: arr(recoveryItem) }),
  recoveryDiscard: obj({}),
  windowState: obj({}),
  info: shellInfo,
  chooseFile: nullable(obj({ path: str })),
  readFile: obj({ path: str, base64: str, bytes: int }),
} as const;
export type ShellResult<T extends ShellRequest['type']> = Infer<(typeof shellResults)[T]>;

/** Menu commands that the shell sends to the renderer (the Electron menu; web mode has the same in-page). */
export const MENU_COMMANDS = [
  'file.new',
  'file.open',
  'file.save',
  'file.saveAs',
  'file.exportWeights',
  /** The prediction part of the graph as an ONNX model, checked in ONNX Runtime against the engine. */
  'file.exportOnnx',
  /** The graph as a PyTorch nn.Module in a self-contained Python file. */
  'file.exportPytorch',
  'file.loadWeights',
  /** The CSV import wizard on a file the user chooses. */
  'file.importCsv',
  'edit.undo',
  'edit.redo',
  'edit.cut',
  'edit.copy',
  'edit.paste',
  'edit.pasteWithLinks',
  'edit.delete',
  'edit.selectAll',
  'view.fit',
  'view.layout',
  'view.errors',
  'view.theme',
  'help.shortcuts',
  /** Train, or Pause a running job, or Resume a paused one. */
  'train.toggle',
  'train.step',
  'train.stop',
  /** The job's weights on the validation part and on all rows (the Training panel shows the figures). */
  'train.evaluate',
  /** The job's gradients checked against forward mode and central differences (the Training panel shows them). */
  'train.checkGradients',
] as const;
export type MenuCommand = (typeof MENU_COMMANDS)[number];
export const menuCommand = obj({ command: literal(...MENU_COMMANDS), path: optional(str) });

// ---- web mode's one socket ---------------------------------------------------------------------------------------

/** Web mode multiplexes both channels over one WebSocket. */
export const socketUp = union('channel', {
  engine: obj({ channel: literal('engine'), message: engineRequest }),
  shell: obj({ channel: literal('shell'), id: int, request: shellRequest }),
});
export type SocketUp = Infer<typeof socketUp>;

export const socketDown = union('channel', {
  engine: obj({ channel: literal('engine'), message: json }),
  shell: obj({ channel: literal('shell'), id: int, ok: bool, result: optional(json), error: optional(errorInfo) }),
  /** The engine process died; it is being restarted. */
  status: obj({ channel: literal('status'), engine: literal('restarting', 'ready'), message: optional(str) }),
});
export type SocketDown = Infer<typeof socketDown>;


// ---- what the shells add (Electron's preload and web mode) -------------------------------------------------------

/**
 * The answer to every shell request, on both platforms: `window.studio.request(req)` in Electron resolves with it,
 * and web mode's socket sends the same fields with `channel: 'shell'` and the request's `id`. Never a rejection for
 * a failed request: `ok` false with `error` (its `where` says which file, row, column, node...).
 */
export const shellReply = obj({ ok: bool, result: optional(json), error: optional(errorInfo) });
export type ShellReply = Infer<typeof shellReply>;

/** The engine process died and is being restarted (`restarting`), or a new one is serving (`ready`). */
export const engineStatus = obj({ engine: literal('restarting', 'ready'), message: optional(str) });
export type EngineStatus = Infer<typeof engineStatus>;

export type MenuCommandMessage = Infer<typeof menuCommand>;

/**
 * The window message (`event.data`) by which Electron's preload hands the page its MessagePort to the engine host:
 * `window.addEventListener('message', (e) => { if (e.source === window && e.data === ENGINE_PORT_MESSAGE) use(e.ports[0]) })`.
 * It comes after every page load and again after an engine restart (a new port replaces the old one).
 */
export const ENGINE_PORT_MESSAGE = 'studio:engine-port';

/** `window.studio` in Electron (the preload's whole API); absent in web mode, which uses the WebSocket instead. */
export interface StudioBridge {
  readonly platform: 'electron';
  request(request: ShellRequest): Promise<ShellReply>;
  /** Menu commands from the application menu; returns the unsubscribe function. */
  onMenu(callback: (command: MenuCommandMessage) => void): () => void;
  /** Engine restarts; returns the unsubscribe function. */
  onEngineStatus(callback: (status: EngineStatus) => void): () => void;
}
