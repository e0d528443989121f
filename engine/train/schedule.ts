import type { ResolvedTraining } from '../io/project';

/** Where a step falls in its run: what a schedule's factor depends on. */
export interface RunSteps {
  /** Steps in an epoch (batches of the training part). */
  perEpoch: number;
  /** Steps of the whole run (training.epochs of them): cosine reaches its minimum there, and stays. */
  total: number;
}

/**
 * The factor on optimizer.lr at `step` (1-based, as RunContext.step) under training.schedule, as
 * torch.optim.lr_scheduler's classes stepped once per batch would give it:
 * - constant: 1.
 * - step: gamma ^ floor(epoch / every), epoch 0-based (StepLR(step_size=every, gamma) stepped per epoch).
 * - cosine: min + (1 - min) (1 + cos(pi t / total)) / 2, t = step - 1 up to total (CosineAnnealingLR with
 *   T_max = total and eta_min = min * lr, which would rise again past T_max; this stays at the minimum).
 * - warmup (any type): times min(1, step / warmup) for warmup > 0.
 */
export function lrFactor(schedule: ResolvedTraining['schedule'], step: number, run: RunSteps): number {
  const s = Math.max(1, step);
  let factor = 1;
  if (schedule.type === 'step') {
    const epoch = Math.floor((s - 1) / Math.max(1, run.perEpoch));
    factor = Math.pow(schedule.gamma, Math.floor(epoch / schedule.every));
  } else if (schedule.type === 'cosine') {
    const total = Math.max(1, run.total);
    const t = Math.min(s - 1, total);
    factor = schedule.min + ((1 - schedule.min) * (1 + Math.cos((Math.PI * t) / total))) / 2;
  }
  return schedule.warmup > 0 ? factor * Math.min(1, s / schedule.warmup) : factor;
}

/** Whether the learning rate changes over the run at all (so it is worth reporting). */
export function isScheduled(schedule: ResolvedTraining['schedule']): boolean {
  return schedule.type !== 'constant' || schedule.warmup > 0;
}
