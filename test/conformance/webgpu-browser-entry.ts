/**
 * The WebGPU conformance suite as a browser page runs it (test/integration/webgpu-browser.test.ts): the backend gets
 * its device from navigator.gpu, as it would in a renderer, and the page exposes the run as `runWebgpuSuite`.
 */
import { runWebgpuSuite } from './webgpu-suite';

(globalThis as { runWebgpuSuite?: typeof runWebgpuSuite }).runWebgpuSuite = runWebgpuSuite;
