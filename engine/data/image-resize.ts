/**
 * Resampling image planes to another size, one axis at a time: along an axis that shrinks, each output pixel is the
 * average of the source pixels it covers, weighted by how much of each it covers (area averaging, so that no source
 * pixel is skipped); along an axis that grows (or keeps its size), bilinear interpolation between pixel centres,
 * the edges clamped (the half-pixel convention of PIL and of torch's `align_corners=False`). Done per axis, area
 * averaging is the exact 2-D area average and bilinear the 2-D bilinear.
 */

/** One output pixel along an axis: the source indices it reads and their weights (summing to 1). */
interface Tap {
  index: Int32Array;
  weight: Float64Array;
}

/** The taps of each of `dst` output pixels along an axis of `src` pixels. */
export function axisTaps(src: number, dst: number): Tap[] {
  const taps: Tap[] = [];
  if (dst < src) {
    const scale = src / dst;
    for (let i = 0; i < dst; i++) {
      const lo = i * scale;
      const hi = (i + 1) * scale;
      const index: number[] = [];
      const weight: number[] = [];
      for (let s = Math.floor(lo); s < Math.min(src, Math.ceil(hi)); s++) {
        const overlap = Math.min(hi, s + 1) - Math.max(lo, s);
        if (overlap > 0) {
          index.push(s);
          weight.push(overlap / scale);
        }
      }
      taps.push({ index: Int32Array.from(index), weight: Float64Array.from(weight) });
    }
    return taps;
  }
  for (let i = 0; i < dst; i++) {
    const x = Math.min(Math.max((i + 0.5) * (src / dst) - 0.5, 0), src - 1);
    const x0 = Math.floor(x);
    const x1 = Math.min(x0 + 1, src - 1);
    const f = x - x0;
    if (f === 0 || x1 === x0) taps.push({ index: Int32Array.of(x0), weight: Float64Array.of(1) });
    else taps.push({ index: Int32Array.of(x0, x1), weight: Float64Array.of(1 - f, f) });
  }
  return taps;
}

/**
 * Resamples `planes` planes of `height` x `width` values (plane after plane, row-major) to `outHeight` x `outWidth`,
 * into a new array laid out the same way.
 */
export function resizePlanes(src: Float32Array, planes: number, height: number, width: number, outHeight: number, outWidth: number): Float32Array {
  if (height === outHeight && width === outWidth) return src.slice();
  const xs = axisTaps(width, outWidth);
  const ys = axisTaps(height, outHeight);
  const out = new Float32Array(planes * outHeight * outWidth);
  const rows = new Float64Array(height * outWidth);
  for (let p = 0; p < planes; p++) {
    const plane = p * height * width;
    // Across each row first, then down each column of the result.
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < outWidth; x++) {
        const { index, weight } = xs[x];
        let v = 0;
        for (let k = 0; k < index.length; k++) v += weight[k] * src[plane + y * width + index[k]];
        rows[y * outWidth + x] = v;
      }
    }
    const base = p * outHeight * outWidth;
    for (let y = 0; y < outHeight; y++) {
      const { index, weight } = ys[y];
      for (let x = 0; x < outWidth; x++) {
        let v = 0;
        for (let k = 0; k < index.length; k++) v += weight[k] * rows[index[k] * outWidth + x];
        out[base + y * outWidth + x] = v;
      }
    }
  }
  return out;
}
