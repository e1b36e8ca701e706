// Envoy objects in protobufjs's object form (camelCase fields, enum names, `{ '@type', ...fields }` for Any) in,
// the same data in message form out (enum numbers, Any packed to `{ type_url, value }`, map keys sorted), ready for
// `Type.encode`. Strict where protobufjs's own `fromObject` is lenient: an unknown field, an unknown enum name, a
// wrong scalar type, two members of one oneof or an Any of a type missing from the descriptor is an error naming
// the field, never a silently dropped value — the sidecar must run exactly what translation meant.
import protobuf from 'protobufjs';

type Obj = Record<string, unknown>;

/** A problem at `path` (dotted, relative to the resource being converted). */
export class FieldError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path || '<root>'}: ${message}`);
    this.path = path;
  }
}

const MAX_SECONDS = 315_576_000_000; // google.protobuf.Duration's range, ±10000 years
const INT32 = 2 ** 31;
const UINT32 = 2 ** 32;
const DIGITS = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const isPlainObject = (v: unknown): v is Obj =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'an array' : typeof v === 'object' ? (v === null ? 'null' : 'an object') : String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

const mismatch = (path: string, v: unknown, what: string) => new FieldError(path, `expected ${what}, got ${show(v)}`);

export interface MessageForm {
  /** Converts `obj` (object form of `type`); throws FieldError. */
  toMessage(type: protobuf.Type, obj: unknown, path?: string): Obj;
  /** The message type an Any's `@type` names, if the descriptor has it. */
  anyType(typeUrl: string): protobuf.Type | undefined;
}

export function messageForm(root: protobuf.Root): MessageForm {
  // Paths are only for errors: a conversion first runs without building them, and runs again with them when it
  // fails, to name the field.
  let tracking = false;
  const child = (path: string, key: string) => (tracking ? join(path, key) : '');
  const item = (path: string, i: number) => (tracking ? `${path}[${i}]` : '');
  const anyT = root.lookupType('google.protobuf.Any');
  const durationT = root.lookupType('google.protobuf.Duration');
  const anyTypes = new Map<string, protobuf.Type | undefined>();

  function anyType(typeUrl: string): protobuf.Type | undefined {
    const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    if (!anyTypes.has(name)) {
      const t = root.lookup(name);
      anyTypes.set(name, t instanceof protobuf.Type ? t : undefined);
    }
    return anyTypes.get(name);
  }

  function scalar(type: string, v: unknown, path: string): unknown {
    switch (type) {
      case 'string':
        if (typeof v !== 'string') throw mismatch(path, v, 'a string');
        return v;
      case 'bool':
        if (typeof v !== 'boolean') throw mismatch(path, v, 'a boolean');
        return v;
      case 'double':
      case 'float':
        if (typeof v !== 'number') throw mismatch(path, v, 'a number');
        return v;
      case 'int32':
      case 'sint32':
      case 'sfixed32':
        if (!Number.isInteger(v) || (v as number) < -INT32 || (v as number) >= INT32) throw mismatch(path, v, `an ${type}`);
        return v;
      case 'uint32':
      case 'fixed32':
        if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= UINT32) throw mismatch(path, v, `a ${type}`);
        return v;
      case 'int64':
      case 'sint64':
      case 'sfixed64':
      case 'uint64':
      case 'fixed64': {
        const unsigned = type === 'uint64' || type === 'fixed64';
        const ok =
          (Number.isSafeInteger(v) && (!unsigned || (v as number) >= 0)) ||
          (typeof v === 'string' && DIGITS.test(v) && (!unsigned || !v.startsWith('-'))) ||
          (typeof v === 'bigint' && (!unsigned || v >= 0n));
        if (!ok) throw mismatch(path, v, `a${type.startsWith('int') ? 'n' : ''} ${type} (a safe integer, or decimal digits in a string)`);
        return typeof v === 'bigint' ? v.toString() : v;
      }
      case 'bytes':
        if (v instanceof Uint8Array) return v;
        if (typeof v === 'string' && BASE64.test(v)) {
          const buf = new Uint8Array(protobuf.util.base64.length(v));
          protobuf.util.base64.decode(v, buf, 0);
          return buf;
        }
        throw mismatch(path, v, 'bytes (a Uint8Array or a base64 string)');
      default:
        throw new FieldError(path, `field type ${type} is not supported`);
    }
  }

  function value(field: protobuf.FieldBase, v: unknown, path: string): unknown {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Enum) {
      if (typeof v === 'string' && Object.hasOwn(rt.values, v)) return rt.values[v];
      if (typeof v === 'number' && Object.hasOwn(rt.valuesById, v)) return v;
      const names = Object.keys(rt.values);
      const list = names.length > 12 ? `${names.slice(0, 12).join(', ')}, …` : names.join(', ');
      throw new FieldError(path, `unknown value ${show(v)} of enum ${rt.fullName.slice(1)} (one of ${list})`);
    }
    if (rt instanceof protobuf.Type) return convert(rt, v, path);
    return scalar(field.type, v, path);
  }

  function mapValue(field: protobuf.MapField, v: unknown, path: string): Obj | undefined {
    if (!isPlainObject(v)) throw new FieldError(path, `expected a map (an object), got ${show(v)}`);
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    if (keys.length === 0) return undefined;
    keys.sort(); // maps are encoded in key order: the same map always gives the same bytes
    const out: Obj = {};
    for (const k of keys) {
      const at = tracking ? `${path}[${JSON.stringify(k)}]` : '';
      if (field.keyType === 'bool' ? k !== 'true' && k !== 'false' : field.keyType !== 'string' && !DIGITS.test(k)) {
        throw new FieldError(at, `not a valid ${field.keyType} map key`);
      }
      out[k] = value(field, v[k], at);
    }
    return out;
  }

  function toMessage(type: protobuf.Type, obj: unknown, path = ''): Obj {
    if (tracking) return convert(type, obj, path);
    try {
      return convert(type, obj, path);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      tracking = true;
      try {
        convert(type, obj, path);
      } finally {
        tracking = false;
      }
      throw e;
    }
  }

  function convert(type: protobuf.Type, obj: unknown, path: string): Obj {
    if (!isPlainObject(obj)) throw new FieldError(path, `expected an object (${type.fullName.slice(1)}), got ${show(obj)}`);
    if (type === anyT) return packAny(obj, path);
    const out: Obj = {};
    let oneofs: Record<string, string> | undefined;
    for (const key of Object.keys(obj)) {
      const v = obj[key];
      if (v === undefined) continue;
      const at = child(path, key);
      if (!Object.hasOwn(type.fields, key)) {
        const camel = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
        const hint = camel !== key && Object.hasOwn(type.fields, camel) ? ` (did you mean "${camel}"?)` : '';
        throw new FieldError(at, `unknown field of ${type.fullName.slice(1)}${hint}`);
      }
      if (v === null) throw new FieldError(at, 'null is not a value; leave the field out');
      const field = type.fields[key]!;
      if (field.partOf) {
        oneofs ??= {};
        const other = oneofs[field.partOf.name];
        if (other !== undefined) throw new FieldError(at, `"${other}" is set too; they are members of oneof "${field.partOf.name}"`);
        oneofs[field.partOf.name] = key;
      }
      if (field.map) {
        const m = mapValue(field as unknown as protobuf.MapField, v, at);
        if (m) out[key] = m;
      } else if (field.repeated) {
        if (!Array.isArray(v)) throw new FieldError(at, `expected a list, got ${show(v)}`);
        if (v.length === 0) continue;
        const list = new Array<unknown>(v.length);
        for (let i = 0; i < v.length; i++) list[i] = value(field, v[i], item(at, i));
        out[key] = list;
      } else {
        out[key] = value(field, v, at);
      }
    }
    if (type === durationT) checkDuration(out, path);
    return out;
  }

  function packAny(obj: Obj, path: string): Obj {
    const url = obj['@type'];
    if (typeof url !== 'string' || !url.includes('/')) {
      throw new FieldError(path, `an Any needs "@type": "type.googleapis.com/<message name>", got ${show(url)}`);
    }
    const inner = anyType(url);
    if (!inner) throw new FieldError(join(path, '@type'), `${url.slice(url.lastIndexOf('/') + 1)} is not a message type of weft's Envoy descriptor`);
    const fields: Obj = {};
    for (const k of Object.keys(obj)) if (k !== '@type') fields[k] = obj[k];
    // protobufjs names Any's fields as declared (type_url), unlike every other field here.
    return { type_url: url, value: inner.encode(convert(inner, fields, path)).finish() };
  }

  function checkDuration(d: Obj, path: string): void {
    const seconds = Number(d.seconds ?? 0);
    const nanos = Number(d.nanos ?? 0);
    if (Math.abs(seconds) > MAX_SECONDS) throw new FieldError(join(path, 'seconds'), `${seconds} is out of range ±${MAX_SECONDS}`);
    if (Math.abs(nanos) > 999_999_999) throw new FieldError(join(path, 'nanos'), `${nanos} is out of range ±999999999`);
    if ((seconds < 0 && nanos > 0) || (seconds > 0 && nanos < 0)) throw new FieldError(path, 'seconds and nanos must have the same sign');
  }

  return { toMessage, anyType };
}
