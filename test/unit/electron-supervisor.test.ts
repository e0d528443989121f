import { describe, expect, it } from 'vitest';
import type { EngineStatus } from '../../engine/protocol/messages';
import { Supervisor, type SupervisedProcess } from '../../electron/supervisor';

class FakeProcess implements SupervisedProcess {
  static made: FakeProcess[] = [];
  exit?: (why: string) => void;
  spawned?: () => void;
  killed = false;
  constructor() {
    FakeProcess.made.push(this);
  }
  onExit(h: (why: string) => void) {
    this.exit = h;
  }
  onSpawn(h: () => void) {
    this.spawned = h;
  }
  kill() {
    this.killed = true;
    this.exit?.('killed');
  }
}

function setup() {
  FakeProcess.made = [];
  const statuses: EngineStatus[] = [];
  const ready: [FakeProcess, boolean][] = [];
  const crashes: string[] = [];
  const scheduled: [() => void, number][] = [];
  let t = 0;
  const sup = new Supervisor<FakeProcess>({
    spawn: () => new FakeProcess(),
    onReady: (p, restarted) => ready.push([p, restarted]),
    onStatus: (s) => statuses.push(s),
    onCrash: (why) => crashes.push(why),
    schedule: (fn, ms) => scheduled.push([fn, ms]),
    now: () => t,
    quickRestarts: 2,
  });
  return { sup, statuses, ready, crashes, scheduled, advance: (ms: number) => (t += ms) };
}

describe('engine supervisor', () => {
  it('starts, and on an unexpected exit reports restarting, starts another, then ready', () => {
    const { sup, statuses, ready, crashes } = setup();
    const first = sup.start();
    first.spawned!();
    expect(ready).toEqual([[first, false]]);
    expect(statuses).toEqual([]);
    first.exit!('killed by SIGKILL');
    expect(crashes).toEqual(['killed by SIGKILL']);
    expect(statuses).toEqual([{ engine: 'restarting', message: 'the engine stopped (killed by SIGKILL); restarting it' }]);
    const second = FakeProcess.made[1];
    expect(sup.current).toBe(second);
    second.spawned!();
    expect(ready[1]).toEqual([second, true]);
    expect(statuses[1]).toEqual({ engine: 'ready' });
  });

  it('does not restart after stop', () => {
    const { sup, statuses } = setup();
    const p = sup.start();
    sup.stop();
    expect(p.killed).toBe(true);
    expect(FakeProcess.made).toHaveLength(1);
    expect(statuses).toEqual([]);
    expect(sup.current).toBeNull();
  });

  it('backs off when the engine keeps crashing, and recovers', () => {
    const { sup, scheduled, advance } = setup();
    sup.start();
    for (let i = 0; i < 2; i++) FakeProcess.made.at(-1)!.exit!('exit code 1');
    expect(FakeProcess.made).toHaveLength(3);
    expect(scheduled).toEqual([]);
    FakeProcess.made.at(-1)!.exit!('exit code 1');
    expect(FakeProcess.made).toHaveLength(3); // delayed
    expect(scheduled[0][1]).toBe(500);
    scheduled[0][0]();
    expect(FakeProcess.made).toHaveLength(4);
    FakeProcess.made.at(-1)!.exit!('exit code 1');
    expect(scheduled[1][1]).toBe(1000);
    // quiet for a while: restarts are immediate again
    scheduled[1][0]();
    advance(60_000);
    FakeProcess.made.at(-1)!.exit!('exit code 1');
    expect(FakeProcess.made).toHaveLength(6);
  });
});
