#!/usr/bin/env node
// The bpstudio command line (docs: ../shared/docs/cli.md). The engine is TypeScript, loaded through tsx.
import { register } from 'tsx/esm/api';

register();
// A reader that stops early (`bpstudio ... | head`) is not an error.
process.stdout.on('error', (e) => process.exit(e.code === 'EPIPE' ? 0 : 1));
const { main } = await import('../engine/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
