/**
 * The parts of a canvas chart (the decision boundary, the fitted curve) that are the same in each: the canvas sized
 * to its box at the device's pixel ratio and cleared, and the plot's frame, ticks and axis names.
 */
import type { Range } from './boundary';
import type { ChartTheme } from './chartjs';
import { niceTicks } from './series';
import { num4 } from '../format';

/** Draws a chart on a cleared canvas of `size` CSS pixels (what PlotView.svelte runs in an animation frame). */
export type Paint = (ctx: CanvasRenderingContext2D, size: { width: number; height: number }, theme: ChartTheme) => void;

/** Sizes the canvas to `size` (CSS pixels) at the device's pixel ratio and fills it; the context, drawing in CSS pixels. */
export function clearPlot(canvas: HTMLCanvasElement, size: { width: number; height: number }, theme: ChartTheme): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(size.width * dpr));
  canvas.height = Math.max(1, Math.round(size.height * dpr));
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = theme.panel;
  ctx.fillRect(0, 0, size.width, size.height);
  return ctx;
}

/** A plot's rectangle on the canvas (CSS pixels) and what its axes span and are called. */
export interface PlotAxes {
  left: number;
  top: number;
  width: number;
  height: number;
  x: { range: Range; name: string; ticks: number };
  /** `tickRange`: where the vertical axis has ticks, when not all of its range (a classifier's 0 to 1). */
  y: { range: Range; name: string; ticks: number; tickRange?: Range };
  /** Where the vertical axis's name is centred, from the canvas's left edge. */
  yNameAt: number;
}

/** The frame around the plot, the ticks and their values along both axes, and the axes' names. */
export function drawAxes(ctx: CanvasRenderingContext2D, theme: ChartTheme, a: PlotAxes, canvasHeight: number): void {
  const { left, top, width, height, x, y } = a;
  const px = (v: number) => left + ((v - x.range.min) / (x.range.max - x.range.min || 1)) * width;
  const py = (v: number) => top + height - ((v - y.range.min) / (y.range.max - y.range.min || 1)) * height;
  ctx.strokeStyle = theme.borderStrong;
  ctx.lineWidth = 1;
  ctx.strokeRect(left + 0.5, top + 0.5, width - 1, height - 1);
  ctx.fillStyle = theme.muted;
  ctx.font = `10px ${theme.mono}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const v of niceTicks(x.range.min, x.range.max, x.ticks)) {
    const at = Math.round(px(v)) + 0.5;
    ctx.fillRect(at - 0.5, top + height, 1, 4);
    ctx.fillText(num4(v), at, top + height + 6);
  }
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const yTicks = y.tickRange ?? y.range;
  for (const v of niceTicks(yTicks.min, yTicks.max, y.ticks)) {
    const at = Math.round(py(v)) + 0.5;
    ctx.fillRect(left - 4, at - 0.5, 4, 1);
    ctx.fillText(num4(v), left - 6, at);
  }
  ctx.font = `11px ${theme.font}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillText(x.name, left + width / 2, canvasHeight - 2);
  ctx.save();
  ctx.translate(a.yNameAt, top + height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'middle';
  ctx.fillText(y.name, 0, 0);
  ctx.restore();
}
