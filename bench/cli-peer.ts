/**
 * The CLI peer's process (forked by `CliPeer` in training-pairs.ts): runs `bpstudio train FILE --json --out OUT`
 * for each message `{ file, out }` and answers `{ ok, run }` or `{ ok: false, error }`. A process of its own, so
 * that nothing else the benchmark process did (TensorFlow.js's wasm memory growing, playwright driving a page) has
 * slowed every typed-array access of the CLI's training (V8's detaching protector: see `CliPeer`).
 */
import { cliRun } from './training-pairs';

process.on('message', (m: { file: string; out: string }) => {
  cliRun(m.file, m.out).then(
    (run) => process.send!({ ok: true, run }),
    (e: unknown) => process.send!({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
