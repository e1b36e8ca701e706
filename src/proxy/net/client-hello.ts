// Parses the start of a TLS connection: bytes in, the ClientHello's server name (SNI) and ALPN protocol list
// out — or "need more bytes", or "not a ClientHello". The handshake message may span several TLS records (and
// so several TCP segments); the records are reassembled up to the caller's byte limit.

type HelloParse =
  | { kind: 'hello'; sni?: string; alpn: string[] }
  | { kind: 'more' }
  | { kind: 'not-tls'; reason: string };

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;

/** The handshake bytes carried by the leading handshake records, or why they are not TLS. */
function handshakeBytes(buf: Buffer): { bytes: Buffer; complete: boolean } | { error: string } {
  const parts: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf[off] !== HANDSHAKE) {
      if (off === 0) return { error: 'the first byte is not a TLS handshake record' };
      break;
    }
    if (buf.length - off < 5) return { bytes: Buffer.concat(parts), complete: false };
    if (buf[off + 1] !== 0x03) return { error: 'not a TLS record version' };
    const len = buf.readUInt16BE(off + 3);
    if (len === 0 || len > 16_384 + 2048) return { error: 'bad TLS record length' };
    const end = off + 5 + len;
    parts.push(buf.subarray(off + 5, Math.min(end, buf.length)));
    if (end > buf.length) return { bytes: Buffer.concat(parts), complete: false };
    off = end;
  }
  return { bytes: Buffer.concat(parts), complete: off >= buf.length };
}

export function parseClientHello(buf: Buffer): HelloParse {
  if (buf.length === 0) return { kind: 'more' };
  const hs = handshakeBytes(buf);
  if ('error' in hs) return { kind: 'not-tls', reason: hs.error };
  const b = hs.bytes;
  if (b.length < 4) return { kind: 'more' };
  if (b[0] !== CLIENT_HELLO) return { kind: 'not-tls', reason: 'the first handshake message is not a ClientHello' };
  const msgLen = b.readUIntBE(1, 3);
  if (b.length < 4 + msgLen) return { kind: 'more' };
  try {
    return { kind: 'hello', ...helloBody(b.subarray(4, 4 + msgLen)) };
  } catch (e) {
    return { kind: 'not-tls', reason: `malformed ClientHello: ${(e as Error).message}` };
  }
}

/** Reads the body; Buffer reads past the end throw RangeError, which the caller reports as malformed. */
function helloBody(h: Buffer): { sni?: string; alpn: string[] } {
  let p = 2 + 32; // legacy_version, random
  const need = (n: number) => {
    if (p + n > h.length) throw new RangeError('truncated');
  };
  need(1);
  p += 1 + h[p]!; // session id
  need(2);
  p += 2 + h.readUInt16BE(p); // cipher suites
  need(1);
  p += 1 + h[p]!; // compression methods
  const out: { sni?: string; alpn: string[] } = { alpn: [] };
  if (p === h.length) return out; // no extensions
  need(2);
  const extEnd = p + 2 + h.readUInt16BE(p);
  p += 2;
  if (extEnd > h.length) throw new RangeError('extensions overrun the message');
  while (p + 4 <= extEnd) {
    const type = h.readUInt16BE(p);
    const len = h.readUInt16BE(p + 2);
    const data = h.subarray(p + 4, p + 4 + len);
    if (data.length !== len) throw new RangeError('extension overruns the message');
    if (type === EXT_SERVER_NAME) {
      const sni = serverName(data);
      if (sni !== undefined) out.sni = sni;
    } else if (type === EXT_ALPN) {
      out.alpn = alpnList(data);
    }
    p += 4 + len;
  }
  return out;
}

function serverName(d: Buffer): string | undefined {
  let p = 2;
  const end = 2 + d.readUInt16BE(0);
  while (p + 3 <= end && p + 3 <= d.length) {
    const type = d[p]!;
    const len = d.readUInt16BE(p + 1);
    if (type === 0) return d.subarray(p + 3, p + 3 + len).toString('latin1').toLowerCase();
    p += 3 + len;
  }
  return undefined;
}

function alpnList(d: Buffer): string[] {
  const out: string[] = [];
  let p = 2;
  const end = Math.min(d.length, 2 + d.readUInt16BE(0));
  while (p < end) {
    const len = d[p]!;
    if (p + 1 + len > end) throw new RangeError('ALPN entry overruns the list');
    out.push(d.subarray(p + 1, p + 1 + len).toString('latin1'));
    p += 1 + len;
  }
  return out;
}
