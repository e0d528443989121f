/**
 * The PyTorch code generator's choices that the round-trip fixtures (test/integration/pytorch-roundtrip.test.ts)
 * do not pin one by one: names, signatures, the translation of each op, and what it refuses.
 */
import { describe, expect, it } from 'vitest';
import type { GraphNode } from '../../engine/graph/expand';
import type { Project } from '../../engine/io/project';
import { pytorchCode, pytorchFileName } from '../../engine/io/pytorch-code';

const project = (nodes: GraphNode[], extra: Partial<Project> = {}): Project =>
  ({ format: 'backprop-studio/project', version: 1, name: 'T', graph: { nodes }, ...extra }) as Project;

const x: GraphNode = { id: 'x', op: 'input', attrs: { shape: [2, 3] } };

/** The forward method's lines, without indentation. */
function forward(nodes: GraphNode[], prediction: string): string[] {
  const code = pytorchCode(project(nodes, { training: { objective: prediction, prediction } as Project['training'] }));
  const body = code.slice(code.indexOf('    def forward('), code.indexOf('    def objective('));
  return body.trim().split('\n').map((l) => l.trim());
}

describe('pytorchCode', () => {
  const op = (id: string, opName: string, attrs: Record<string, unknown> = {}, inputs: Record<string, string> = { x: 'x' }): GraphNode => ({ id, op: opName, attrs, inputs });
  const table: [string, GraphNode[], string][] = [
    ['leaky_relu keeps its alpha', [op('y', 'leaky_relu', { alpha: 0.25 })], 'y = F.leaky_relu(x, 0.25)'],
    ['softmax on a negative axis, normalised', [op('y', 'softmax', { axis: -2 })], 'y = torch.softmax(x, dim=1)'],
    ['default reduction axes skip the batch', [op('y', 'sum')], 'y = torch.sum(x, dim=(1, 2))'],
    ['reduce_max with axes and keepdims', [op('y', 'reduce_max', { axes: [-1], keepdims: true })], 'y = torch.amax(x, dim=(2,), keepdim=True)'],
    ['a default reduction with no axis left is the identity (torch would reduce all)', [op('s', 'sum'), op('y', 'mean', {}, { x: 's' })], 'y = s'],
    ['reshape is per example, its -1 inferred', [op('y', 'reshape', { shape: [-1, 2] })], 'y = x.reshape(x.shape[0], 3, 2)'],
    ['flatten keeps the batch', [op('y', 'flatten')], 'y = x.reshape(x.shape[0], 6)'],
    ['transpose without perm swaps the last two axes', [op('y', 'transpose')], 'y = x.transpose(-2, -1)'],
    ['transpose with perm', [op('y', 'transpose', { perm: [0, 2, 1] })], 'y = x.permute(0, 2, 1)'],
    ['pools default their stride to the kernel', [{ id: 'i', op: 'input', attrs: { shape: [1, 4, 4] } }, op('y', 'maxpool2d', { kernel: 2 }, { x: 'i' })], 'y = F.max_pool2d(i, kernel_size=(2, 2), stride=(2, 2))'],
    ['dropout follows the module mode', [op('y', 'dropout', { rate: 0.5 })], 'y = F.dropout(x, p=0.5, training=self.training)'],
    ['a dense activation', [op('y', 'dense', { units: 4, activation: 'softplus' })], 'y = F.softplus(self.y(x))'],
  ];
  it.each(table)('%s', (_what, nodes, line) => {
    expect(forward([x, ...nodes], nodes[nodes.length - 1].id)).toContain(line);
  });

  it('takes the inputs in graph order, renames keyword ids and reaches their modules by getattr', () => {
    const nodes: GraphNode[] = [
      { id: 'b', op: 'input', attrs: { shape: [2] } },
      { id: 'in', op: 'input', attrs: { shape: [2] } },
      { id: 'in_', op: 'add', inputs: { a: 'b', b: 'in' } },
      { id: 'lambda', op: 'dense', attrs: { units: 1 }, inputs: { x: 'in_' } },
    ];
    const code = pytorchCode(project(nodes, { training: { objective: 'lambda', prediction: 'lambda' } as Project['training'] }));
    expect(code).toContain('setattr(self, "lambda", nn.Linear(2, 1))');
    expect(forward(nodes, 'lambda')).toEqual(['def forward(self, b, in__):', 'in_ = b + in__', 'lambda_ = getattr(self, "lambda")(in_)', 'return lambda_']);
  });

  it('standardises each input with buffers named as the weights file names them', () => {
    const code = pytorchCode(project([x, { id: 'y', op: 'tanh', inputs: { x: 'x' } }], {
      training: { objective: 'y', prediction: 'y' } as Project['training'],
      data: { kind: 'builtin', name: 'spiral', standardize: true },
    }));
    expect(code).toContain('self.data = nn.ModuleDict({"x": Standardize((2, 3))})');
    expect(code).toContain('x = self.data["x"](x)');
  });

  it.each([
    ['real', true],
    ['class', false],
  ])('standardises a %s label only where it is real: the objective takes it raw, forward gives the label units', (kind, standardised) => {
    const nodes: GraphNode[] = [
      { id: 'v', op: 'input', attrs: { shape: [3] } },
      { id: 't', op: 'label', attrs: { kind } },
      { id: 'p', op: 'dense', attrs: { units: 1 }, inputs: { x: 'v' } },
      { id: 'loss', op: kind === 'real' ? 'mse' : 'sigmoid_cross_entropy', inputs: kind === 'real' ? { pred: 'p', target: 't' } : { logits: 'p', labels: 't' } },
    ];
    const code = pytorchCode(project(nodes, { data: { kind: 'builtin', name: 'sine', standardizeLabel: true } }));
    const has = (text: string) => expect(code.includes(text), text).toBe(standardised);
    has('self.data = nn.ModuleDict({"t": Standardize(())})');
    has('        t = self.data["t"](t)\n');
    has('        return self.data["t"].undo(p)\n');
    has('    def undo(self, y):\n        return y * self.std + self.mean');
    has('(in the units of label "t")');
    // the inputs are left as they are without `standardize`
    expect(code).not.toContain('self.data["v"]');
    if (!standardised) expect(code).not.toContain('class Standardize');
  });

  it.each(['keys', 'eval'])('refuses an input id that nn.ModuleDict owns (%s) when the data is standardised, naming the node', (id) => {
    const nodes: GraphNode[] = [{ id, op: 'input', attrs: { shape: [2] } }, { id: 'y', op: 'tanh', inputs: { x: id } }];
    const of = (standardize: boolean) => () =>
      pytorchCode(project(nodes, { training: { objective: 'y', prediction: 'y' } as Project['training'], data: { kind: 'builtin', name: 'spiral', standardize } }));
    expect(of(false)).not.toThrow();
    expect(of(true)).toThrow(expect.objectContaining({ name: 'StudioError', where: { node: id }, message: expect.stringMatching(/taken by torch.nn.ModuleDict.*rename the node/) }));
  });

  it('objective is the batch mean of a per-example objective', () => {
    const code = pytorchCode(project([x, { id: 'y', op: 'sum', inputs: { x: 'x' } }], { training: { objective: 'y', prediction: 'y' } as Project['training'] }));
    expect(code).toContain('        return y.mean()\n');
  });

  it.each([
    ['a layer', { id: 'eval', op: 'dense', attrs: { units: 3 }, inputs: { x: 'x' } }],
    ['a constant', { id: 'half', op: 'constant', attrs: { value: 0.5 } }],
  ] as [string, GraphNode][])('refuses ids that torch.nn.Module owns for %s, naming the node', (_what, owner) => {
    const nodes: GraphNode[] = [x, owner, { id: 'y', op: 'mul', inputs: { a: 'x', b: owner.id } }];
    expect(() => pytorchCode(project(nodes, { training: { objective: 'y', prediction: 'y' } as Project['training'] }))).toThrow(
      expect.objectContaining({ name: 'StudioError', where: { node: owner.id }, message: expect.stringMatching(/rename the node/) }),
    );
  });

  it('needs a prediction node, and a graph without errors', () => {
    const sinks: GraphNode[] = [x, { id: 'a', op: 'tanh', inputs: { x: 'x' } }, { id: 'b', op: 'sin', inputs: { x: 'x' } }];
    expect(() => pytorchCode(project(sinks, { training: { objective: 'a' } as Project['training'] }))).toThrow(/no prediction node/);
    expect(() => pytorchCode(project([{ id: 'y', op: 'tanh', inputs: { x: 'nope' } }]))).toThrow(/not a node of the graph/);
  });

  it('names the file after the project', () => {
    expect(pytorchFileName(project([], { name: 'Iris species (v2)' }))).toBe('iris_species_v2.py');
    expect(pytorchFileName(project([], { name: '***' }))).toBe('model.py');
  });
});
