/**
 * The protocol buffers wire format (https://protobuf.dev/programming-guides/encoding/), write side only, for the
 * few field kinds ONNX's messages use: varints (int32, int64, enums), 32-bit floats, length-delimited bytes,
 * strings and nested messages. Repeated scalars are written one field per value (proto2's default, which
 * onnx.proto uses); every parser also accepts that form.
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

const UTF8 = new TextEncoder();

/** Collects one message's fields in order; `bytes()` is the encoded message. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  private tag(field: number, wire: number): void {
    this.push(varint(BigInt(field) * 8n + BigInt(wire)));
  }

  /** An integer field (int32, int64, enum, bool): negative values take ten bytes, as int64 does. */
  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.push(varint(BigInt(value)));
    return this;
  }

  /** A float field (32-bit, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH);
    this.push(varint(BigInt(value.length)));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, UTF8.encode(value));
  }

  /** A nested message. */
  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  /** The encoded message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** A base-128 varint; a negative value is its 64-bit two's complement (ten bytes). */
export function varint(value: bigint): Uint8Array {
  if (value < -(1n << 63n) || value >= 1n << 64n) throw new RangeError(`${value} does not fit 64 bits`);
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v ? low | 0x80 : low);
  } while (v);
  return Uint8Array.from(out);
}
