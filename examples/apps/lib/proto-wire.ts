// The protobuf wire format, just enough for the example apps' gRPC messages (node builtins only, so the apps run
// from a bare image): decode a message into its fields by number, encode fields back. In: bytes; out: a map from
// field number to the raw values (varints as bigint, length-delimited as Buffer); nested messages decode the same
// way. Fixed32/64 fields are kept as their bytes. Unknown fields are skipped, as protobuf readers do.

export type WireValue = bigint | Buffer;
export type Fields = Map<number, WireValue[]>;

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [v, pos];
    shift += 7n;
    if (shift > 63n) throw new Error('varint too long');
  }
}

export function decode(buf: Buffer): Fields {
  const out: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [key, p] = readVarint(buf, pos);
    pos = p;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value: WireValue;
    if (wire === 0) [value, pos] = readVarint(buf, pos);
    else if (wire === 2) {
      const [len, q] = readVarint(buf, pos);
      const end = q + Number(len);
      if (end > buf.length) throw new Error('truncated field');
      value = buf.subarray(q, end);
      pos = end;
    } else if (wire === 1) { value = buf.subarray(pos, pos + 8); pos += 8; } else if (wire === 5) { value = buf.subarray(pos, pos + 4); pos += 4; } else throw new Error(`unsupported wire type ${wire}`);
    const list = out.get(field);
    if (list) list.push(value);
    else out.set(field, [value]);
  }
  return out;
}

/** The last occurrence of a length-delimited field (proto3: the last one wins), or an empty buffer. */
export function bytesOf(f: Fields, n: number): Buffer {
  const v = f.get(n)?.at(-1);
  return Buffer.isBuffer(v) ? v : Buffer.alloc(0);
}

export const stringOf = (f: Fields, n: number): string => bytesOf(f, n).toString('utf8');
export const messageOf = (f: Fields, n: number): Fields => decode(bytesOf(f, n));
export const repeatedOf = (f: Fields, n: number): Buffer[] => (f.get(n) ?? []).filter((v): v is Buffer => Buffer.isBuffer(v));

/** A map<string, string> field (entries: key 1, value 2). */
export function stringMapOf(f: Fields, n: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of repeatedOf(f, n)) {
    const e = decode(entry);
    out[stringOf(e, 1)] = stringOf(e, 2);
  }
  return out;
}

function varint(v: bigint): Buffer {
  const bytes: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    bytes.push(b);
  } while (x > 0n);
  return Buffer.from(bytes);
}

/** A varint field (ints, enums, bools); zero values are left out as proto3 does. */
export function intField(n: number, v: number | bigint): Buffer {
  if (BigInt(v) === 0n) return Buffer.alloc(0);
  return Buffer.concat([varint(BigInt(n) << 3n), varint(BigInt(v))]);
}

/** A length-delimited field: a string, bytes or an encoded message (an empty message is still written). */
export function bytesField(n: number, v: string | Buffer | Buffer[]): Buffer {
  const body = Array.isArray(v) ? Buffer.concat(v) : Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8');
  return Buffer.concat([varint((BigInt(n) << 3n) | 2n), varint(BigInt(body.length)), body]);
}
