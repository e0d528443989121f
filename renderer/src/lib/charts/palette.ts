/**
 * Chart colours shared by the charts dock and the data panel: one palette for classes (the scatter plot, the
 * decision boundary, the confusion matrix), a cold-to-warm ramp for layers in graph order (gradient norms, update
 * ratios), and a diverging scale for real-valued scores. Pure: no DOM, no theme (these read on light and dark).
 */

export type RGB = readonly [number, number, number];

/** Tableau 10: distinct, colour-blind tolerant, readable on light and dark panels. Class 0 blue, class 1 orange. */
export const CLASS_COLOURS: readonly string[] = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];

/** For what has no class (an unlabelled point, a missing prediction). */
export const NEUTRAL_COLOUR = '#8d96a5';

/** Cold (the first layer) to warm (the last): blue, violet, magenta, red, orange. */
export const LAYER_RAMP: readonly string[] = ['#2b6cd8', '#7650d0', '#c23f96', '#e0453a', '#f08a24'];

/** The ends of the diverging scale for real-valued scores (low cold, high warm) and its neutral middle. */
export const DIVERGING: { low: string; mid: string; high: string } = { low: '#2b6cd8', mid: '#a3abb8', high: '#e0453a' };

/** Class `i`'s colour: the palette, then golden-angle hues past ten classes; neutral for no class (null, < 0). */
export function classColour(i: number | null | undefined): string {
  if (i === null || i === undefined || !Number.isInteger(i) || i < 0) return NEUTRAL_COLOUR;
  if (i < CLASS_COLOURS.length) return CLASS_COLOURS[i];
  return hslHex((i * 137.508) % 360, 0.55, 0.55);
}

/**
 * Layer `index` of `count` (graph order) on the cold-to-warm ramp: the first layer blue, the last orange, evenly
 * spaced between; a lone layer is cold.
 */
export function layerColour(index: number, count: number): string {
  const t = count <= 1 ? 0 : Math.min(1, Math.max(0, index / (count - 1)));
  return rampAt(LAYER_RAMP, t);
}

/**
 * A layer's line where one line may be in focus (the layer selected on the canvas): that one wider, the others faded,
 * so that its gradient stands out of the fan; `focused` null when no line is.
 */
export function focusedLine(colour: string, focused: boolean | null): { colour: string; width: number } {
  if (focused === null) return { colour, width: 1.5 };
  return focused ? { colour, width: 3 } : { colour: withAlpha(colour, 0.25), width: 1 };
}

/** The diverging scale at t in [0, 1]: 0 cold, 0.5 neutral, 1 warm (clamped; NaN is neutral). */
export function divergingColour(t: number): string {
  if (!Number.isFinite(t)) return DIVERGING.mid;
  return rampAt([DIVERGING.low, DIVERGING.mid, DIVERGING.high], t);
}

/** A colour at t in [0, 1] along evenly spaced stops, interpolated in sRGB. */
export function rampAt(stops: readonly string[], t: number): string {
  if (stops.length === 1) return stops[0];
  const u = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const k = Math.min(stops.length - 2, Math.floor(u));
  const f = u - k;
  const a = hexRgb(stops[k]);
  const b = hexRgb(stops[k + 1]);
  if (!a || !b) return stops[k];
  return rgbHex([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]);
}

/** '#rrggbb' or '#rgb' to [r, g, b] (0..255); null for anything else. */
export function hexRgb(hex: string): RGB | null {
  const s = hex.trim();
  let m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(s);
  if (m) return [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
  m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(s);
  if (m) return [parseInt(m[1] + m[1], 16), parseInt(m[2] + m[2], 16), parseInt(m[3] + m[3], 16)];
  return null;
}

/** [r, g, b] (rounded, clamped to 0..255) to '#rrggbb'. */
export function rgbHex(rgb: readonly number[]): string {
  return '#' + rgb.slice(0, 3).map((v) => Math.round(Math.min(255, Math.max(0, v))).toString(16).padStart(2, '0')).join('');
}

/** A hex colour with an alpha, as CSS `rgb(r g b / a)`; other colour strings come back as they are. */
export function withAlpha(colour: string, alpha: number): string {
  const rgb = hexRgb(colour);
  if (!rgb) return colour;
  const a = Math.round(Math.min(1, Math.max(0, alpha)) * 1000) / 1000;
  return `rgb(${rgb[0]} ${rgb[1]} ${rgb[2]} / ${a})`;
}

/** HSL (hue in degrees, s and l in 0..1) to '#rrggbb'. */
export function hslHex(h: number, s: number, l: number): string {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const hp = (((h % 360) + 360) % 360) / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  const [r, g, b] = hp < 1 ? [c, x, 0] : hp < 2 ? [x, c, 0] : hp < 3 ? [0, c, x] : hp < 4 ? [0, x, c] : hp < 5 ? [x, 0, c] : [c, 0, x];
  const m = l - c / 2;
  return rgbHex([(r + m) * 255, (g + m) * 255, (b + m) * 255]);
}
