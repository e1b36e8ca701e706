// The gateway e2e tier's objects: two sites and a TLS backend in an injected namespace, certificates in Secrets
// next to the ingress gateway (weft-system), one Gateway with HTTP (path routing, and an https redirect), HTTPS
// SIMPLE and MUTUAL, and TLS PASSTHROUGH servers, and the VirtualServices bound to it.
import { createCa, issueLeaf, type Ca } from '../../src/pki/certs.ts';

export const GW_NS = 'e2e-gw';
export const GATEWAY_NS = 'weft-system';
export const HOSTS = { shop: 'shop.example.test', plain: 'plain.example.test', secure: 'secure.example.test', tls: 'tls.example.test' };

const b64 = (s: string) => Buffer.from(s).toString('base64');

export interface EdgePki {
  ca: Ca;
  secret(name: string, host: string, withCa?: boolean): Promise<{ yaml: string; certPem: string }>;
  client(): Promise<{ certPem: string; keyPem: string }>;
}

export async function edgePki(): Promise<EdgePki> {
  const ca = await createCa('weft e2e edge CA');
  return {
    ca,
    async secret(name, host, withCa = false) {
      const leaf = await issueLeaf(ca, { commonName: host, dnsNames: [host], server: true });
      const data: Record<string, string> = { 'tls.crt': b64(leaf.certPem), 'tls.key': b64(leaf.keyPem) };
      if (withCa) data['ca.crt'] = b64(ca.certPem);
      const yaml = `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: ${GATEWAY_NS}}\ntype: kubernetes.io/tls\ndata: ${JSON.stringify(data)}\n`;
      return { yaml, certPem: leaf.certPem };
    },
    client: () => issueLeaf(ca, { commonName: 'edge client', client: true }),
  };
}

const app = (name: string, version: string, env: Record<string, string> = {}, extra = '') => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${GW_NS}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: app
        image: weft-examples/httpbin:${version}
        env: ${JSON.stringify(Object.entries(env).map(([n, value]) => ({ name: n, value })))}
${extra}---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${GW_NS}}
spec:
  selector: {app: ${name}}
  ports: [{name: ${env.TLS_CERT_FILE ? 'tls' : 'http'}, port: ${env.TLS_CERT_FILE ? 8443 : 8000}, targetPort: 9080}]
`;

/** The backend behind PASSTHROUGH serves its own certificate, from a Secret mounted into it. */
export function backendSecret(certPem: string, keyPem: string): string {
  return `apiVersion: v1\nkind: Secret\nmetadata: {name: tls-backend-cert, namespace: ${GW_NS}}\ntype: kubernetes.io/tls\ndata: {tls.crt: ${b64(certPem)}, tls.key: ${b64(keyPem)}}\n`;
}

export function gatewayWorkloads(): string {
  return [
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${GW_NS}, labels: {weft-injection: enabled}}\n`,
    app('site-a', 'a'),
    app('site-b', 'b'),
    app('tls-backend', 'tls', { TLS_CERT_FILE: '/etc/backend-tls/tls.crt', TLS_KEY_FILE: '/etc/backend-tls/tls.key' },
      `        volumeMounts: [{name: cert, mountPath: /etc/backend-tls}]
      volumes: [{name: cert, secret: {secretName: tls-backend-cert}}]
`),
    `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: ${GW_NS}}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http-redirect, protocol: HTTP}
    hosts: [${HOSTS.shop}]
    tls: {httpsRedirect: true}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [${HOSTS.plain}]
  - port: {number: 443, name: https-shop, protocol: HTTPS}
    hosts: [${HOSTS.shop}]
    tls: {mode: SIMPLE, credentialName: shop-cert}
  - port: {number: 443, name: https-secure, protocol: HTTPS}
    hosts: [${HOSTS.secure}]
    tls: {mode: MUTUAL, credentialName: secure-cert}
  - port: {number: 443, name: tls-passthrough, protocol: TLS}
    hosts: [${HOSTS.tls}]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sites, namespace: ${GW_NS}}
spec:
  hosts: [${HOSTS.shop}, ${HOSTS.plain}, ${HOSTS.secure}]
  gateways: [edge]
  http:
  - match: [{uri: {prefix: /b}}]
    route: [{destination: {host: site-b, port: {number: 8000}}}]
  - route: [{destination: {host: site-a, port: {number: 8000}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: passthrough, namespace: ${GW_NS}}
spec:
  hosts: [${HOSTS.tls}]
  gateways: [edge]
  tls:
  - match: [{port: 443, sniHosts: [${HOSTS.tls}]}]
    route: [{destination: {host: tls-backend, port: {number: 8443}}}]
`,
  ].join('---\n');
}
