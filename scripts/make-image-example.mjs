/**
 * Writes examples/data/digit-images/: a small image folder for the `images` data kind (examples/digit-images.bpstudio),
 * made from examples/data/digits.csv (UCI handwritten digits, 8x8, pixels 0..16; CC BY 4.0, see its README). The
 * first 40 images of each of the digits 0 to 4, upscaled to 16x16 (each pixel a 2x2 block, 0..16 scaled to 0..255,
 * white on black), one sub-folder per digit. Every third image is a JPEG (quality 90); the others are PNGs,
 * alternately grayscale and RGB, so that the example exercises every decoder path. Deterministic: running it again
 * writes the same bytes. Run: node scripts/make-image-example.mjs
 */
import { Buffer } from 'node:buffer';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

const CLASSES = 5;
const PER_CLASS = 40;
const SIDE = 16;
const source = fileURLToPath(new URL('../examples/data/digits.csv', import.meta.url));
const out = fileURLToPath(new URL('../examples/data/digit-images/', import.meta.url));

const [header, ...lines] = readFileSync(source, 'utf8').trim().split(/\r?\n/);
const label = header.split(',').indexOf('digit');
const taken = new Array(CLASSES).fill(0);

rmSync(out, { recursive: true, force: true });
for (let k = 0; k < CLASSES; k++) mkdirSync(`${out}${k}`, { recursive: true });

let written = 0;
for (const line of lines) {
  const cells = line.split(',').map(Number);
  const digit = cells[label];
  if (digit >= CLASSES || taken[digit] >= PER_CLASS) continue;
  const n = taken[digit]++;
  const pixels = cells.filter((_, i) => i !== label);
  const rgba = Buffer.alloc(SIDE * SIDE * 4);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const v = Math.round((pixels[(y >> 1) * 8 + (x >> 1)] * 255) / 16);
      rgba.set([v, v, v, 255], (y * SIDE + x) * 4);
    }
  }
  const name = `${out}${digit}/${digit}-${String(n).padStart(2, '0')}`;
  if (n % 3 === 2) writeFileSync(`${name}.jpg`, jpeg.encode({ width: SIDE, height: SIDE, data: rgba }, 90).data);
  else {
    const png = new PNG({ width: SIDE, height: SIDE, colorType: n % 2 === 0 ? 0 : 2 });
    rgba.copy(png.data);
    writeFileSync(`${name}.png`, PNG.sync.write(png, { colorType: n % 2 === 0 ? 0 : 2 }));
  }
  written++;
}
console.log(`wrote ${written} images to ${out}`);
