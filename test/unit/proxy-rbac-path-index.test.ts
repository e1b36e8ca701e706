import { expect } from 'chai';
import type { AuthzAttributes } from '../../src/proxy/authz/attributes.ts';
import { compileRbac } from '../../src/proxy/authz/rbac-engine.ts';
import { makeHttpRequest } from '../../src/proxy/routing/request.ts';

type O = Record<string, unknown>;

// A deterministic pseudo-random sequence (no Math.random: the cases are the same on every run).
function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}

const PATHS = ['/', '/a', '/a/', '/a/b', '/a/b/c', '/ab', '/b', '/b/a', '', '/A', '/a/b/'];

function pathRule(r: () => number): O {
  const v = PATHS[Math.floor(r() * PATHS.length)]!;
  const k = r();
  if (k < 0.4) return { urlPath: { path: { exact: v } } };
  if (k < 0.8) return { urlPath: { path: { prefix: v } } };
  if (k < 0.85) return { urlPath: { path: { prefix: v, ignoreCase: true } } };
  if (k < 0.9) return { urlPath: { path: { suffix: v } } };
  return { notRule: { urlPath: { path: { exact: v } } } };
}

function permission(r: () => number, depth = 0): O {
  const k = r();
  if (depth < 2 && k < 0.35) return { orRules: { rules: Array.from({ length: 1 + Math.floor(r() * 3) }, () => permission(r, depth + 1)) } };
  if (depth < 2 && k < 0.7) return { andRules: { rules: Array.from({ length: 1 + Math.floor(r() * 3) }, () => permission(r, depth + 1)) } };
  if (k < 0.75) return { header: { name: ':method', stringMatch: { exact: r() < 0.5 ? 'GET' : 'POST' } } };
  if (k < 0.78) return { any: true };
  if (k < 0.8) return { destinationPort: r() < 0.5 ? 80 : 8080 };
  return pathRule(r);
}

describe('proxy/authz: RBAC engine with many path-conditioned policies', () => {
  it('picks the same first policy as trying every policy in name order, for any path, method and no request', () => {
    const r = rng(7);
    for (let round = 0; round < 30; round++) {
      const policies: Record<string, O> = {};
      const n = 10 + Math.floor(r() * 30);
      for (let i = 0; i < n; i++) {
        const perms = Array.from({ length: Math.floor(r() * 3) }, () => permission(r));
        policies[`ns[x]-policy[p${String(i).padStart(2, '0')}]-rule[${i % 3}]`] = { permissions: perms, principals: [{ any: true }] };
      }
      const engine = compileRbac({ action: 'ALLOW', policies });
      const singles = engine.policies.map((name) => [name, compileRbac({ action: 'ALLOW', policies: { [name]: policies[name] } })] as const);
      const cases: AuthzAttributes[] = [{ destinationPort: 80 }];
      for (const path of [...PATHS, '/a/b/c/d', '/a?x=1', '/zz']) {
        for (const method of ['GET', 'POST']) {
          for (const port of [80, 8080]) cases.push({ request: makeHttpRequest({ method, path: path || '/' }), destinationPort: port });
        }
      }
      for (const a of cases) {
        const expected = singles.find(([, e]) => e.evaluate(a).allowed)?.[0];
        expect(engine.evaluate(a).policy, `round ${round} ${a.request?.method} ${a.request?.path}`).to.equal(expected);
      }
    }
  });

  it('a request on one policy\'s path is allowed by that policy when every other policy asks for other paths', () => {
    const policies: Record<string, O> = {};
    for (let i = 0; i < 50; i++) {
      policies[`p${String(i).padStart(2, '0')}`] = {
        permissions: [{ andRules: { rules: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }, { orRules: { rules: [{ urlPath: { path: { exact: `/api/${i}` } } }, { urlPath: { path: { prefix: `/api/${i}/` } } }] } }] } }],
        principals: [{ any: true }],
      };
    }
    const engine = compileRbac({ action: 'ALLOW', policies });
    expect(engine.evaluate({ request: makeHttpRequest({ method: 'GET', path: '/api/49/x?y' }), destinationPort: 80 })).to.deep.equal({ allowed: true, policy: 'p49' });
    expect(engine.evaluate({ request: makeHttpRequest({ method: 'GET', path: '/api/4' }), destinationPort: 80 })).to.deep.equal({ allowed: true, policy: 'p04' });
    expect(engine.evaluate({ request: makeHttpRequest({ method: 'POST', path: '/api/4' }), destinationPort: 80 }).allowed).to.equal(false);
    expect(engine.evaluate({ request: makeHttpRequest({ method: 'GET', path: '/api/' }), destinationPort: 80 }).allowed).to.equal(false);
    expect(engine.evaluate({ destinationPort: 80 }).allowed).to.equal(false);
  });
});
