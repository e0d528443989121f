/**
 * `training_app`: steps per second of the spiral example trained in the app itself, against the same training from
 * the CLI (`bpstudio train`, in a Node process of its own). The app: web mode's server and its engine host (a child
 * of the server, one per page connection), the page in headless Chromium receiving every event and redrawing the
 * charts (the dock's Loss tab) and the progress as a user sees them. Timed in the page, from the click on Train to
 * the progress showing `data-state="done"`. The bar: ratio >= 0.95.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Bench } from './context';
import { note } from './report';
import { childPids, REPO, waitFor, withStudio } from './studio-env';
import { otherCpus, pairedRuns, pin, spiralProject, type Run } from './training-pairs';

const FILE = 'spiral.bpstudio';
const RUNS = 7;

/** The editor is shown with the document compiled by the engine, and Train can be clicked. */
const READY = `
(() => {
  const status = document.querySelector('[data-testid="engine-status"]');
  const plan = document.querySelector('[data-testid="plan-memory"]');
  const train = [...document.querySelectorAll('.run button')].find((b) => b.textContent.trim() === 'Train');
  return !!status && status.textContent.trim() === 'Engine ready' && !!plan && /^\\d/.test(plan.textContent.trim()) &&
    !plan.classList.contains('stale') && !!train && !train.disabled;
})()
`;

/**
 * Installed before each run: records when the click on Train reaches the page (a capture listener on window, the
 * first to see it) and, from a MutationObserver on the progress's data-state (no polling, no frames), when the
 * progress shows "done" after having left it. `window.__trainRun.done` resolves with the milliseconds between
 * the two and the step the progress shows then.
 */
const PROBE = `
(() => {
  const el = document.querySelector('[data-testid="run-progress"]');
  if (!el) throw new Error('no run-progress in the page');
  const probe = (window.__trainRun = { t0: null, states: [] });
  probe.done = new Promise((resolve, reject) => {
    const onClick = (e) => {
      const b = e.target instanceof Element ? e.target.closest('button') : null;
      if (!b || b.textContent.trim() !== 'Train') return;
      probe.t0 = performance.now();
      window.removeEventListener('click', onClick, true);
    };
    window.addEventListener('click', onClick, true);
    const timer = setTimeout(() => {
      obs.disconnect();
      reject(new Error('training did not finish within 120 s (states: ' + probe.states.join(' ') + ')'));
    }, 120000);
    const obs = new MutationObserver(() => {
      if (probe.t0 === null) return;
      const state = el.getAttribute('data-state');
      if (probe.states[probe.states.length - 1] !== state) probe.states.push(state);
      if (state === 'error') {
        obs.disconnect();
        clearTimeout(timer);
        reject(new Error('training failed in the app'));
      }
      if (state !== 'done' || probe.states.length < 2) return;
      const t1 = performance.now();
      obs.disconnect();
      clearTimeout(timer);
      const step = el.querySelector('[data-testid="progress-step"]');
      resolve({ ms: t1 - probe.t0, step: step ? Number(step.textContent) : NaN });
    });
    obs.observe(el, { attributes: true, attributeFilter: ['data-state'] });
  });
})()
`;

async function appRun(page: Page): Promise<Run> {
  await page.evaluate(PROBE);
  await page.getByRole('button', { name: 'Train', exact: true }).click();
  const r = (await page.evaluate('window.__trainRun.done')) as { ms: number; step: number };
  return { seconds: r.ms / 1000, steps: r.step };
}

/** CPU seconds (user and system, all threads) of a process so far; undefined when it is gone or not on Linux. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

export const trainingApp: Bench = {
  name: 'training_app',
  async run() {
    await withStudio('training_app', { [FILE]: spiralProject(REPO).text }, async (env) => {
      const page = await env.context.newPage();
      await page.goto(`${env.url}?open=${encodeURIComponent(FILE)}`);
      await waitFor(page, READY, 60_000, 'the spiral example compiled with Train enabled');
      const serverPid = env.server.pid!;
      /** The page's engine host: the server's only child (found again before each run, in case it restarted). */
      const hostPid = (): number => {
        const kids = childPids(serverPid);
        if (kids.length !== 1) throw new Error(`training_app: the server has ${kids.length} children, not one engine host`);
        return kids[0];
      };
      note(`training_app: server ${serverPid}, engine host ${hostPid()}, Chromium ${env.chromiumPids().length} processes`);
      // Processes may come and go (Chromium's utility processes): one gone before it was pinned does not count.
      const pinAll = (pids: readonly number[], cpus: readonly number[]) => pids.every((p) => pin(p, cpus) || !existsSync(`/proc/${p}`));
      /** CPU seconds of Chromium's processes (all threads), those that are still there. */
      const chromiumCpu = () => env.chromiumPids().reduce((sum, p) => sum + (cpuSeconds(p) ?? 0), 0);
      let chromium = 0;
      await pairedRuns({
        bench: 'training_app',
        label: 'app',
        pinning:
          'per pair: the engine host (child of the server) on one CPU, the web server, Chromium (all its processes) and this process on the others; the CLI (a Node process of its own) on that CPU',
        runs: RUNS,
        file: join(env.workspace, FILE),
        out: join(env.workspace, 'out.safetensors'),
        pinOurs: (cpu) => {
          const others = otherCpus(cpu);
          return pin(hostPid(), [cpu]) && pinAll([process.pid, serverPid, ...env.chromiumPids()], others);
        },
        async ours() {
          const before = chromiumCpu();
          const r = await appRun(page);
          chromium = chromiumCpu() - before;
          return r;
        },
        trainer: hostPid,
        detail: () => `Chromium used ${chromium.toFixed(2)} s of CPU`,
      });
    });
  },
};
