import { expect } from 'chai';
import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admit, review } from '../../src/webhooks/admission.ts';
import type { AdmissionRequest } from '../../src/webhooks/admission.ts';
import { generateWebhookCerts, needsRenewal, renewServingCert, webhookDnsNames } from '../../src/webhooks/certs.ts';
import { startWebhookServer } from '../../src/webhooks/server.ts';
import type { WebhookServer } from '../../src/webhooks/server.ts';

function vs(name: string, route: unknown[], extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: 'shop' },
    spec: { hosts: ['reviews'], http: [{ route }], ...extra },
  };
}

const split = (a: number, b: number) => [
  { destination: { host: 'reviews', subset: 'v1' }, weight: a },
  { destination: { host: 'reviews', subset: 'v2' }, weight: b },
];

function req(object: unknown, operation: AdmissionRequest['operation'] = 'CREATE', oldObject?: unknown): AdmissionRequest {
  return {
    uid: 'u-1',
    kind: { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' },
    operation,
    namespace: 'shop',
    object: object as AdmissionRequest['object'],
    oldObject: oldObject as AdmissionRequest['oldObject'],
  };
}

describe('webhooks/admission', () => {
  it('allows a valid resource and echoes the uid', () => {
    expect(admit(req(vs('ok', split(50, 50))))).to.deep.equal({ uid: 'u-1', allowed: true });
  });

  it('denies with one `<field>: <message>` line per error', () => {
    const r = admit(req(vs('bad', split(0, 0), { hosts: ['reviews', 'bad_host'] })));
    expect(r.allowed).to.equal(false);
    expect(r.status?.code).to.equal(400);
    const lines = r.status!.message.split('\n');
    expect(lines.length).to.be.greaterThan(1);
    for (const l of lines) expect(l).to.match(/^(spec|metadata)[\w.[\]-]*: \S/);
    expect(r.status!.message).to.include('spec.http[0].route');
  });

  it('returns warnings on allowed resources', () => {
    const obj = vs('warn', [{ destination: { host: 'reviews' } }]);
    obj.spec.http.push({ route: [{ destination: { host: 'ratings' } }] });
    const r = admit(req(obj));
    expect(r.allowed).to.equal(true);
    expect(r.warnings?.length).to.be.greaterThan(0);
    expect(r.warnings![0]).to.match(/^spec\.http\[1\]/);
  });

  it('always allows DELETE, and updates that leave the spec alone', () => {
    const bad = vs('bad', split(0, 0));
    expect(admit(req(null, 'DELETE', bad)).allowed).to.equal(true);
    const relabelled = { ...bad, metadata: { ...bad.metadata, labels: { team: 'a' } } };
    expect(admit(req(relabelled, 'UPDATE', bad)).allowed).to.equal(true);
    expect(admit(req(vs('bad', split(0, 0), { hosts: ['ratings'] }), 'UPDATE', bad)).allowed).to.equal(false);
  });

  it('names the kind for kinds it does not know, and checks metadata.name', () => {
    const r = admit(req({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'x' }, spec: {} }));
    expect(r.allowed).to.equal(false);
    expect(r.status!.message).to.match(/^kind: unknown kind "Sidecar"/);
    const n = admit(req(vs('Bad_Name', split(50, 50))));
    expect(n.status!.message).to.match(/^metadata\.name: Invalid value: "Bad_Name"/);
  });

  it('wraps responses in an AdmissionReview and refuses malformed reviews', () => {
    const out = review({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req(vs('ok', split(50, 50))) });
    expect(out).to.deep.equal({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-1', allowed: true } });
    expect(() => review({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: req(null) })).to.throw();
    expect(() => review({})).to.throw();
  });
});

describe('webhooks/certs', () => {
  it('issues a serving certificate for the Service names and loopback, signed by the CA', async () => {
    const c = await generateWebhookCerts();
    const leaf = new X509Certificate(c.certPem);
    const ca = new X509Certificate(c.caPem);
    expect(leaf.verify(ca.publicKey)).to.equal(true);
    expect(ca.ca).to.equal(true);
    for (const n of webhookDnsNames()) expect(leaf.subjectAltName).to.include(`DNS:${n}`);
    expect(leaf.subjectAltName).to.include('weft-webhook.weft-system.svc');
    expect(leaf.subjectAltName).to.include('IP Address:127.0.0.1');
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    expect(needsRenewal(c, webhookDnsNames())).to.equal(false);
  });

  it('renews past two thirds of the lifetime, from the same CA', async () => {
    const c = await generateWebhookCerts({ validMs: 3 * 86_400_000 });
    expect(needsRenewal(c, webhookDnsNames(), new Date(Date.now() + 2.5 * 86_400_000))).to.equal(true);
    expect(needsRenewal(c, [...webhookDnsNames(), 'other.example'])).to.equal(true);
    const r = await renewServingCert(c);
    expect(r.caPem).to.equal(c.caPem);
    expect(r.certPem).not.to.equal(c.certPem);
    expect(new X509Certificate(r.certPem).verify(new X509Certificate(c.caPem).publicKey)).to.equal(true);
  });
});

describe('webhooks/server', () => {
  let server: WebhookServer;
  before(async () => {
    server = await startWebhookServer({ port: 0, host: '127.0.0.1' });
  });
  after(() => server.stop());

  function call(method: string, path: string, body?: unknown, ca = server.caPem): Promise<{ status: number; text: string; peerCert: string }> {
    return new Promise((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port: server.port, method, path, ca, servername: 'weft-webhook.weft-system.svc', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate?.()?.fingerprint256 ?? '';
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, peerCert: peer }));
      });
      r.on('error', reject);
      r.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  it('serves /healthz and AdmissionReviews over TLS trusted via caPem', async () => {
    expect((await call('GET', '/healthz')).status).to.equal(200);
    const res = await call('POST', '/validate?timeout=10s', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: req(vs('bad', split(0, 0))) });
    expect(res.status).to.equal(200);
    const out = JSON.parse(res.text);
    expect(out.response.allowed).to.equal(false);
    expect(out.response.status.message).to.include('spec.http[0].route');
  });

  it('answers 400 to garbage and 404 elsewhere', async () => {
    expect((await call('POST', '/validate', { hello: 1 })).status).to.equal(400);
    expect((await call('GET', '/nope')).status).to.equal(404);
    expect((await call('GET', '/validate')).status).to.equal(405);
  });

  it('swaps its certificate without a restart', async () => {
    const before = (await call('GET', '/healthz')).peerCert;
    const next = await generateWebhookCerts();
    server.setTls({ certPem: next.certPem, keyPem: next.keyPem, caPem: next.caPem });
    expect(server.caPem).to.equal(next.caPem);
    const after = await call('GET', '/healthz', undefined, next.caPem);
    expect(after.status).to.equal(200);
    expect(after.peerCert).not.to.equal(before);
  });

  it('picks up rotated certificate files by itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-webhook-'));
    const first = await generateWebhookCerts();
    const files = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), caFile: join(dir, 'ca.crt') };
    const write = (c: typeof first) => {
      writeFileSync(files.caFile, c.caPem);
      writeFileSync(files.keyFile, c.keyPem);
      writeFileSync(files.certFile, c.certPem);
    };
    write(first);
    const s = await startWebhookServer({ port: 0, host: '127.0.0.1', tls: files, reloadMs: 20 });
    try {
      expect(s.caPem).to.equal(first.caPem);
      const second = await generateWebhookCerts();
      write(second);
      for (let i = 0; i < 100 && s.caPem !== second.caPem; i++) await new Promise((r) => setTimeout(r, 20));
      expect(s.caPem).to.equal(second.caPem);
    } finally {
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
