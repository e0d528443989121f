/** The training numbers the engine host sends, against values worked out by hand. */
import { describe, expect, it } from 'vitest';
import { padRange } from '../../engine/host/training-job';
import { addToConfusion, binaryProbabilities, classProbabilities, scoreProbabilityOf, decimate, drawsCurves, emptyConfusion, readPrediction, round7, StepLog, updateRatios } from '../../engine/train/metrics';

/** A log of (step, epoch, a, b) rows. */
function logOf(rows: number[][]): StepLog {
  const log = new StepLog(4, 2);
  for (const r of rows) log.push(r);
  return log;
}

describe('decimation of the per-step log', () => {
  it('cuts n steps into buckets of ceil(n / maxPoints) with min, max and last of each metric', () => {
    // 7 steps, at most 3 points: buckets of 3, 3 and 1 steps
    const log = logOf([
      [1, 1, 5, 0.5],
      [2, 1, 3, 0.25],
      [3, 1, 4, 1],
      [4, 2, 9, 2],
      [5, 2, 1, 8],
      [6, 2, 2, 4],
      [7, 3, 6, 16],
    ]);
    const d = decimate(log, 3);
    expect(d.step).toEqual([3, 6, 7]);
    expect(d.epoch).toEqual([1, 2, 3]);
    expect(d.count).toEqual([3, 3, 1]);
    expect(d.series[0]).toEqual({ min: [3, 1, 6], max: [5, 9, 6], last: [4, 2, 6] });
    expect(d.series[1]).toEqual({ min: [0.25, 2, 16], max: [1, 8, 16], last: [1, 4, 16] });
  });

  it('keeps every step when there are fewer than maxPoints, and a spike inside a bucket shows in its max', () => {
    const few = decimate(
      logOf([
        [10, 1, 1, 1],
        [11, 1, 2, 2],
      ]),
      200,
    );
    expect(few.step).toEqual([10, 11]);
    expect(few.count).toEqual([1, 1]);
    expect(few.series[0]).toEqual({ min: [1, 2], max: [1, 2], last: [1, 2] });

    const rows = Array.from({ length: 1000 }, (_, i) => [i + 1, 1, i === 437 ? 1e6 : 1, 1]);
    const d = decimate(logOf(rows), 200);
    expect(d.step.length).toBe(200);
    expect(d.count.every((c) => c === 5)).toBe(true);
    expect(d.series[0].max[87]).toBe(1e6); // steps 436..440 are bucket 87
    expect(d.series[0].max.filter((v) => v !== 1)).toEqual([1e6]);
    expect(d.series[0].last[87]).toBe(1);
  });

  it('reports non-finite values as null (JSON has no NaN) and leaves them out of min and max', () => {
    const d = decimate(
      logOf([
        [1, 1, NaN, Infinity],
        [2, 1, 2, 3],
        [3, 1, NaN, NaN],
      ]),
      2,
    );
    expect(d.count).toEqual([2, 1]);
    expect(d.series[0]).toEqual({ min: [2, null], max: [2, null], last: [2, null] });
    expect(d.series[1]).toEqual({ min: [3, null], max: [null, null], last: [3, null] });
  });

  it('sends values to 7 significant digits, the precision of a float32', () => {
    expect(round7(Math.fround(0.1))).toBe(0.1);
    expect(round7(0.6931471824645996)).toBe(0.6931472);
    expect(round7(-123456789)).toBe(-123456800);
    expect(round7(1.2345678e-9)).toBe(1.234568e-9);
    expect(round7(3)).toBe(3);
    expect(round7(0)).toBe(0);
    expect(Number.isNaN(round7(NaN))).toBe(true);
    expect(round7(Infinity)).toBe(Infinity);
    for (let i = 0; i < 1000; i++) {
      const v = Math.fround((Math.random() - 0.5) * 10 ** (Math.random() * 20 - 10));
      const r = round7(v);
      expect(Math.abs(r - v)).toBeLessThanOrEqual(Math.abs(v) * 5e-7);
      // significant digits: without sign, exponent, point, and leading or trailing zeros
      expect(String(r).replace(/^-|e.*$|\./g, '').replace(/^0+|0+$/g, '').length).toBeLessThanOrEqual(7);
    }
    const d = decimate(logOf([[1, 1, 0.6931471824645996, 1 / 3]]), 10);
    expect(d.series[0].last).toEqual([0.6931472]);
    expect(d.series[1].last).toEqual([0.3333333]);
  });

  it('grows its storage without losing rows, and clears', () => {
    const log = new StepLog(3, 1);
    for (let i = 0; i < 100; i++) log.push([i, 0, i * i]);
    expect(log.length).toBe(100);
    expect(log.get(99, 2)).toBe(9801);
    log.clear();
    expect(log.length).toBe(0);
    expect(decimate(log, 10).step).toEqual([]);
  });
});

describe('confusion matrix', () => {
  it('counts argmax predictions against class labels: rows are the true class, columns the predicted one', () => {
    const m = emptyConfusion(3);
    // 5 examples, 3 scores each
    const p = Float32Array.from([
      [2, 1, 0], // -> 0
      [0, 3, 1], // -> 1
      [0, 1, 5], // -> 2
      [4, 4, 0], // tie: the first -> 0
      [0, 2, 1], // -> 1
    ].flat());
    addToConfusion(m, p, [0, 1, 1, 2, 2], 0);
    expect(m).toEqual([
      [1, 0, 0],
      [0, 1, 1],
      [1, 1, 0],
    ]);
  });

  it('reads one score against its threshold, and a -1/+1 (sign) or 0/1 truth', () => {
    const m = emptyConfusion(2);
    addToConfusion(m, Float32Array.from([0.7, 0.2, 0.9, 0.4]), [1, -1, -1, 1], 0.5);
    // (true +1, pred 1), (true -1, pred 0), (true -1, pred 1), (true +1, pred 0)
    expect(m).toEqual([
      [1, 1],
      [1, 1],
    ]);
    addToConfusion(m, Float32Array.from([-3, 2]), [0, 1], 0);
    expect(m).toEqual([
      [2, 1],
      [1, 2],
    ]);
  });
});

describe('update/weight ratio', () => {
  it('is ||w_after - w_before|| / ||w_before|| over all the tensors of a layer', () => {
    const before = new Map([
      ['d.weight', Float32Array.from([3, 0])],
      ['d.bias', Float32Array.from([4])],
      ['e.weight', Float32Array.from([0, 0])],
    ]);
    // one SGD step, lr 0.1, gradient (1, 2 | 2) for d: delta = -(0.1, 0.2 | 0.2)
    const after = new Map([
      ['d.weight', Float32Array.from([2.9, -0.2])],
      ['d.bias', Float32Array.from([3.8])],
      ['e.weight', Float32Array.from([1, 0])],
    ]);
    const r = updateRatios(
      before,
      after,
      new Map([
        ['d', ['d.weight', 'd.bias']],
        ['e', ['e.weight']],
      ]),
    );
    // ||delta|| = 0.1 * ||(1, 2, 2)|| = 0.3; ||w|| = ||(3, 0, 4)|| = 5
    expect(r.d).toBeCloseTo(0.3 / 5, 6);
    // weights all zero before: no ratio
    expect(r.e).toBeNull();
  });
});

describe('reading a prediction for the decision boundary', () => {
  it('gives the argmax class and its softmax probability', () => {
    const { predicted, value } = readPrediction(Float32Array.from([0, Math.log(3), 2, 1]), 2, { kind: 'class', per: 2, values: 'logits' });
    expect(predicted).toEqual([1, 0]);
    // softmax(0, ln 3) = (1/4, 3/4); softmax(2, 1) top = 1 / (1 + e^-1)
    expect(value[0]).toBeCloseTo(0.75, 6);
    expect(value[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(readPrediction(Float32Array.from([0.2, 0.8]), 1, { kind: 'class', per: 2, values: 'probabilities' }).value[0]).toBeCloseTo(0.8, 6);
    expect(readPrediction(Float32Array.from([Math.log(0.3), Math.log(0.7)]), 1, { kind: 'class', per: 2, values: 'log-probabilities' }).value[0]).toBeCloseTo(0.7, 6);
  });

  it('gives every class its probability per example, for the fitted curves of one feature', () => {
    // softmax(0, ln 3, ln 4) = (1, 3, 4) / 8; softmax(1000, 1000, 1000): a third each, without overflowing
    const logits = classProbabilities(Float32Array.from([0, Math.log(3), Math.log(4), 1000, 1000, 1000]), 2, { kind: 'class', per: 3, values: 'logits' });
    expect(logits.map((p) => p.map((v) => Number(v.toFixed(6))))).toEqual([
      [0.125, 0.333333],
      [0.375, 0.333333],
      [0.5, 0.333333],
    ]);
    expect(classProbabilities(Float32Array.from([0.25, 0.75]), 1, { kind: 'class', per: 2, values: 'probabilities' })).toEqual([[0.25], [0.75]]);
    const logs = classProbabilities(Float32Array.from([Math.log(0.3), Math.log(0.7)]), 1, { kind: 'class', per: 2, values: 'log-probabilities' });
    expect([logs[0][0], logs[1][0]].map((v) => Number(v.toFixed(6)))).toEqual([0.3, 0.7]);
  });

  it("gives two classes' probabilities from one score: the score itself, or its sigmoid", () => {
    expect(binaryProbabilities(Float32Array.from([0.2, 1]), 2, 'identity').map((p) => p.map((v) => Number(v.toFixed(6))))).toEqual([
      [0.8, 0],
      [0.2, 1],
    ]);
    // sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4; only the first n scores
    const s = binaryProbabilities(Float32Array.from([0, Math.log(3), 99]), 2, 'sigmoid');
    expect(s.map((p) => p.map((v) => Number(v.toFixed(6))))).toEqual([
      [0.5, 0.25],
      [0.5, 0.75],
    ]);
  });

  it.each([
    ['a sigmoid as the prediction', [{ id: 'p', op: 'sigmoid' }, { id: 'L', op: 'mse', inputs: { pred: 'p', target: 'y' } }], 'identity'],
    ['the logits sigmoid_cross_entropy reads', [{ id: 'p', op: 'dense' }, { id: 'L', op: 'sigmoid_cross_entropy', inputs: { logits: 'p', labels: 'y' } }], 'sigmoid'],
    ['another node than the one it reads', [{ id: 'p', op: 'dense' }, { id: 'L', op: 'sigmoid_cross_entropy', inputs: { logits: 'q', labels: 'y' } }], undefined],
    ["a hinge's margin", [{ id: 'p', op: 'dense' }, { id: 'L', op: 'hinge', inputs: { scores: 'p', labels: 'y' } }], undefined],
  ] as const)("class 1's probability from one score: %s", (_, nodes, how) => {
    expect(scoreProbabilityOf(nodes, 'L', 'p')).toBe(how);
  });

  it.each([
    ['one value for a real label', 1, { real: true }, false, true],
    ['two values for a real label', 2, { real: true }, false, false],
    ['a score per class', 3, { real: false, classes: 3 }, false, true],
    ['more scores than classes', 4, { real: false, classes: 3 }, false, false],
    ["one score that is class 1's probability of two", 1, { real: false, classes: 2 }, true, true],
    ['one score the graph says nothing of', 1, { real: false, classes: 2 }, false, false],
    ['one score against three classes', 1, { real: false, classes: 3 }, true, false],
    ['no prediction of one per example', undefined, { real: true }, true, false],
  ] as const)('fitted curves: %s', (_, width, label, probability, want) => {
    expect(drawsCurves(width, label, () => probability)).toBe(want);
  });

  it('gives the score, and the class against the threshold when there is one', () => {
    expect(readPrediction(Float32Array.from([-1, 2]), 2, { kind: 'score', threshold: 0 })).toEqual({ predicted: [0, 1], value: [-1, 2] });
    expect(readPrediction(Float32Array.from([0.25]), 1, { kind: 'score', threshold: null })).toEqual({ predicted: [], value: [0.25] });
  });

  it('pads the grid 5% beyond the data on each side', () => {
    expect(padRange({ min: 0, max: 10 })).toEqual({ min: -0.5, max: 10.5 });
    expect(padRange({ min: 3, max: 3 })).toEqual({ min: 2, max: 4 });
  });
});
