/**
 * Generates engine/backends/cpu/matmul-wasm.generated.ts: the WebAssembly SIMD matmul kernel of the float32 CPU
 * backend, as base64 bytes in a TypeScript module, so that nothing is built at install time and the module loads
 * synchronously. The kernel is written below in WebAssembly text (the flat instruction form, with named locals and
 * labels), unrolled by small JavaScript loops, and assembled by the minimal assembler at the end of this file (only
 * the instructions used here), so the generator needs no dependency. Run `node scripts/gen-wasm.mjs` after editing;
 * test/unit/cpu-matmul.test.ts fails while the committed module is stale.
 *
 * Two modules are generated from the same code: one with a memory of its own, and one that imports a shared memory
 * (`env.memory`, up to 4 GiB) for the worker threads of engine/backends/cpu/gemm-threads.ts, which run row blocks of
 * one `gemm` in instances of their own over that memory.
 *
 * Exports of the module (all addresses are byte offsets into its exported memory, all matrices float32 row-major):
 * - `pack_b(src, k, n, dst)`: B[k,n] at src into column panels of NR: panel j holds B[p, NR j + c] at
 *   dst + 4 (NR (j k + p) + c), zero where NR j + c >= n.
 * - `transpose(src, rows, cols, dst)`: dst[cols,rows] = src[rows,cols]^T, in 4 x 4 blocks.
 * - `compact(c, m, n, ldc)`: the rows of C[m, ldc] at c moved in place to C[m, n] (n <= ldc).
 * - `gemm(a, b, c, m, k, np, ldc)`: C = A B for A[m,k] at a (m a multiple of MR: rows past the real ones are read
 *   but their results are never used), B packed by `pack_b` into np panels at b, C[m, ldc] at c with ldc = NR np.
 *   Each output is sum_p A[i,p] B[p,j] accumulated in float32 in increasing p, each product rounded before the
 *   add (no fused multiply-add), so a result depends only on the inputs, never on blocking or on the machine.
 */
import { Buffer } from 'node:buffer';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Output tile of the inner kernel: MR rows by NR columns (NR / 4 f32x4 vectors a row). */
export const MR = 4;
export const NR = 8;
/** Cache blocking: KC steps of k over MC rows of A (an MC x KC block of A stays in L2, a KC x NR panel in L1). */
const KC = 256;
const MC = 128;
/** Column tile of the transpose. */
const TT = 32;

const outputFile = fileURLToPath(new URL('../engine/backends/cpu/matmul-wasm.generated.ts', import.meta.url));

const NV = NR / 4;
const range = (n) => [...Array(n).keys()];
const acc = (r, v) => `$acc${r}_${v}`;

/** C = A B over KC x MC blocks; the MR x NR tile kernel keeps its outputs in MR * NV registers. */
function gemm() {
  const rowAddr = (r) => (r === 0 ? 'local.get $x' : `local.get $x local.get $la${r} i32.add`);
  return {
    name: 'gemm',
    params: ['a', 'b', 'c', 'm', 'k', 'np', 'ldc'],
    i32: ['pc', 'kb', 'kb4', 'ic', 'ie', 'jp', 'i', 'bpan', 'cp', 'q', 'x', 'xend', 'bb', 'ldc4', ...range(MR).slice(1).map((r) => `la${r}`)],
    v128: [...range(MR).flatMap((r) => range(NV).map((v) => acc(r, v).slice(1))), ...range(NV).map((v) => `b${v}`), 't'],
    body: `
      local.get $ldc i32.const 2 i32.shl local.set $ldc4
      ${range(MR).slice(1).map((r) => `local.get $k i32.const ${4 * r} i32.mul local.set $la${r}`).join('\n')}
      i32.const 0 local.set $pc
      loop $kblocks
        ;; kb = min(KC, k - pc)
        local.get $k local.get $pc i32.sub local.tee $kb
        i32.const ${KC} i32.gt_u
        if i32.const ${KC} local.set $kb end
        local.get $kb i32.const 2 i32.shl local.set $kb4
        i32.const 0 local.set $ic
        loop $mblocks
          ;; ie = min(ic + MC, m)
          local.get $ic i32.const ${MC} i32.add local.tee $ie local.get $m i32.gt_u
          if local.get $m local.set $ie end
          i32.const 0 local.set $jp
          loop $panels
            ;; bpan = b + 4 NR (jp k + pc)
            local.get $jp local.get $k i32.mul local.get $pc i32.add i32.const ${4 * NR} i32.mul local.get $b i32.add local.set $bpan
            local.get $ic local.set $i
            loop $rows
              ;; x = a + 4 (i k + pc); cp = c + 4 (i ldc + NR jp)
              local.get $i local.get $k i32.mul local.get $pc i32.add i32.const 2 i32.shl local.get $a i32.add local.set $x
              local.get $i local.get $ldc4 i32.mul local.get $jp i32.const ${4 * NR} i32.mul i32.add local.get $c i32.add local.set $cp
              local.get $pc i32.eqz
              if
                ${range(MR).flatMap((r) => range(NV).map((v) => `v128.const i32x4 0 0 0 0 local.set ${acc(r, v)}`)).join('\n')}
              else
                local.get $cp local.set $q
                ${range(MR).map((r) => range(NV).map((v) => `local.get $q v128.load offset=${16 * v} local.set ${acc(r, v)}`).join('\n') + '\nlocal.get $q local.get $ldc4 i32.add local.set $q').join('\n')}
              end
              local.get $x local.get $kb4 i32.add local.set $xend
              local.get $bpan local.set $bb
              loop $steps
                ${range(NV).map((v) => `local.get $bb v128.load offset=${16 * v} local.set $b${v}`).join('\n')}
                ${range(MR).map((r) => `${rowAddr(r)} v128.load32_splat local.set $t\n` + range(NV).map((v) => `local.get ${acc(r, v)} local.get $t local.get $b${v} f32x4.mul f32x4.add local.set ${acc(r, v)}`).join('\n')).join('\n')}
                local.get $bb i32.const ${4 * NR} i32.add local.set $bb
                local.get $x i32.const 4 i32.add local.tee $x local.get $xend i32.lt_u br_if $steps
              end
              local.get $cp local.set $q
              ${range(MR).map((r) => range(NV).map((v) => `local.get $q local.get ${acc(r, v)} v128.store offset=${16 * v}`).join('\n') + '\nlocal.get $q local.get $ldc4 i32.add local.set $q').join('\n')}
              local.get $i i32.const ${MR} i32.add local.tee $i local.get $ie i32.lt_u br_if $rows
            end
            local.get $jp i32.const 1 i32.add local.tee $jp local.get $np i32.lt_u br_if $panels
          end
          local.get $ie local.tee $ic local.get $m i32.lt_u br_if $mblocks
        end
        local.get $pc local.get $kb i32.add local.tee $pc local.get $k i32.lt_u br_if $kblocks
      end`,
  };
}

/**
 * Column panels of B[k,n] (element (p, j) at src + 4 (p n + j)): rows of whole panels are copied as vectors, those
 * of the last partial panel element by element, zero past column n.
 */
function pack() {
  const at = (col) => `local.get $p local.get $n i32.mul local.get ${col} i32.add`;
  const scalar = `
              i32.const 0 local.set $c
              loop $cols
                local.get $d local.get $c i32.const 2 i32.shl i32.add
                local.get $j local.get $c i32.add local.tee $col local.get $n i32.lt_u
                if (result f32)
                  ${at('$col')} i32.const 2 i32.shl local.get $src i32.add f32.load
                else
                  f32.const 0
                end
                f32.store
                local.get $c i32.const 1 i32.add local.tee $c i32.const ${NR} i32.lt_u br_if $cols
              end`;
  const vector = range(NV)
    .map((v) => `local.get $d ${at('$j')} i32.const 2 i32.shl local.get $src i32.add v128.load offset=${16 * v} v128.store offset=${16 * v}`)
    .join('\n');
  return {
    name: 'pack_b',
    params: ['src', 'k', 'n', 'dst'],
    i32: ['p', 'j', 'c', 'd', 'col'],
    v128: [],
    body: `
      local.get $k i32.eqz if return end
      local.get $dst local.set $d
      i32.const 0 local.set $j
      block $done
        loop $panels
          local.get $j local.get $n i32.ge_u br_if $done
          i32.const 0 local.set $p
          loop $steps
            local.get $j i32.const ${NR} i32.add local.get $n i32.le_u
            if ${vector} else ${scalar} end
            local.get $d i32.const ${4 * NR} i32.add local.set $d
            local.get $p i32.const 1 i32.add local.tee $p local.get $k i32.lt_u br_if $steps
          end
          local.get $j i32.const ${NR} i32.add local.set $j
          br $panels
        end
      end`,
  };
}

/** dst[cols,rows] = src[rows,cols]^T: 4 x 4 blocks through vectors, the ragged edges element by element. */
function transpose() {
  const shuffle = (l) => l.flatMap((i) => [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3]).join(' ');
  return {
    name: 'transpose',
    params: ['src', 'rows', 'cols', 'dst'],
    i32: ['i', 'j', 'r4', 'c4', 's', 'd', 'j0', 'jend'],
    v128: ['v0', 'v1', 'v2', 'v3', 'w0', 'w1', 'w2', 'w3'],
    body: `
      local.get $rows i32.const -4 i32.and local.set $r4
      local.get $cols i32.const -4 i32.and local.set $c4
      ;; column tiles of TT: the TT destination rows they write stay in cache while i runs over all rows
      i32.const 0 local.set $j0
      block $tdone
        loop $tiles
          local.get $j0 local.get $c4 i32.ge_u br_if $tdone
          local.get $j0 i32.const ${TT} i32.add local.tee $jend local.get $c4 i32.gt_u
          if local.get $c4 local.set $jend end
      i32.const 0 local.set $i
      block $bdone
        loop $brows
          local.get $i local.get $r4 i32.ge_u br_if $bdone
          local.get $j0 local.set $j
          block $cdone
            loop $bcols
              local.get $j local.get $jend i32.ge_u br_if $cdone
              ;; s = src + 4 (i cols + j), d = dst + 4 (j rows + i)
              local.get $i local.get $cols i32.mul local.get $j i32.add i32.const 2 i32.shl local.get $src i32.add local.set $s
              local.get $j local.get $rows i32.mul local.get $i i32.add i32.const 2 i32.shl local.get $dst i32.add local.set $d
              ${range(4).map((r) => `local.get $s v128.load local.set $v${r} local.get $s local.get $cols i32.const 2 i32.shl i32.add local.set $s`).join('\n')}
              ;; w0 = [v0.0 v1.0 v0.1 v1.1], w1 = [v0.2 v1.2 v0.3 v1.3], w2, w3 likewise from v2, v3
              local.get $v0 local.get $v1 i8x16.shuffle ${shuffle([0, 4, 1, 5])} local.set $w0
              local.get $v0 local.get $v1 i8x16.shuffle ${shuffle([2, 6, 3, 7])} local.set $w1
              local.get $v2 local.get $v3 i8x16.shuffle ${shuffle([0, 4, 1, 5])} local.set $w2
              local.get $v2 local.get $v3 i8x16.shuffle ${shuffle([2, 6, 3, 7])} local.set $w3
              local.get $d local.get $w0 local.get $w2 i8x16.shuffle ${shuffle([0, 1, 4, 5])} v128.store
              local.get $d local.get $rows i32.const 2 i32.shl i32.add local.tee $d local.get $w0 local.get $w2 i8x16.shuffle ${shuffle([2, 3, 6, 7])} v128.store
              local.get $d local.get $rows i32.const 2 i32.shl i32.add local.tee $d local.get $w1 local.get $w3 i8x16.shuffle ${shuffle([0, 1, 4, 5])} v128.store
              local.get $d local.get $rows i32.const 2 i32.shl i32.add local.get $w1 local.get $w3 i8x16.shuffle ${shuffle([2, 3, 6, 7])} v128.store
              local.get $j i32.const 4 i32.add local.set $j
              br $bcols
            end
          end
          local.get $i i32.const 4 i32.add local.set $i
          br $brows
        end
      end
          local.get $jend local.set $j0
          br $tiles
        end
      end
      ;; the ragged edges: columns c4.. of every row, then rows r4.. of the first c4 columns
      i32.const 0 local.set $i
      block $edone
        loop $erows
          local.get $i local.get $rows i32.ge_u br_if $edone
          local.get $i local.get $r4 i32.lt_u
          if (result i32) local.get $c4 else i32.const 0 end
          local.set $j
          block $ecdone
            loop $ecols
              local.get $j local.get $cols i32.ge_u br_if $ecdone
              local.get $j local.get $rows i32.mul local.get $i i32.add i32.const 2 i32.shl local.get $dst i32.add
              local.get $i local.get $cols i32.mul local.get $j i32.add i32.const 2 i32.shl local.get $src i32.add f32.load
              f32.store
              local.get $j i32.const 1 i32.add local.set $j
              br $ecols
            end
          end
          local.get $i i32.const 1 i32.add local.set $i
          br $erows
        end
      end`,
  };
}

/** Rows of C[m, ldc] at c moved to C[m, n] in place (n <= ldc; memory.copy allows the overlap). */
function compact() {
  return {
    name: 'compact',
    params: ['c', 'm', 'n', 'ldc'],
    i32: ['i'],
    v128: [],
    body: `
      i32.const 1 local.set $i
      block $done
        loop $rows
          local.get $i local.get $m i32.ge_u br_if $done
          local.get $i local.get $n i32.mul i32.const 2 i32.shl local.get $c i32.add
          local.get $i local.get $ldc i32.mul i32.const 2 i32.shl local.get $c i32.add
          local.get $n i32.const 2 i32.shl
          memory.copy
          local.get $i i32.const 1 i32.add local.set $i
          br $rows
        end
      end`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A minimal assembler for the flat text form: one function type per signature (i32 parameters, no results), one
// exported memory, exported functions. Instructions are whitespace-separated with their immediates; `;;` starts a
// comment; `block`/`loop`/`if` take an optional `$label` and an optional `(result i32)`.

const SIMD = { 'v128.load': 0x00, 'v128.load32_splat': 0x09, 'v128.store': 0x0b, 'v128.const': 0x0c, 'i8x16.shuffle': 0x0d, 'f32x4.add': 0xe4, 'f32x4.mul': 0xe6 };
const MEM = { 'i32.load': [0x28, 2], 'f32.load': [0x2a, 2], 'f32.store': [0x38, 2], 'v128.load': [-1, 4], 'v128.load32_splat': [-1, 2], 'v128.store': [-1, 4] };
const PLAIN = {
  'return': 0x0f, 'drop': 0x1a, 'select': 0x1b, 'else': 0x05, 'end': 0x0b,
  'i32.eqz': 0x45, 'i32.eq': 0x46, 'i32.ne': 0x47, 'i32.lt_s': 0x48, 'i32.lt_u': 0x49, 'i32.gt_s': 0x4a, 'i32.gt_u': 0x4b,
  'i32.le_s': 0x4c, 'i32.le_u': 0x4d, 'i32.ge_s': 0x4e, 'i32.ge_u': 0x4f,
  'i32.add': 0x6a, 'i32.sub': 0x6b, 'i32.mul': 0x6c, 'i32.and': 0x71, 'i32.or': 0x72, 'i32.shl': 0x74, 'i32.shr_u': 0x76,
};
const VALTYPE = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

const uleb = (n) => {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n) => {
  const out = [];
  while (true) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const f32le = (x) => [...new Uint8Array(new Float32Array([x]).buffer)];
const name = (s) => [...uleb(s.length), ...Buffer.from(s, 'utf8')];
const vec = (items) => [...uleb(items.length), ...items.flat()];
const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];

function assembleBody(fn) {
  const locals = new Map([...fn.params, ...fn.i32, ...fn.v128].map((n, i) => [`$${n}`, i]));
  const tokens = fn.body.replace(/;;[^\n]*/g, '').split(/\s+/).filter(Boolean);
  const labels = [];
  const out = [];
  let t = 0;
  const next = () => tokens[t++];
  const local = () => {
    const n = next();
    if (!locals.has(n)) throw new Error(`${fn.name}: no local ${n}`);
    return uleb(locals.get(n));
  };
  const blockType = () => {
    if (tokens[t] === '(result') {
      next();
      const ty = next().slice(0, -1);
      if (!(ty in VALTYPE)) throw new Error(`${fn.name}: block result ${ty}`);
      return [VALTYPE[ty]];
    }
    return [0x40];
  };
  while (t < tokens.length) {
    const op = next();
    if (op === 'block' || op === 'loop' || op === 'if') {
      labels.push(tokens[t]?.startsWith('$') ? next() : null);
      out.push({ block: 0x02, loop: 0x03, if: 0x04 }[op], ...blockType());
    } else if (op === 'br' || op === 'br_if') {
      const depth = labels.length - 1 - labels.lastIndexOf(next());
      if (depth >= labels.length) throw new Error(`${fn.name}: unknown label at token ${t}`);
      out.push(op === 'br' ? 0x0c : 0x0d, ...uleb(depth));
    } else if (op === 'local.get' || op === 'local.set' || op === 'local.tee') {
      out.push({ 'local.get': 0x20, 'local.set': 0x21, 'local.tee': 0x22 }[op], ...local());
    } else if (op === 'i32.const') {
      out.push(0x41, ...sleb(Number(next())));
    } else if (op === 'f32.const') {
      out.push(0x43, ...f32le(Number(next())));
    } else if (op === 'v128.const') {
      if (next() !== 'i32x4') throw new Error(`${fn.name}: v128.const takes i32x4`);
      out.push(0xfd, ...uleb(SIMD[op]), ...range(4).flatMap(() => [...new Uint8Array(new Int32Array([Number(next())]).buffer)]));
    } else if (op === 'i8x16.shuffle') {
      out.push(0xfd, ...uleb(SIMD[op]), ...range(16).map(() => Number(next())));
    } else if (op === 'memory.copy') {
      out.push(0xfc, ...uleb(10), 0x00, 0x00);
    } else if (op in MEM) {
      let offset = 0;
      while (tokens[t]?.startsWith('offset=')) offset = Number(next().slice(7));
      const [code, align] = MEM[op];
      out.push(...(code < 0 ? [0xfd, ...uleb(SIMD[op])] : [code]), ...uleb(align), ...uleb(offset));
    } else if (op in SIMD) {
      out.push(0xfd, ...uleb(SIMD[op]));
    } else if (op in PLAIN) {
      if (op === 'end') labels.pop();
      out.push(PLAIN[op]);
    } else throw new Error(`${fn.name}: unknown instruction ${op}`);
  }
  if (labels.length) throw new Error(`${fn.name}: unclosed block`);
  const groups = [['i32', fn.i32.length], ['v128', fn.v128.length]].filter(([, n]) => n > 0);
  const body = [...vec(groups.map(([ty, n]) => [...uleb(n), VALTYPE[ty]])), ...out, 0x0b];
  return [...uleb(body.length), ...body];
}

/** Pages (64 KiB) a shared memory may grow to: 4 GiB, the most a 32-bit address reaches. */
const SHARED_MAX_PAGES = 65536;

/** The module; with `shared`, its memory is imported (env.memory, shared, 1 to SHARED_MAX_PAGES pages), not its own. */
function assemble(fns, shared = false) {
  const sigs = [...new Set(fns.map((f) => f.params.length))];
  const types = sigs.map((n) => [0x60, ...vec(range(n).map(() => [VALTYPE.i32])), 0x00]);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...(shared ? section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(1), ...uleb(SHARED_MAX_PAGES)]])) : []),
    ...section(3, vec(fns.map((f) => uleb(sigs.indexOf(f.params.length))))),
    ...(shared ? [] : section(5, vec([[0x00, 0x01]]))),
    ...section(7, vec([[...name('memory'), 0x02, 0x00], ...fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])])),
    ...section(10, vec(fns.map(assembleBody))),
  ];
  return Uint8Array.from(bytes);
}

/** The generated module's source text, deterministic. */
export function generateMatmulWasmModule() {
  const constant = (shared) => {
    const wasm = assemble([gemm(), pack(), transpose(), compact()], shared);
    new globalThis.WebAssembly.Module(wasm); // validates
    const lines = Buffer.from(wasm).toString('base64').match(/.{1,100}/g).map((l) => `  '${l}' +`);
    lines[lines.length - 1] = lines[lines.length - 1].slice(0, -2);
    return [
      shared
        ? `/** The same kernels over an imported shared memory (env.memory, up to ${SHARED_MAX_PAGES} pages; ${wasm.length} bytes), base64. */`
        : `/** The float32 kernels (matmul, packing, transpose; ${wasm.length} bytes), base64. */`,
      `export const MATMUL_WASM${shared ? '_SHARED' : ''}_BASE64 =`,
      ...lines,
      ';',
      '',
    ];
  };
  return [
    '// Generated by scripts/gen-wasm.mjs (node scripts/gen-wasm.mjs). Do not edit.',
    '',
    `/** The tile of the kernel: rows of A and columns of B per inner step. */`,
    `export const MR = ${MR};`,
    `export const NR = ${NR};`,
    `/** Pages the shared memory may grow to. */`,
    `export const SHARED_MAX_PAGES = ${SHARED_MAX_PAGES};`,
    '',
    ...constant(false),
    ...constant(true),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(outputFile, generateMatmulWasmModule());
  console.log(`wrote ${outputFile}`);
}
