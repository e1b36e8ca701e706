// The objects of Istio's security tasks (istio.io docs/tasks/security/authorization/authz-{http,tcp,deny,ingress,
// jwt,dry-run,custom} and authentication/authn-policy "end-user authentication"), as those pages apply them. The
// policy YAML is the pages' own, unchanged except where a comment at the object says why. The workloads are the
// pages' samples run by weft's example apps (examples/apps): curl (the pages' sleep/curl), httpbin, tcp-echo and
// ext-authz in namespace foo; bookinfo in namespace default (authz-http).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';

export const FOO = 'foo';
/** The ingress gateway's namespace: weft's gateways live in weft-system (Istio's in istio-system). */
export const GATEWAY_NS = 'weft-system';
/** Host names of the two ingress routes. The pages use `hosts: ["*"]`; a name of their own lets the suite share
 * the gateway with the other e2e suites. */
export const HOSTS = { bookinfo: 'bookinfo.security.test', httpbin: 'httpbin.security.test' };

const root = resolve(import.meta.dirname, '../..');

/** Namespace foo with injection on and the pages' workloads (Istio's samples as weft's example apps). */
export function fooWorkloads(): string {
  return `
apiVersion: v1
kind: Namespace
metadata: {name: ${FOO}, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: curl, namespace: ${FOO}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: curl, namespace: ${FOO}}
spec:
  selector: {matchLabels: {app: curl}}
  template:
    metadata: {labels: {app: curl}}
    spec:
      serviceAccountName: curl
      terminationGracePeriodSeconds: 2
      containers: [{name: curl, image: 'weft-examples/curl:v1'}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: httpbin, namespace: ${FOO}}
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: ${FOO}, labels: {app: httpbin, service: httpbin}}
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000, targetPort: 9080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: ${FOO}}
spec:
  selector: {matchLabels: {app: httpbin, version: v1}}
  template:
    metadata: {labels: {app: httpbin, version: v1}}
    spec:
      serviceAccountName: httpbin
      terminationGracePeriodSeconds: 2
      containers: [{name: httpbin, image: 'weft-examples/httpbin:v1', ports: [{containerPort: 9080}]}]
---
# samples/tcp-echo: the Service declares 9000 and 9001 only; 9002 is reached by pod IP (a passthrough chain).
apiVersion: v1
kind: Service
metadata: {name: tcp-echo, namespace: ${FOO}, labels: {app: tcp-echo, service: tcp-echo}}
spec:
  selector: {app: tcp-echo}
  ports: [{name: tcp, port: 9000}, {name: tcp-other, port: 9001}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: tcp-echo, namespace: ${FOO}}
spec:
  selector: {matchLabels: {app: tcp-echo, version: v1}}
  template:
    metadata: {labels: {app: tcp-echo, version: v1}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: tcp-echo
        image: 'weft-examples/tcp-echo:v1'
        args: ['9000', '9001', '9002']
        ports: [{containerPort: 9000}, {containerPort: 9001}, {containerPort: 9002}]
---
# samples/extauthz/ext-authz.yaml with weft's example app for docker.io/istio/ext-authz.
apiVersion: v1
kind: Service
metadata: {name: ext-authz, namespace: ${FOO}, labels: {app: ext-authz}}
spec:
  ports: [{name: http, port: 8000, targetPort: 8000}, {name: grpc, port: 9000, targetPort: 9000}]
  selector: {app: ext-authz}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ext-authz, namespace: ${FOO}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ext-authz}}
  template:
    metadata: {labels: {app: ext-authz}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: ext-authz
        image: 'weft-examples/ext-authz:v1'
        ports: [{containerPort: 8000}, {containerPort: 9000}]
`;
}

/** samples/httpbin/httpbin-gateway.yaml (authz-ingress, authn-policy), with a host of its own instead of "*". */
export function httpbinGateway(): string {
  return `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: httpbin-gateway, namespace: ${FOO}}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [${HOSTS.httpbin}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: ${FOO}}
spec:
  hosts: [${HOSTS.httpbin}]
  gateways: [httpbin-gateway]
  http:
  - route:
    - destination: {port: {number: 8000}, host: httpbin.foo.svc.cluster.local}
`;
}

/**
 * Bookinfo in namespace default (authz-http): weft's examples/bookinfo Services and Deployments moved from
 * namespace bookinfo to default, reviews v2 only (the version that calls ratings, so every step of the page shows),
 * and the bookinfo Gateway and VirtualService with a host of their own instead of "*".
 */
export function bookinfoDefault(): string {
  const docs = ['10-services.yaml', '15-deployments.yaml'].flatMap((f) =>
    parseAllDocuments(readFileSync(join(root, 'examples/bookinfo', f), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } } | null));
  const kept = docs.filter((d): d is NonNullable<typeof d> => d !== null && !(d.kind === 'Deployment' && /^reviews-v[13]$/.test(d.metadata.name)));
  for (const d of kept) d.metadata.namespace = 'default';
  return [
    ...kept.map((d) => stringify(d)),
    `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [${HOSTS.bookinfo}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: default}
spec:
  hosts: [${HOSTS.bookinfo}]
  gateways: [bookinfo-gateway]
  http:
  - match: [{uri: {exact: /productpage}}, {uri: {prefix: /api/v1/products}}]
    route: [{destination: {host: productpage, port: {number: 9080}}}]
`,
  ].join('---\n');
}

// ---- authz-http (namespace default), the page's policies unchanged ----
export const AUTHZ_HTTP = {
  allowNothing: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: default
spec:
  {}
`,
  productpageViewer: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: "productpage-viewer"
  namespace: default
spec:
  selector:
    matchLabels:
      app: productpage
  action: ALLOW
  rules:
  - to:
    - operation:
        methods: ["GET"]
`,
  detailsViewer: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: "details-viewer"
  namespace: default
spec:
  selector:
    matchLabels:
      app: details
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]
    to:
    - operation:
        methods: ["GET"]
`,
  reviewsViewer: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: "reviews-viewer"
  namespace: default
spec:
  selector:
    matchLabels:
      app: reviews
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]
    to:
    - operation:
        methods: ["GET"]
`,
  ratingsViewer: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: "ratings-viewer"
  namespace: default
spec:
  selector:
    matchLabels:
      app: ratings
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/bookinfo-reviews"]
    to:
    - operation:
        methods: ["GET"]
`,
};

// ---- authz-tcp ----
const tcpPolicy = (action: 'ALLOW' | 'DENY', operation: string) => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: tcp-policy
  namespace: foo
spec:
  selector:
    matchLabels:
      app: tcp-echo
  action: ${action}
  rules:
  - to:
    - operation:
${operation}
`;
export const AUTHZ_TCP = {
  allowPorts: tcpPolicy('ALLOW', `        ports: ["9000", "9001"]`),
  allowGetOn9000: tcpPolicy('ALLOW', `        methods: ["GET"]\n        ports: ["9000"]`),
  denyGet: tcpPolicy('DENY', `        methods: ["GET"]`),
  denyGetOn9000: tcpPolicy('DENY', `        methods: ["GET"]\n        ports: ["9000"]`),
};

// ---- authz-deny ----
export const AUTHZ_DENY = {
  denyGet: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-method-get
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        methods: ["GET"]
`,
  denyGetUnlessAdmin: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-method-get
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        methods: ["GET"]
    when:
    - key: request.headers[x-token]
      notValues: ["admin"]
`,
  allowPathIp: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-path-ip
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: ALLOW
  rules:
  - to:
    - operation:
        paths: ["/ip"]
`,
};

// ---- authz-ingress: the page's istio-system policies in weft-system, selecting weft's gateway by its app label
// (weft-ingressgateway; Istio's is istio-ingressgateway). CLIENT_IP is what the gateway sees as the peer. ----
export function ingressPolicy(action: 'ALLOW' | 'DENY', field: 'ipBlocks' | 'remoteIpBlocks', blocks: string[]): string {
  return `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ingress-policy
  namespace: ${GATEWAY_NS}
spec:
  selector:
    matchLabels:
      app: weft-ingressgateway
  action: ${action}
  rules:
  - from:
    - source:
        ${field}: ${JSON.stringify(blocks)}
`;
}

// ---- authz-jwt: the page's jwksUri (on GitHub, unreachable here) replaced by the same document inline (`jwks:`),
// holding a key generated per run; the tokens carry the page's claims, signed with that key. ----
export function jwtExample(jwks: string, o: { namespace?: string; selector?: string; jwksUri?: string } = {}): string {
  const keys = o.jwksUri ? `jwksUri: "${o.jwksUri}"` : `jwks: '${jwks}'`;
  return `
apiVersion: "security.istio.io/v1beta1"
kind: "RequestAuthentication"
metadata:
  name: "jwt-example"
  namespace: ${o.namespace ?? FOO}
spec:
  selector:
    matchLabels:
      ${o.selector ?? 'app: httpbin'}
  jwtRules:
  - issuer: "testing@secure.istio.io"
    ${keys}
`;
}

export const AUTHZ_JWT = {
  requireJwt: `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: require-jwt
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: ALLOW
  rules:
  - from:
    - source:
       requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"]
`,
  requireGroup1: `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: require-jwt
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: ALLOW
  rules:
  - from:
    - source:
       requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"]
    when:
    - key: request.auth.claims[groups]
      values: ["group1"]
`,
};

/** The claims of the page's demo.jwt and groups-scope.jwt. */
export const DEMO_CLAIMS = { exp: 4685989700, foo: 'bar', iat: 1532389700, iss: 'testing@secure.istio.io', sub: 'testing@secure.istio.io' };
export const GROUPS_CLAIMS = { exp: 3537391104, groups: ['group1', 'group2'], iat: 1537391104, iss: 'testing@secure.istio.io', scope: ['scope1', 'scope2'], sub: 'testing@secure.istio.io' };

// ---- authn-policy "end-user authentication" at the ingress gateway (istio-system → weft-system) ----
export const FRONTEND_INGRESS = {
  requireToken: `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: "frontend-ingress"
  namespace: ${GATEWAY_NS}
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  action: DENY
  rules:
  - from:
    - source:
        notRequestPrincipals: ["*"]
`,
  requireTokenOnHeaders: `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: "frontend-ingress"
  namespace: ${GATEWAY_NS}
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  action: DENY
  rules:
  - from:
    - source:
        notRequestPrincipals: ["*"]
    to:
    - operation:
        paths: ["/headers"]
`,
};

// ---- authz-dry-run (applied with -n foo, as the page does) ----
export const DRY_RUN = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-path-headers
  annotations:
    "istio.io/dry-run": "true"
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/headers"]
`;

// ---- authz-custom: the page's extensionProviders in weft's mesh config (ConfigMap weft-system/weft, key mesh;
// Istio's is istio-system/istio), and its policy (applied with -n foo) ----
export const MESH_WITH_EXT_AUTHZ = `
extensionProviders:
- name: "sample-ext-authz-grpc"
  envoyExtAuthzGrpc:
    service: "ext-authz.foo.svc.cluster.local"
    port: "9000"
- name: "sample-ext-authz-http"
  envoyExtAuthzHttp:
    service: "ext-authz.foo.svc.cluster.local"
    port: "8000"
    includeRequestHeadersInCheck: ["x-ext-authz"]
`;

export function extAuthzPolicy(provider: 'sample-ext-authz-grpc' | 'sample-ext-authz-http'): string {
  return `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz
spec:
  selector:
    matchLabels:
      app: httpbin
  action: CUSTOM
  provider:
    # The provider name must match the extension provider defined in the mesh config.
    name: ${provider}
  rules:
  # The rules specify when to trigger the external authorizer.
  - to:
    - operation:
        paths: ["/headers"]
`;
}

/** Not from a task page: a DENY on one path, for weft's path normalization (DECODE_AND_MERGE_SLASHES by default). */
export const DENY_HEADERS_PATH = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-headers
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/headers"]
`;

/** authentication/claim-to-header: jwt-example with outputClaimToHeaders (jwksUri → the same keys inline, as above). */
export function jwtClaimToHeader(jwks: string): string {
  return `
apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata:
  name: "jwt-example"
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwks: '${jwks}'
    outputClaimToHeaders:
    - header: "x-jwt-claim-foo"
      claim: "foo"
`;
}

/** authentication/jwt-route: routing at the ingress gateway by a JWT claim (hosts "*" → the suite's own host). */
export const JWT_ROUTE = `
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: httpbin
  namespace: foo
spec:
  hosts:
  - "${HOSTS.httpbin}"
  gateways:
  - httpbin-gateway
  http:
  - match:
    - uri:
        prefix: /headers
      headers:
        "@request.auth.claims.groups":
          exact: group1
    route:
    - destination:
        port:
          number: 8000
        host: httpbin
`;

/** Not from a task page: Istio's AUDIT example (concepts/security "audit"), on httpbin's /headers. */
export const AUDIT_HEADERS = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: audit-headers
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: AUDIT
  rules:
  - to:
    - operation:
        paths: ["/headers"]
`;

/** Not from the page: CUSTOM on TCP (gRPC providers only, as in Istio) — tcp-echo's port 9000 checked by ext-authz,
 * which allows only the service account `a` without request headers to look at. */
export const EXT_AUTHZ_TCP = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz-tcp
  namespace: foo
spec:
  selector:
    matchLabels:
      app: tcp-echo
  action: CUSTOM
  provider:
    name: sample-ext-authz-grpc
  rules:
  - to:
    - operation:
        ports: ["9000"]
`;
