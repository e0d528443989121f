/**
 * A node's primitives in a training step (engine/train/node-program.ts): a dense ReLU layer's forward and backward,
 * written out by hand from the ops' definitions and VJPs; names across nodes; a mean's constant for the training
 * batch with shapes per batch; only the backward ops a gradient needs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProject } from '../../engine/io/project';
import { nodeProgram } from '../../engine/train/node-program';
import type { PrimitiveLineInfo as PrimitiveLine } from '../../engine/protocol/messages';
import { primitiveText, programText } from '../../engine/train/primitive-text';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const spiral = parseProject(readFileSync(join(EXAMPLES, 'spiral.bpstudio'), 'utf8'));

/** `name = op(args) attrs [shape]`, as `bpstudio program` prints it (its spaces single). */
const text = (l: PrimitiveLine) => primitiveText(l).replace(/ +/g, ' ');

describe('a node’s program', () => {
  it("writes a dense ReLU layer's forward, and the VJPs that take ∇h2 back to its bias, its weight and h1", () => {
    const p = nodeProgram(spiral, 'h2');
    // y = relu(x W^T + b)
    expect(p.forward.map(text)).toEqual([
      expect.stringMatching(/^%\d+ = transpose\(h2\.weight\) perm \[1, 0\] \[32, 32\]$/),
      expect.stringMatching(/^%\d+ = matmul\(h1, %\d+\) \[B, 32\]$/),
      expect.stringMatching(/^%\d+ = add\(%\d+, h2\.bias\) \[B, 32\]$/),
      expect.stringMatching(/^h2 = relu\(%\d+\) \[B, 32\]$/),
    ]);
    const [wt, xw, pre] = p.forward.map((l) => l.name);
    expect(p.forward[1].args[1]).toBe(wt);
    expect(p.forward[3].args).toEqual([pre]);
    expect(p.forward[2].args[0]).toBe(xw);
    // relu: g = ∇h2 * step(h2); add: ∇bias = sum of g over the batch; matmul: ∇h1 = g (W^T)^T, ∇(W^T) = h1^T g, so ∇W = (h1^T g)^T
    const b = p.backward.map(text);
    expect(b).toEqual([
      expect.stringMatching(/^%\d+ = step\(h2\) \[B, 32\]$/),
      expect.stringMatching(/^%\d+ = mul\(∇h2, %\d+\) \[B, 32\]$/),
      expect.stringMatching(/^%\d+ = sum\(%\d+\) axes \[0\] · keepdims \[1, 32\]$/),
      expect.stringMatching(/^∇h2\.bias = reshape\(%\d+\) shape \[32\] \[32\]$/),
      `${p.backward[4].name} = transpose(${wt}) perm [1, 0] [32, 32]`,
      expect.stringMatching(/^∇h1 = matmul\(%\d+, %\d+\) \[B, 32\]$/),
      expect.stringMatching(/^%\d+ = transpose\(h1\) perm \[1, 0\] \[32, B\]$/),
      expect.stringMatching(/^%\d+ = matmul\(%\d+, %\d+\) \[32, 32\]$/),
      expect.stringMatching(/^∇h2\.weight = transpose\(%\d+\) perm \[1, 0\] \[32, 32\]$/),
    ]);
    const g = p.backward[1].name;
    expect(p.backward[1].args[1]).toBe(p.backward[0].name);
    expect(p.backward[2].args).toEqual([g]);
    expect(p.backward[5].args).toEqual([g, p.backward[4].name]);
    expect(p.backward[7].args).toEqual([p.backward[6].name, g]);
    expect(p.backward[8].args).toEqual([p.backward[7].name]);
  });

  it("sends the gradient on to the data too (a training step drops it), and lists only what the gradients need", () => {
    const h1 = nodeProgram(spiral, 'h1');
    expect(h1.backward.map((l) => l.name).filter((n) => n.startsWith('∇'))).toEqual(['∇h1.bias', '∇x', '∇h1.weight']);
    expect(h1.backward.find((l) => l.name === '∇x')).toMatchObject({ op: 'matmul', shape: [null, 2] });
    // the loss's VJPs also write the gradients of its labels' one-hot, of its max (which carries none: a
    // stop_gradient) and of the mean's constant, which nothing reads: listed, its backward would have 18 ops, not 8
    const loss = nodeProgram(spiral, 'loss');
    expect(loss.backward.map((l) => l.op)).toEqual(['mul', 'neg', 'sum', 'div', 'mul', 'broadcast_to', 'mul', 'add']);
    const oneHot = loss.forward[0].name;
    expect(loss.backward[0].args).toEqual(['-0.03125', oneHot]);
  });

  it("takes the gradients of a graph without tensors with respect to its inputs: seed-function's df/dx1 and df/dx2", () => {
    const p = parseProject(readFileSync(join(EXAMPLES, 'seed-function.bpstudio'), 'utf8'));
    // f = ln(x1) + x1 x2 - sin(x2): d/dx1 = 1/x1 + x2 (from ln and the product), d/dx2 = x1 - cos(x2)
    expect(nodeProgram(p, 'ln_x1').backward.map(text)).toEqual([
      expect.stringMatching(/^%\d+ = div\(1, x1\) \[1\]$/),
      expect.stringMatching(/^%\d+ = mul\(1, %\d+\) \[1\]$/),
      expect.stringMatching(/^∇x1 = add\(%\d+, %\d+\) \[1\]$/),
    ]);
    expect(nodeProgram(p, 'sin_x2').backward.map((l) => l.op)).toEqual(['cos', 'mul']);
    expect(nodeProgram(p, 'x1_x2').backward.at(-1)!.name).toBe('∇x2');
    // an add passes its gradient on as it is: no op of its own, which the text says
    expect(programText(nodeProgram(p, 'sum'), 'add')).toBe('sum (add)\n  forward\n    sum = add(ln_x1, x1_x2)  [1]\n  backward: none\n');
  });

  it("takes the mean over the training batch (1/32), shapes per batch; the loss's backward ends at ∇out", () => {
    const p = nodeProgram(spiral, 'loss');
    expect(p.batch).toBe(32);
    expect(p.forward.at(-1)).toMatchObject({ name: 'loss', op: 'neg', shape: [] });
    expect(p.forward.at(-2)).toMatchObject({ op: 'mul', args: [expect.stringMatching(/^%\d+$/), '0.03125'], shape: [] });
    expect(p.forward[0]).toMatchObject({ op: 'one_hot', args: ['y'], attrs: 'classes 3', shape: [null, 3] });
    expect(p.backward.at(-1)).toMatchObject({ name: '∇out', shape: [null, 3] });
    // another batch size: another constant, the same shapes
    const p64 = nodeProgram({ ...spiral, training: { ...spiral.training, batchSize: 64 } }, 'loss');
    expect(p64.forward.at(-2)!.args[1]).toBe('0.015625');
    expect(p64.forward.map((l) => l.shape)).toEqual(p.forward.map((l) => l.shape));
  });

  it('names a gradient that an add passes on unchanged for the value nearest the loss, whose gradient it was written as', () => {
    // logistic-regression: margin = y * score, score = dot + b; ∇score is ∇dot too (the same tensor)
    const p = parseProject(readFileSync(join(EXAMPLES, 'logistic-regression.bpstudio'), 'utf8'));
    expect(nodeProgram(p, 'margin').backward.map(text)).toEqual(['∇score = mul(∇margin, y) [B]']);
    expect(nodeProgram(p, 'dot').backward[0].args).toEqual(['∇score']);
  });

  it('lists nothing for a node that passes its input on, and says which node is unknown', () => {
    const nodes = [...spiral.graph.nodes];
    const out = nodes.findIndex((n) => n.id === 'out');
    nodes.splice(out, 1, { ...nodes[out], inputs: { x: 'same' } }, { id: 'same', op: 'reshape', attrs: { shape: [32] }, inputs: { x: 'h2' } });
    const p = nodeProgram({ ...spiral, graph: { nodes } }, 'same');
    expect([p.forward, p.backward]).toEqual([[], []]);
    expect(() => nodeProgram(spiral, 'nope')).toThrow(/"nope" is not a node of the graph/);
  });
});
