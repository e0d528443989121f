#!/usr/bin/env node
// The two tables issue 5 asks for, from one device call's output (scripts/gpu-bundle.mjs's run.sh): our WebGPU
// matmul against PyTorch fp32 with TF32 off, and our MLP training step against PyTorch eager, each with its ratio
// and the issue's bar. `node scripts/gpu-tables.mjs DIR` reads DIR/torch.jsonl (../shared/bench/torch_peer.py) and
// DIR/bench.jsonl (`npm run bench -- --backend webgpu`) and prints Markdown; run.sh prints it last.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The issue's bars: matmul n = 4096 at 0.8x PyTorch fp32 (TF32 off); the MLP step at batch 128 at 3x PyTorch eager. */
export const MATMUL_BAR = { n: 4096, ratio: 0.8 };
export const MLP_BAR = { batch: 128, ratio: 3 };

/** The JSON objects of a file's lines (other lines, such as a crash's message, are skipped). */
export function jsonLines(text) {
  return text.split('\n').flatMap((line) => {
    try {
      const v = JSON.parse(line);
      return v && typeof v === 'object' && !Array.isArray(v) ? [v] : [];
    } catch {
      return [];
    }
  });
}

const fixed = (x, digits = 1) => (x === undefined ? '—' : x.toFixed(digits));
const ratioCell = (ours, peer) => (ours === undefined || peer === undefined ? '—' : `${(ours / peer).toFixed(2)}x`);
const bar = (ours, peer, want) => (ours === undefined || peer === undefined ? 'not measured' : ours / peer >= want ? 'met' : 'missed');

/** Markdown: the adapter and GPU, the matmul table, the MLP table and the dispatch cost. */
export function gpuTables(torch, bench) {
  const info = torch.find((l) => l.gpu !== undefined);
  const ours = (name, unit, key, value) => bench.find((l) => l.bench === name && l.backend === 'webgpu' && l.unit === unit && l[key] === value && l.of === undefined);
  const adapter = bench.find((l) => l.backend === 'webgpu' && l.adapter !== undefined)?.adapter;
  const out = [`GPU: ${info?.gpu ?? 'unknown'} (PyTorch ${info?.torch ?? 'not run'}); our adapter: ${adapter ?? 'none found'}`, ''];

  out.push('| n | ours (WebGPU) GFLOP/s | tile, bk, stages | PyTorch fp32, TF32 off | ratio | PyTorch TF32 on |', '| --- | --- | --- | --- | --- | --- |');
  for (const n of [512, 1024, 2048, 4096]) {
    const o = ours('matmul', 'GFLOP/s', 'n', n);
    const p = torch.find((l) => l.bench === 'torch_matmul_f32' && l.n === n && l.tf32 === false)?.gflops;
    const t = torch.find((l) => l.bench === 'torch_matmul_f32' && l.n === n && l.tf32 === true)?.gflops;
    out.push(`| ${n} | ${fixed(o?.value)} | ${o ? `${o.tile}, ${o.bk}, ${o.stages}` : '—'} | ${fixed(p)} | ${ratioCell(o?.value, p)} | ${fixed(t)} |`);
  }
  const m = ours('matmul', 'GFLOP/s', 'n', MATMUL_BAR.n)?.value;
  const mp = torch.find((l) => l.bench === 'torch_matmul_f32' && l.n === MATMUL_BAR.n && l.tf32 === false)?.gflops;
  out.push('', `Bar: n = ${MATMUL_BAR.n} at ${MATMUL_BAR.ratio}x PyTorch fp32 or more: ${bar(m, mp, MATMUL_BAR.ratio)}.`, '');

  out.push('| batch | ours (WebGPU) steps/s | dispatches/step | PyTorch eager steps/s | ratio | PyTorch with loss.item() |', '| --- | --- | --- | --- | --- | --- |');
  for (const batch of [128, 1024]) {
    const o = ours('mlp_step', 'steps/s', 'batch', batch)?.value;
    const d = ours('mlp_step', 'dispatches/step', 'batch', batch)?.value;
    const p = torch.find((l) => l.bench === 'torch_mlp_step' && l.batch === batch)?.steps_per_s;
    const s = torch.find((l) => l.bench === 'torch_mlp_step_with_loss_item' && l.batch === batch)?.steps_per_s;
    out.push(`| ${batch} | ${fixed(o)} | ${d ?? '—'} | ${fixed(p)} | ${ratioCell(o, p)} | ${fixed(s)} |`);
  }
  const s = ours('mlp_step', 'steps/s', 'batch', MLP_BAR.batch)?.value;
  const sp = torch.find((l) => l.bench === 'torch_mlp_step' && l.batch === MLP_BAR.batch)?.steps_per_s;
  out.push('', `Bar: batch ${MLP_BAR.batch} at ${MLP_BAR.ratio}x PyTorch eager's steps/s or more: ${bar(s, sp, MLP_BAR.ratio)}.`);
  const dispatch = bench.find((l) => l.bench === 'dispatch' && l.backend === 'webgpu')?.value;
  out.push('', `Dispatch: ${dispatch === undefined ? 'not measured' : `${dispatch.toFixed(2)} us per op`}.`);
  return out.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node scripts/gpu-tables.mjs DIR (holding torch.jsonl and bench.jsonl)\n');
    process.exit(2);
  }
  const read = (name) => {
    try {
      return jsonLines(readFileSync(join(dir, name), 'utf8'));
    } catch {
      return [];
    }
  };
  process.stdout.write(gpuTables(read('torch.jsonl'), read('bench.jsonl')));
}
