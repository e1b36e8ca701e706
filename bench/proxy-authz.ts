// The authorization load of the proxy bench's `pair-authz` variant. Out: Istio objects for the server workload
// (bench-app) — 10 ALLOW AuthorizationPolicies of 20 rules each and one RequestAuthentication with one jwtRule (its
// JWKS inline, a key made per run) — and a token those policies allow, for wrk to send. They go through weft's
// translate() with the rest of the bench mesh (bench/proxy-weft.ts), never as hand-written Envoy config.
// Every rule checks the client's principal, methods, paths and a claim, so a request walks real conditions: the
// only rule that allows it is the last rule of the last policy (by name), so all 200 rules are evaluated per request.
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { request } from 'undici';

export const POLICIES = 10;
export const RULES_PER_POLICY = 20;
const ISSUER = 'bench-issuer@weft.dev';
const SUBJECT = 'bench-user';

export interface AuthzLoad {
  authorizationPolicies: unknown[];
  requestAuthentications: unknown[];
  /** `Authorization` header value carrying a token the policies allow. */
  authorization: string;
  rules: number;
}

const meta = (name: string, ns: string, i: number) => ({ name, namespace: ns, uid: `uid-authz-${name}`, creationTimestamp: `2024-01-01T00:00:${String(i).padStart(2, '0')}Z`, generation: 1 });

export async function authzLoad(ns: string, app: string, clientSa: string): Promise<AuthzLoad> {
  const kid = 'bench-key';
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });
  const token = await new SignJWT({ groups: ['bench', 'readers'], scope: 'read' })
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(ISSUER).setSubject(SUBJECT).setIssuedAt().setExpirationTime('2h').sign(privateKey);
  const principal = `cluster.local/ns/${ns}/sa/${clientSa}`;
  const authorizationPolicies = Array.from({ length: POLICIES }, (_, i) => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: meta(`bench-allow-${String(i).padStart(2, '0')}`, ns, i),
    spec: {
      selector: { matchLabels: { app } },
      action: 'ALLOW',
      rules: Array.from({ length: RULES_PER_POLICY }, (_, j) => {
        const last = i === POLICIES - 1 && j === RULES_PER_POLICY - 1;
        return {
          from: [{ source: last ? { principals: [principal], requestPrincipals: [`${ISSUER}/${SUBJECT}`] } : { principals: [principal] } }],
          to: [{ operation: { methods: ['GET', 'HEAD'], paths: last ? ['/', '/api/*'] : [`/api/v${i}/items/${j}`, `/api/v${i}/items/${j}/*`] } }],
          when: [{ key: 'request.auth.claims[groups]', values: [last ? 'bench' : `group-${i}-${j}`] }],
        };
      }),
    },
  }));
  const requestAuthentications = [{
    apiVersion: 'security.istio.io/v1',
    kind: 'RequestAuthentication',
    metadata: meta('bench-jwt', ns, 59),
    spec: { selector: { matchLabels: { app } }, jwtRules: [{ issuer: ISSUER, jwks }] },
  }];
  return { authorizationPolicies, requestAuthentications, authorization: `Bearer ${token}`, rules: POLICIES * RULES_PER_POLICY };
}

/** The statuses a request without and with the token gets: 403 and 200 when the policies are enforced. */
export async function enforcement(url: string, host: string, authorization: string): Promise<{ without_token: number | string; with_token: number | string }> {
  const status = async (headers: Record<string, string>) => {
    try {
      const res = await request(url, { headers: { host, ...headers }, signal: AbortSignal.timeout(5000) });
      await res.body.dump();
      return res.statusCode;
    } catch (err) {
      return (err as Error).message;
    }
  };
  return { without_token: await status({}), with_token: await status({ authorization }) };
}
