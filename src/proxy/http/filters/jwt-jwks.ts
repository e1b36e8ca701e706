// A provider's JWKS and the signature check. In: local_jwks (inline_string, inline_bytes or a filename read
// through the runtime's FileSource) as a JWKS document or a PEM public key; out: usable keys (invalid ones left
// out, as Envoy does) and `verifySignature(jwt)`, which picks keys the way Envoy's verifier does (a kid on both
// sides must be equal, a key's alg must equal the token's) and checks the signature with jose. The result says
// JwksKidAlgMismatch when no key was a candidate, JwtVerificationFail when candidates did not verify. RSA keys
// under 2048 bits, which jose refuses and Envoy accepts, are checked with node:crypto.
import { constants, createPublicKey, createSecretKey, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { flattenedVerify } from 'jose';
import { obj, str } from '../../routing/envoy-values.ts';
import type { FileSource } from '../../runtime.ts';
import type { Jwt, JwtStatus } from './jwt-token.ts';

export interface JwksKey {
  kty: string;
  kid: string;
  /** '' = any algorithm of the key's family. */
  alg: string;
  key: KeyObject;
}

const EC_ALG_BY_CRV: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

function keyFromJwk(j: Record<string, unknown>): JwksKey | undefined {
  const kty = j.kty;
  if (typeof kty !== 'string') return undefined;
  if (j.kid !== undefined && typeof j.kid !== 'string') return undefined;
  if (j.alg !== undefined && typeof j.alg !== 'string') return undefined;
  const kid = (j.kid as string | undefined) ?? '';
  let alg = (j.alg as string | undefined) ?? '';
  try {
    switch (kty) {
      case 'RSA':
        if (alg && !alg.startsWith('RS') && !alg.startsWith('PS')) return undefined;
        if (typeof j.n !== 'string' || typeof j.e !== 'string') return undefined;
        return { kty, kid, alg, key: createPublicKey({ key: { kty, n: j.n, e: j.e }, format: 'jwk' }) };
      case 'EC': {
        const crv = typeof j.crv === 'string' ? j.crv : '';
        const byCrv = EC_ALG_BY_CRV[crv];
        if (alg && !alg.startsWith('ES')) return undefined;
        if (crv && !byCrv) return undefined;
        if (alg && crv && byCrv !== alg) return undefined;
        alg ||= byCrv ?? 'ES256';
        if (typeof j.x !== 'string' || typeof j.y !== 'string') return undefined;
        const curve = crv || Object.keys(EC_ALG_BY_CRV).find((c) => EC_ALG_BY_CRV[c] === alg)!;
        return { kty, kid, alg, key: createPublicKey({ key: { kty, crv: curve, x: j.x, y: j.y }, format: 'jwk' }) };
      }
      case 'oct':
        if (alg && !alg.startsWith('HS')) return undefined;
        if (typeof j.k !== 'string') return undefined;
        return { kty, kid, alg, key: createSecretKey(Buffer.from(j.k, 'base64url')) };
      case 'OKP':
        if (alg && alg !== 'EdDSA') return undefined;
        if (j.crv !== 'Ed25519' || typeof j.x !== 'string') return undefined;
        return { kty, kid, alg, key: createPublicKey({ key: { kty, crv: 'Ed25519', x: j.x }, format: 'jwk' }) };
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

function keysFromPem(text: string): JwksKey[] {
  try {
    const key = createPublicKey(text);
    const t = key.asymmetricKeyType;
    const kty = t === 'rsa' || t === 'rsa-pss' ? 'RSA' : t === 'ec' ? 'EC' : t === 'ed25519' ? 'OKP' : '';
    return kty ? [{ kty, kid: '', alg: '', key }] : [];
  } catch {
    return [];
  }
}

/** The keys of a JWKS document (or PEM public key); invalid entries are skipped. */
export function parseJwks(text: string): JwksKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return keysFromPem(text);
  }
  const keys = obj(doc).keys;
  if (!Array.isArray(keys)) return [];
  const out: JwksKey[] = [];
  for (const k of keys) {
    const key = typeof k === 'object' && k !== null ? keyFromJwk(k as Record<string, unknown>) : undefined;
    if (key) out.push(key);
  }
  return out;
}

/** The text of a provider's local_jwks data source ('' when it has none or the file cannot be read). */
export function localJwksText(localJwks: unknown, files: FileSource | undefined): string {
  const d = obj(localJwks);
  if (typeof d.inlineString === 'string') return d.inlineString;
  if (typeof d.inlineBytes === 'string') return Buffer.from(d.inlineBytes, 'base64').toString('utf8');
  if (d.inlineBytes instanceof Uint8Array) return Buffer.from(d.inlineBytes).toString('utf8');
  const file = str(d.filename);
  if (file && files) return files.read(file) ?? '';
  return '';
}

function familyFits(kty: string, alg: string): boolean {
  switch (kty) {
    case 'RSA': return alg.startsWith('RS') || alg.startsWith('PS');
    case 'EC': return alg.startsWith('ES');
    case 'oct': return alg.startsWith('HS');
    case 'OKP': return alg === 'EdDSA';
    default: return false;
  }
}

/** The signature check of a parsed token against a provider's keys (no time or audience checks). */
export async function verifySignature(jwt: Jwt, keys: readonly JwksKey[]): Promise<JwtStatus> {
  if (keys.length === 0) return 'JwksNoValidKeys';
  const [protectedHeader, payload, signature] = jwt.token.split('.') as [string, string, string];
  let matched = false;
  for (const k of keys) {
    if (jwt.kid !== '' && k.kid !== '' && k.kid !== jwt.kid) continue;
    if (k.alg !== '' && k.alg !== jwt.alg) continue;
    matched = true;
    if (!familyFits(k.kty, jwt.alg)) continue;
    if (k.kty === 'RSA' && (k.key.asymmetricKeyDetails?.modulusLength ?? 2048) < 2048) {
      // jose refuses RSA keys under 2048 bits; Envoy verifies with them.
      if (smallRsaVerifies(jwt.alg, `${protectedHeader}.${payload}`, signature, k.key)) return 'Ok';
      continue;
    }
    try {
      await flattenedVerify({ protected: protectedHeader, payload, signature }, k.key, { algorithms: [jwt.alg] });
      return 'Ok';
    } catch {
      // Next candidate.
    }
  }
  return matched ? 'JwtVerificationFail' : 'JwksKidAlgMismatch';
}

function smallRsaVerifies(alg: string, signed: string, signature: string, key: KeyObject): boolean {
  const hash = `sha${alg.slice(2)}`;
  const pss = alg.startsWith('PS');
  try {
    return cryptoVerify(hash, Buffer.from(signed), pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } : key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}
