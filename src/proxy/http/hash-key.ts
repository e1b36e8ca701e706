// The consistent-hash key of a request from the route's hash_policy list (header, cookie, source IP, query
// parameter), as LbContext.hashKey. Policies are evaluated in order and their keys combined; a policy marked
// terminal stops the walk once a key exists. A cookie policy with a ttl whose cookie is absent generates one and
// asks the response to set it, so the client sticks to the same host afterwards.
import { bool, durationMs, obj, str } from '../routing/envoy-values.ts';
import type { HttpRequest } from '../routing/request.ts';
import { parseQuery } from '../routing/request.ts';

interface HashKey {
  key?: string;
  /** A Set-Cookie value the response must carry (generated cookie). */
  setCookie?: string;
}

function cookieValue(header: string[] | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const line of header) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() !== name) continue;
      let v = part.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
  }
  return undefined;
}

export function hashKey(policies: ReadonlyArray<Record<string, unknown>>, req: HttpRequest, sourceIp: string | undefined, random: () => number): HashKey {
  const out: HashKey = {};
  const keys: string[] = [];
  for (const p of policies) {
    let k: string | undefined;
    if (p.header) {
      const name = str(obj(p.header).headerName).toLowerCase();
      k = name === ':authority' ? req.authority : name === ':path' ? req.path : req.headers.get(name)?.join(',');
    } else if (p.cookie) {
      const c = obj(p.cookie);
      const name = str(c.name);
      k = cookieValue(req.headers.get('cookie'), name);
      const ttl = c.ttl === undefined || c.ttl === null ? undefined : durationMs(c.ttl);
      if (k === undefined && ttl !== undefined) {
        k = ((random() * 0x100000000) >>> 0).toString(16) + ((random() * 0x100000000) >>> 0).toString(16);
        const path = str(c.path);
        out.setCookie = `${name}="${k}"` + (ttl > 0 ? `; Max-Age=${Math.floor(ttl / 1000)}` : '') + (path ? `; Path=${path}` : '') + '; HttpOnly';
      }
    } else if (p.connectionProperties) {
      if (bool(obj(p.connectionProperties).sourceIp, false)) k = sourceIp;
    } else if (p.queryParameter) {
      k = parseQuery(req.path).get(str(obj(p.queryParameter).name));
    }
    if (k !== undefined) {
      keys.push(k);
      if (bool(p.terminal, false)) break;
    }
  }
  if (keys.length > 0) out.key = keys.length === 1 ? keys[0]! : keys.join('\n');
  return out;
}
