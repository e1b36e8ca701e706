// envoy.config.core.v3.CidrRange → a predicate over an address string, with prefix arithmetic on the address
// bytes (IPv4: 4 bytes, IPv6: 16). An IPv4-mapped IPv6 address (::ffff:a.b.c.d, how a dual-stack socket reports
// an IPv4 peer) is the IPv4 address. A range only matches addresses of its own family; a malformed range or
// address never matches.
import { isIP } from 'node:net';
import { obj, str, u32 } from '../routing/envoy-values.ts';

export type AddressPredicate = (address: string | undefined) => boolean;

function parseV4(s: string): Uint8Array | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseV6(s: string): Uint8Array | undefined {
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIP(s) !== 6) return undefined;
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes its two hex groups.
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    s = `${s.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, rest] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined];
  const groups = (x: string) => (x === '' ? [] : x.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const fill = 8 - h.length - r.length;
  if (fill < 0 || (rest === undefined && fill !== 0)) return undefined;
  const all = [...h, ...new Array<number>(fill).fill(0), ...r];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = (all[i]! >> 8) & 0xff;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  return out;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** An address's bytes: 4 for IPv4 (IPv4-mapped IPv6 included), 16 for IPv6; undefined when malformed. */
export function addressBytes(address: string): Uint8Array | undefined {
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  if (isIP(address) === 4) return parseV4(address);
  const v6 = parseV6(address);
  if (v6 && MAPPED_PREFIX.every((b, i) => v6[i] === b)) return v6.slice(12);
  return v6;
}

/** Whether the first `prefix` bits of `a` and `b` agree. */
function samePrefix(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const bits = prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (a[whole]! & mask) === (b[whole]! & mask);
}

/** CidrRange { addressPrefix, prefixLen } → predicate. prefixLen unset is 0 (every address of the family). */
export function compileCidr(range: unknown): AddressPredicate {
  const r = obj(range);
  const base = addressBytes(str(r.addressPrefix));
  if (!base) return () => false;
  const prefix = Math.min(u32(r.prefixLen) ?? 0, base.length * 8);
  return (address) => {
    if (address === undefined) return false;
    const a = addressBytes(address);
    return a !== undefined && a.length === base.length && samePrefix(a, base, prefix);
  };
}
