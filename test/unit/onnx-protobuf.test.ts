/**
 * The protobuf writer against encodings worked out by hand (the examples of protobuf.dev's encoding guide among
 * them), and the ONNX model encoder against Debian's python3-onnx, which decodes, checks and shape-infers it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { encodeModel, type OnnxModel } from '../../engine/io/onnx/onnx-proto';
import { ProtoWriter, varint } from '../../engine/io/onnx/protobuf';

const CHECK = fileURLToPath(new URL('../fixtures/onnx/check_onnx.py', import.meta.url));
const ten = (first: number) => [first, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];

describe('varint', () => {
  test.each([
    [0n, [0x00]],
    [1n, [0x01]],
    [127n, [0x7f]],
    [128n, [0x80, 0x01]],
    [150n, [0x96, 0x01]],
    [300n, [0xac, 0x02]],
    [16384n, [0x80, 0x80, 0x01]],
    [2n ** 32n, [0x80, 0x80, 0x80, 0x80, 0x10]],
    [2n ** 63n - 1n, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]],
    [-1n, ten(0xff)],
    [-2n, ten(0xfe)],
    [-(2n ** 63n), [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
  ])('%s', (v, bytes) => {
    expect([...varint(v)]).toEqual(bytes);
  });

  test.each([[2n ** 64n], [-(2n ** 63n) - 1n]])('%s does not fit 64 bits', (v) => {
    expect(() => varint(v)).toThrow(/does not fit 64 bits/);
  });
});

describe('ProtoWriter', () => {
  test.each<[string, (w: ProtoWriter) => ProtoWriter, number[]]>([
    ['int32 150 in field 1', (w) => w.int(1, 150), [0x08, 0x96, 0x01]],
    ['string "testing" in field 2', (w) => w.string(2, 'testing'), [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]],
    ['nested message {1: 150} in field 3', (w) => w.message(3, new ProtoWriter().int(1, 150)), [0x1a, 0x03, 0x08, 0x96, 0x01]],
    ['float 1.5 in field 2', (w) => w.float(2, 1.5), [0x15, 0x00, 0x00, 0xc0, 0x3f]],
    ['int64 -1 in field 1', (w) => w.int(1, -1), [0x08, ...ten(0xff)]],
    ['bytes in field 9', (w) => w.bytes(9, Uint8Array.of(1, 2, 3)), [0x4a, 0x03, 0x01, 0x02, 0x03]],
    ['a field number above 15 (two-byte tag)', (w) => w.int(20, 7), [0xa0, 0x01, 0x07]],
    ['fields in the order written', (w) => w.int(1, 1).string(2, 'a').int(1, 2), [0x08, 0x01, 0x12, 0x01, 0x61, 0x08, 0x02]],
    ['an empty string', (w) => w.string(1, ''), [0x0a, 0x00]],
    ['UTF-8 text', (w) => w.string(1, 'é'), [0x0a, 0x02, 0xc3, 0xa9]],
  ])('%s', (_name, write, bytes) => {
    expect([...write(new ProtoWriter()).finish()]).toEqual(bytes);
  });
});

describe('encodeModel, decoded by python3-onnx', () => {
  const model: OnnxModel = {
    irVersion: 8,
    opset: 17,
    producerName: 'Backprop Studio',
    producerVersion: '1',
    graphName: 'tiny',
    docString: 'a test',
    inputs: [{ name: 'x', shape: ['N', 3] }],
    outputs: [{ name: 'y', shape: ['N', 2] }],
    initializers: [
      { name: 'w', dims: [2, 3], data: Float32Array.of(1, -2, 0.5, 3.25, -1e-8, 1e8) },
      { name: 'b', dims: [2], data: Float32Array.of(0.125, -7) },
      { name: 'axes', dims: [2], data: BigInt64Array.of(-1n, 2n ** 40n) },
    ],
    nodes: [
      { opType: 'Gemm', name: 'dense', inputs: ['x', 'w', 'b'], outputs: ['h'], attrs: { transB: { int: 1 }, alpha: { float: 0.5 } } },
      { opType: 'LeakyRelu', name: 'act', inputs: ['h'], outputs: ['y'], attrs: { alpha: { float: 0.25 } } },
    ],
    metadata: { prediction: 'y', 'a key': 'ünïcode' },
  };

  test('every field reads back as written, and the checker (full_check) and strict shape inference pass', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpstudio-onnx-'));
    try {
      const file = join(dir, 'tiny.onnx');
      writeFileSync(file, encodeModel(model));
      const seen = JSON.parse(execFileSync('/usr/bin/python3', [CHECK, file], { encoding: 'utf8' }));
      expect(seen).toMatchObject({
        ir_version: 8,
        opset: { '': 17 },
        producer: 'Backprop Studio',
        inputs: [{ name: 'x', elem_type: 1, shape: ['N', 3] }],
        outputs: [{ name: 'y', elem_type: 1, shape: ['N', 2] }],
        metadata: { prediction: 'y', 'a key': 'ünïcode' },
        inferred: { h: ['N', 2], y: ['N', 2] },
      });
      expect(seen.initializers.w).toEqual({ dims: [2, 3], data_type: 1, values: [...Float32Array.of(1, -2, 0.5, 3.25, -1e-8, 1e8)] });
      expect(seen.initializers.b).toEqual({ dims: [2], data_type: 1, values: [0.125, -7] });
      expect(seen.initializers.axes).toEqual({ dims: [2], data_type: 7, values: [-1, 2 ** 40] });
      expect(seen.nodes).toEqual([
        { op: 'Gemm', name: 'dense', inputs: ['x', 'w', 'b'], outputs: ['h'], attrs: { transB: 1, alpha: 0.5 } },
        { op: 'LeakyRelu', name: 'act', inputs: ['h'], outputs: ['y'], attrs: { alpha: 0.25 } },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a model the checker rejects makes check_onnx.py fail and say why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bpstudio-onnx-'));
    try {
      const file = join(dir, 'bad.onnx');
      // The Gemm reads a tensor that nothing produces.
      writeFileSync(file, encodeModel({ ...model, nodes: [{ ...model.nodes[0], inputs: ['x', 'nowhere', 'b'] }, model.nodes[1]] }));
      expect(() => execFileSync('/usr/bin/python3', [CHECK, file], { encoding: 'utf8', stdio: 'pipe' })).toThrow(/nowhere/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
