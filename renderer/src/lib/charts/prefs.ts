/** The charts dock's settings, kept in localStorage between sessions: height, collapsed, tab, axes and smoothing. */

export const CHART_TABS = ['loss', 'accuracy', 'gradnorm', 'update', 'confusion', 'boundary'] as const;
export type ChartTab = (typeof CHART_TABS)[number];

export interface DockPrefs {
  /** The dock's height in CSS pixels (tabs bar included); null until the user sizes it (then autoHeight). */
  height: number | null;
  collapsed: boolean;
  tab: ChartTab;
  /** EMA weight for the step charts, 0..0.99. */
  smoothing: number;
  lossLog: boolean;
  gradLog: boolean;
  updateLog: boolean;
  /** A regression's RMSE chart (the accuracy tab's). */
  rmseLog: boolean;
}

export const PREFS_KEY = 'bpstudio.charts';
export const MIN_HEIGHT = 160;
/** The dock's height before the user sizes it, in a window tall enough (see autoHeight). */
export const AUTO_HEIGHT = 280;
export const DEFAULT_PREFS: DockPrefs = {
  height: null,
  collapsed: false,
  tab: 'loss',
  smoothing: 0.6,
  lossLog: false,
  gradLog: true,
  updateLog: true,
  rmseLog: false,
};

/** The dock's height before the user sizes it: AUTO_HEIGHT, or a third of a shorter window (the canvas keeps the most). */
export function autoHeight(windowHeight: number): number {
  return Math.max(MIN_HEIGHT, Math.min(AUTO_HEIGHT, Math.round(windowHeight / 3)));
}

/** A height within [MIN_HEIGHT, max] (max never below MIN_HEIGHT), rounded to a pixel. */
export function clampHeight(h: number, max: number): number {
  const top = Math.max(MIN_HEIGHT, max);
  return Math.round(Math.min(top, Math.max(MIN_HEIGHT, Number.isFinite(h) ? h : AUTO_HEIGHT)));
}

/** Settings from their stored JSON: each field checked, a bad or missing one (or bad JSON) takes its default. */
export function parsePrefs(text: string | null | undefined): DockPrefs {
  let raw: unknown;
  try {
    raw = text ? JSON.parse(text) : null;
  } catch {
    raw = null;
  }
  const o = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const bool = (k: keyof DockPrefs) => (typeof o[k] === 'boolean' ? (o[k] as boolean) : (DEFAULT_PREFS[k] as boolean));
  const n = (k: keyof DockPrefs) => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? (o[k] as number) : (DEFAULT_PREFS[k] as number));
  return {
    height: typeof o.height === 'number' && Number.isFinite(o.height) ? Math.max(MIN_HEIGHT, Math.round(o.height)) : null,
    collapsed: bool('collapsed'),
    tab: CHART_TABS.includes(o.tab as ChartTab) ? (o.tab as ChartTab) : DEFAULT_PREFS.tab,
    smoothing: Math.min(0.99, Math.max(0, n('smoothing'))),
    lossLog: bool('lossLog'),
    gradLog: bool('gradLog'),
    rmseLog: bool('rmseLog'),
    updateLog: bool('updateLog'),
  };
}
