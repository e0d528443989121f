/**
 * chart.js as the charts dock uses it: only the pieces the line charts need are registered (tree-shaken imports),
 * animations off, data in chart.js's internal {x, y} form (no parsing), a hover read-out that takes each series'
 * point nearest the pointer's step (series have different steps: per-step logs, per-epoch numbers), colours from the
 * theme's CSS variables (re-read when the theme changes), and throttled redraws that update the chart in place.
 */
import {
  Chart,
  Filler,
  Interaction,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartDataset,
  type ChartOptions,
  type InteractionItem,
  type InteractionModeFunction,
  type Plugin,
  type TooltipItem,
} from 'chart.js';
import { num4 } from '../format';
import { withAlpha } from './palette';
import { logTickLabel, nearestBy, type XY } from './series';
import { frameThrottle, type FrameThrottle } from './throttle';

declare module 'chart.js' {
  interface InteractionModeMap {
    /** Each visible series' point nearest the pointer's x (steps), while the pointer is over the plot. */
    stepNearest: InteractionModeFunction;
  }
}

export type LineChart = Chart<'line', XY[]>;
export type LineDataset = ChartDataset<'line', XY[]>;

/**
 * Redraws at most this often (ms): twice a second. Measured in headless Chromium while the spiral trains, the
 * page's main thread is busy 1.5 s in every 3 s at 5 redraws a second and 1.0 s at 2 (software raster: about 80 ms
 * a redraw), CPU that training wants on a small machine.
 */
export const REDRAW_MS = 500;

let registered = false;

/** Registers the controllers, elements, scales and plugins the dock uses (once). */
export function registerCharts(): void {
  if (registered) return;
  registered = true;
  Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip, Legend, Filler);
  Interaction.modes.stepNearest = (chart, e) => {
    const area = chart.chartArea;
    const px = e.x;
    const py = e.y;
    if (px === null || py === null || !area || px < area.left || px > area.right || py < area.top || py > area.bottom) return [];
    const x = chart.scales.x?.getValueForPixel(px);
    if (x === undefined || !Number.isFinite(x)) return [];
    const items: InteractionItem[] = [];
    chart.data.datasets.forEach((ds, datasetIndex) => {
      if (!chart.isDatasetVisible(datasetIndex)) return;
      const data = ds.data as XY[];
      const index = nearestBy(data.length, (i) => data[i].x, x);
      const element = chart.getDatasetMeta(datasetIndex).data[index];
      if (index < 0 || !element || data[index].y === null) return;
      items.push({ element, datasetIndex, index });
    });
    return items;
  };
}

/** The theme's colours and fonts, from the CSS variables on the root element. */
export interface ChartTheme {
  text: string;
  muted: string;
  faint: string;
  border: string;
  borderStrong: string;
  panel: string;
  accent: string;
  ok: string;
  warn: string;
  danger: string;
  unary: string;
  font: string;
  mono: string;
  dark: boolean;
}

export function readTheme(): ChartTheme {
  const root = document.documentElement;
  const css = getComputedStyle(root);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    text: v('--text', '#1b2130'),
    muted: v('--muted', '#5f6b7e'),
    faint: v('--faint', '#8d96a5'),
    border: v('--border', '#e1e4ea'),
    borderStrong: v('--border-strong', '#c9ced8'),
    panel: v('--panel', '#ffffff'),
    accent: v('--accent', '#3f6fd6'),
    ok: v('--ok', '#1a8f5a'),
    warn: v('--warn', '#b26b00'),
    danger: v('--danger', '#d0312d'),
    unary: v('--g-unary', '#7a5af8'),
    font: v('--font', 'system-ui, sans-serif'),
    mono: v('--mono', 'monospace'),
    dark: root.dataset.theme === 'dark',
  };
}

/** Calls `fn` when the theme changes (the root's data-theme, class or style attribute); returns the unsubscribe. */
export function watchTheme(fn: () => void): () => void {
  const observer = new MutationObserver(fn);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme', 'class', 'style'] });
  return () => observer.disconnect();
}

/** Paints the panel colour under the chart, so an exported PNG looks as the chart did (not transparent). */
function backgroundPlugin(colour: () => string): Plugin<'line'> {
  return {
    id: 'bpBackground',
    beforeDraw(chart) {
      const { ctx, width, height } = chart;
      ctx.save();
      ctx.fillStyle = colour();
      ctx.fillRect(0, 0, width, height);
      ctx.restore();
    },
  };
}

/** A step (an integer) as an axis or read-out shows it. */
export function stepLabel(v: number): string {
  return Number.isInteger(v) ? String(v) : num4(v);
}

/** What a line chart's options depend on besides the theme. */
export interface LineSetup {
  yLog: boolean;
  yTitle: string;
  /** Values on the y axis and in read-outs (4 significant digits by default). */
  format?: (v: number) => string;
  legend: 'top' | 'right' | false;
  /** Datasets kept out of the legend and the read-out (a band's edges). */
  hidden?: (datasetIndex: number) => boolean;
  /** The read-out's title from its first item (default: the step). */
  title?: (item: TooltipItem<'line'>) => string;
  /** A read-out line (default: label, value, and the step when it is not the title's). */
  label?: (item: TooltipItem<'line'>, format: (v: number) => string) => string;
  /** Fixed y bounds. */
  yMin?: number;
  yMax?: number;
}

export function lineOptions(theme: ChartTheme, s: LineSetup): ChartOptions<'line'> {
  const format = s.format ?? num4;
  const hidden = s.hidden ?? (() => false);
  const font = { family: theme.font, size: 11 };
  const mono = { family: theme.mono, size: 11 };
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false,
    normalized: true,
    spanGaps: false,
    color: theme.muted,
    font,
    layout: { padding: { top: 2, right: 10, bottom: 0, left: 0 } },
    interaction: { mode: 'stepNearest', intersect: false, axis: 'x' },
    elements: {
      point: { radius: 0, hoverRadius: 3, hitRadius: 4 },
      line: { borderWidth: 1.5, tension: 0 },
    },
    scales: {
      x: {
        type: 'linear',
        title: { display: true, text: 'Step', color: theme.muted, font, padding: 0 },
        grid: { color: theme.border },
        border: { color: theme.borderStrong },
        ticks: { color: theme.muted, font: mono, maxRotation: 0, autoSkipPadding: 16, precision: 0, callback: (v) => stepLabel(Number(v)) },
      },
      y: {
        type: s.yLog ? 'logarithmic' : 'linear',
        ...(s.yMin !== undefined ? { min: s.yMin } : {}),
        ...(s.yMax !== undefined ? { max: s.yMax } : {}),
        title: { display: true, text: s.yTitle, color: theme.muted, font, padding: 2 },
        grid: { color: theme.border },
        border: { color: theme.borderStrong },
        ticks: {
          color: theme.muted,
          font: mono,
          autoSkipPadding: 8,
          callback: (v) => (s.yLog ? logTickLabel(Number(v), format) : format(Number(v))),
        },
      },
    },
    plugins: {
      legend: {
        display: s.legend !== false,
        position: s.legend === false ? 'top' : s.legend,
        align: s.legend === 'right' ? 'start' : 'end',
        labels: { color: theme.text, font, usePointStyle: true, pointStyle: 'line', boxWidth: 18, padding: 8, filter: (item) => !hidden(item.datasetIndex ?? -1) },
      },
      tooltip: {
        enabled: true,
        backgroundColor: theme.panel,
        titleColor: theme.text,
        bodyColor: theme.text,
        borderColor: theme.borderStrong,
        borderWidth: 1,
        titleFont: { ...mono, weight: 'bold' },
        bodyFont: mono,
        boxWidth: 8,
        boxHeight: 8,
        boxPadding: 4,
        filter: (item) => !hidden(item.datasetIndex),
        itemSort: (a, b) => a.datasetIndex - b.datasetIndex,
        callbacks: {
          title: (items) => (items.length ? (s.title ? s.title(items[0]) : `Step ${stepLabel(items[0].parsed.x ?? 0)}`) : ''),
          label: (item) => {
            if (s.label) return s.label(item, format);
            const y = item.parsed.y;
            const text = `${item.dataset.label ?? ''}: ${y === null ? '—' : format(y)}`;
            const first = item.chart.tooltip?.dataPoints?.[0];
            return first && first.parsed.x !== item.parsed.x ? `${text} (step ${stepLabel(item.parsed.x ?? 0)})` : text;
          },
        },
      },
    },
  };
}

/**
 * A line chart on a canvas with its redraw loop: `draw` (given the host) sets the datasets and options; `request()`
 * asks for a redraw, at most every REDRAW_MS, on an animation frame. The chart is made once and updated in place.
 */
export class LineChartHost {
  readonly chart: LineChart;
  theme: ChartTheme;
  private readonly throttle: FrameThrottle;
  private readonly stopTheme: () => void;
  private optionsKey: string | null = null;

  constructor(
    readonly canvas: HTMLCanvasElement,
    draw: (host: LineChartHost) => void,
  ) {
    registerCharts();
    this.theme = readTheme();
    this.chart = new Chart<'line', XY[]>(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: lineOptions(this.theme, { yLog: false, yTitle: '', legend: false }),
      plugins: [backgroundPlugin(() => this.theme.panel)],
    });
    this.throttle = frameThrottle(
      () => draw(this),
      REDRAW_MS,
      (cb) => requestAnimationFrame(cb),
      (cb, ms) => setTimeout(cb, ms),
      () => performance.now(),
    );
    this.stopTheme = watchTheme(() => {
      this.theme = readTheme();
      this.optionsKey = null;
      this.request();
    });
  }

  request(): void {
    this.throttle.request();
  }

  /** The plot's width in pixels (what decimation aims at). */
  pixels(): number {
    const w = this.chart.chartArea?.width;
    return Math.max(50, Math.round(w && w > 0 ? w : this.canvas.clientWidth || 600));
  }

  /** Sets the options when `key` (what they depend on besides the theme) or the theme changed. */
  configure(key: string, setup: () => LineSetup): void {
    if (key === this.optionsKey) return;
    this.optionsKey = key;
    const options = lineOptions(this.theme, setup());
    options.onResize = () => this.request();
    this.chart.options = options;
  }

  /**
   * Sets the datasets and redraws without animation. A dataset whose label and style are unchanged only gets its new
   * data (chart.js keeps its state, such as a legend toggle); one whose style changed (the theme, markers) is
   * replaced, as chart.js caches element options per dataset, keeping whether it was hidden.
   */
  update(datasets: LineDataset[]): void {
    const chart = this.chart;
    const current = chart.data.datasets;
    const next = datasets.map((d, i) => {
      const old = current[i];
      if (old && old.label === d.label && styleKey(old) === styleKey(d)) {
        old.data = d.data;
        return old;
      }
      if (old && old.label === d.label && !chart.isDatasetVisible(i)) d.hidden = true;
      return d;
    });
    if (next.length !== current.length || next.some((d, i) => d !== current[i])) chart.data.datasets = next;
    chart.update('none');
  }

  destroy(): void {
    this.throttle.cancel();
    this.stopTheme();
    this.chart.destroy();
  }
}

/** A dataset's options apart from its data, to tell whether its style changed. */
function styleKey(d: LineDataset): string {
  return JSON.stringify(d, (k, v) => (k === 'data' || k === 'hidden' ? undefined : v));
}

/** Markers for per-epoch points: dots while there are few, none when they would merge into a line. */
export function epochMarkers(count: number): Partial<LineDataset> {
  return count > 40 ? { pointRadius: 0, pointHoverRadius: 3 } : { pointRadius: 2.5, pointHoverRadius: 4 };
}

/**
 * A per-epoch series: a point at each epoch's step (y from `value`; null is a gap), a line in `colour` (`width`) with
 * epoch markers, dashed for validation numbers.
 */
export function epochDataset<E extends { step: number }>(
  label: string,
  epochs: readonly E[],
  value: (e: E) => number | null,
  colour: string,
  opts: { width?: number; dashed?: boolean } = {},
): LineDataset {
  return {
    label,
    data: epochs.map((e) => ({ x: e.step, y: value(e) })),
    ...lineStyle(colour, opts.width),
    ...epochMarkers(epochs.length),
    ...(opts.dashed ? { borderDash: [5, 3] } : {}),
  };
}

/** Line style for a series: its colour, a thin line, no points. */
export function lineStyle(colour: string, width = 1.5): Partial<LineDataset> {
  return { borderColor: colour, backgroundColor: colour, borderWidth: width, pointRadius: 0, pointHoverRadius: 3, fill: false };
}

/** The two datasets of a faint min..max band (the second fills down to the first). */
export function bandDatasets(label: string, colour: string, low: XY[], high: XY[]): LineDataset[] {
  const edge = { borderWidth: 0, pointRadius: 0, pointHoverRadius: 0, borderColor: 'transparent' };
  return [
    { label: `${label} min`, data: low, ...edge, fill: false, backgroundColor: 'transparent' },
    { label: `${label} max`, data: high, ...edge, fill: '-1', backgroundColor: withAlpha(colour, 0.16) },
  ];
}

/** A canvas as PNG bytes. */
export function canvasPng(canvas: HTMLCanvasElement): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => {
      if (!blob) return reject(new Error('The chart could not be drawn to a PNG'));
      blob.arrayBuffer().then((b) => resolve(new Uint8Array(b)), reject);
    }, 'image/png');
  });
}

/** Text as UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
