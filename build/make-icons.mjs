// Draws Backprop Studio's icons and writes them to build/ (run: node build/make-icons.mjs):
//
//   icon.png        1024x1024, the app icon (electron-builder makes the .icns/.ico of the app from it)
//   bpstudio.icns   the document icon of .bpstudio files on macOS (PNG entries 128..1024)
//   bpstudio.ico    the document icon of .bpstudio files on Windows (PNG entries 16..256)
//
// The glyph is a small network: two inputs, three hidden units, one output, every edge drawn, on a dark rounded
// square (the app) or a white page (the document). Shapes are signed distance fields, so every size is drawn
// directly and anti-aliased, with no image library.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { Buffer } from 'node:buffer';

const here = dirname(fileURLToPath(import.meta.url));

// ---- PNG -----------------------------------------------------------------------------------------------------------

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** RGBA bytes (straight alpha) -> PNG. */
export function encodePng(width, height, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- drawing -------------------------------------------------------------------------------------------------------

const hex = (h, a = 1) => [parseInt(h.slice(1, 3), 16) / 255, parseInt(h.slice(3, 5), 16) / 255, parseInt(h.slice(5, 7), 16) / 255, a];
const mix = (a, b, t) => a.map((x, i) => x + (b[i] - x) * t);

const sdRoundRect = (x, y, cx, cy, hw, hh, r) => {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
};
const sdCircle = (x, y, cx, cy, r) => Math.hypot(x - cx, y - cy) - r;
const sdSegment = (x, y, ax, ay, bx, by) => {
  const px = x - ax;
  const py = y - ay;
  const dx = bx - ax;
  const dy = by - ay;
  const h = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - dx * h, py - dy * h);
};

/** The network glyph in a unit box (0..1): nodes and edges. */
function network(x0, y0, size) {
  const at = (u, v) => [x0 + u * size, y0 + v * size];
  const layers = [
    { u: 0.12, vs: [0.3, 0.7], color: hex('#4fd1c5') },
    { u: 0.5, vs: [0.15, 0.5, 0.85], color: hex('#90cdf4') },
    { u: 0.88, vs: [0.5], color: hex('#f6ad55') },
  ];
  const nodes = layers.flatMap((l) => l.vs.map((v) => ({ p: at(l.u, v), color: l.color })));
  const edges = [];
  for (let i = 0; i + 1 < layers.length; i++) {
    for (const a of layers[i].vs) for (const b of layers[i + 1].vs) edges.push([at(layers[i].u, a), at(layers[i + 1].u, b), i]);
  }
  return { nodes, edges, r: size * 0.085, w: size * 0.022 };
}

/** Renders `shapes(x, y) -> [[r,g,b,a] coverage-weighted layers]` at `size` px, composited bottom to top. */
function render(size, layersAt) {
  const out = new Uint8Array(size * size * 4);
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // premultiplied accumulation
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (const [color, coverage] of layersAt((px + 0.5) / size, (py + 0.5) / size, 1 / size)) {
        const ca = color[3] * coverage;
        if (ca <= 0) continue;
        r = color[0] * ca + r * (1 - ca);
        g = color[1] * ca + g * (1 - ca);
        b = color[2] * ca + b * (1 - ca);
        a = ca + a * (1 - ca);
      }
      const i = (py * size + px) * 4;
      out[i] = a > 0 ? Math.round((r / a) * 255) : 0;
      out[i + 1] = a > 0 ? Math.round((g / a) * 255) : 0;
      out[i + 2] = a > 0 ? Math.round((b / a) * 255) : 0;
      out[i + 3] = Math.round(a * 255);
    }
  }
  return out;
}

/** Coverage of a shape from its signed distance (in units) and the pixel size: one pixel of anti-aliasing. */
const cover = (d, px) => Math.max(0, Math.min(1, 0.5 - d / px));

function drawNetwork(net, x, y, px, edgeColor, ring) {
  const out = [];
  let dEdge = Infinity;
  for (const [a, b] of net.edges) dEdge = Math.min(dEdge, sdSegment(x, y, a[0], a[1], b[0], b[1]) - net.w / 2);
  out.push([edgeColor, cover(dEdge, px)]);
  for (const n of net.nodes) {
    const d = sdCircle(x, y, n.p[0], n.p[1], net.r);
    if (d > px * 2 + net.r * 0.25) continue;
    out.push([ring, cover(d - net.r * 0.22, px)]);
    out.push([n.color, cover(d, px)]);
  }
  return out;
}

const APP_NET = network(0.2, 0.2, 0.6);
function appIcon(x, y, px) {
  // macOS-style: the body is inset from the canvas, with a soft rounded square
  const bg = sdRoundRect(x, y, 0.5, 0.5, 0.41, 0.41, 0.09);
  const top = hex('#27345a');
  const bottom = hex('#111a30');
  return [[mix(top, bottom, y), cover(bg, px)], ...drawNetwork(APP_NET, x, y, px, hex('#e2e8f0', 0.55), hex('#f7fafc'))];
}

const DOC_NET = network(0.3, 0.36, 0.4);
function documentIcon(x, y, px) {
  // a page with a folded corner
  // the page spans x 0.17..0.83, y 0.08..0.92; its top right corner is cut along x - y = 0.61 and folded over
  const cut = (x - y - 0.61) / Math.SQRT2;
  const page = Math.max(sdRoundRect(x, y, 0.5, 0.5, 0.33, 0.42, 0.03), cut);
  const fold = Math.max(0.69 - x, y - 0.22, cut);
  const edge = hex('#94a3b8');
  return [
    [edge, cover(page - 0.006, px)],
    [hex('#ffffff'), cover(page + 0.006, px)],
    [hex('#cbd5e1'), cover(fold, px)],
    ...drawNetwork(DOC_NET, x, y, px, hex('#334155', 0.6), hex('#1e293b')),
  ];
}

// ---- containers ----------------------------------------------------------------------------------------------------

const png = (size, fn) => encodePng(size, size, render(size, fn));

/** ICNS with PNG entries. */
function icns(entries) {
  const parts = entries.map(([type, data]) => {
    const head = Buffer.alloc(8);
    head.write(type, 0, 'ascii');
    head.writeUInt32BE(data.length + 8, 4);
    return Buffer.concat([head, data]);
  });
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'ascii');
  head.writeUInt32BE(body.length + 8, 4);
  return Buffer.concat([head, body]);
}

/** ICO with PNG entries (Windows Vista and later). */
function ico(images) {
  const dir = Buffer.alloc(6 + 16 * images.length);
  dir.writeUInt16LE(0, 0);
  dir.writeUInt16LE(1, 2);
  dir.writeUInt16LE(images.length, 4);
  let offset = dir.length;
  images.forEach(([size, data], i) => {
    const e = 6 + 16 * i;
    dir[e] = size >= 256 ? 0 : size;
    dir[e + 1] = size >= 256 ? 0 : size;
    dir[e + 2] = 0;
    dir[e + 3] = 0;
    dir.writeUInt16LE(1, e + 4);
    dir.writeUInt16LE(32, e + 6);
    dir.writeUInt32LE(data.length, e + 8);
    dir.writeUInt32LE(offset, e + 12);
    offset += data.length;
  });
  return Buffer.concat([dir, ...images.map(([, d]) => d)]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(join(here, 'icon.png'), png(1024, appIcon));
  writeFileSync(
    join(here, 'bpstudio.icns'),
    icns([
      ['ic07', png(128, documentIcon)],
      ['ic08', png(256, documentIcon)],
      ['ic09', png(512, documentIcon)],
      ['ic10', png(1024, documentIcon)],
    ]),
  );
  writeFileSync(join(here, 'bpstudio.ico'), ico([16, 32, 48, 64, 128, 256].map((s) => [s, png(s, documentIcon)])));
  console.log('build: wrote icon.png, bpstudio.icns, bpstudio.ico');
}
