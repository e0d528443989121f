/**
 * PNG and JPEG files decoded to 8-bit RGBA (pngjs and jpeg-js, pure JavaScript: they run in the engine process with
 * no native code). The format is told by the file's first bytes, not its name. Every failure is a StudioError
 * naming the file; nothing else escapes.
 */
import { decode as decodeJpegBytes } from 'jpeg-js';
import { PNG } from 'pngjs';
import { StudioError } from '../util/errors';

/** A decoded image: width x height pixels, 4 bytes each (R, G, B, A), row-major from the top left. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** The most pixels one image may have (a 40-megapixel photo): more is refused before decoding. */
export const MAX_IMAGE_PIXELS = 40_000_000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

const startsWith = (bytes: Uint8Array, sig: number[]) => bytes.length >= sig.length && sig.every((b, i) => bytes[i] === b);

export function imageFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  if (startsWith(bytes, JPEG_SIGNATURE)) return 'jpeg';
  return undefined;
}

/** Decodes a PNG (any bit depth and colour type; 16-bit samples are scaled to 8) or a baseline/progressive JPEG. */
export function decodeImage(bytes: Uint8Array, file: string): RgbaImage {
  const format = imageFormat(bytes);
  if (!format) throw new StudioError('not a PNG or JPEG image (its first bytes are neither signature)', { file });
  try {
    return format === 'png' ? decodePng(bytes, file) : decodeJpeg(bytes);
  } catch (e) {
    if (e instanceof StudioError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new StudioError(`cannot decode this ${format === 'png' ? 'PNG' : 'JPEG'} file: it is damaged, cut short or of a kind not supported (${why})`, { file });
  }
}

function decodePng(bytes: Uint8Array, file: string): RgbaImage {
  // IHDR is the first chunk: its width and height follow the signature, the length and the type (bytes 16-23).
  if (bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    checkSize(view.getUint32(16), view.getUint32(20), file);
  }
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
}

function decodeJpeg(bytes: Uint8Array): RgbaImage {
  const img = decodeJpegBytes(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
  return { width: img.width, height: img.height, data: img.data };
}

function checkSize(width: number, height: number, file: string): void {
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new StudioError(`the image is ${width} x ${height} pixels, more than the ${MAX_IMAGE_PIXELS / 1e6} megapixels allowed`, { file });
  }
}
