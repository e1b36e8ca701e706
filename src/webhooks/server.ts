// The webhook HTTPS server: AdmissionReview POSTs on /validate (mesh resources) and /inject (pods, when injection
// is configured) in, AdmissionReview responses out; /healthz for probes. TLS comes from PEM strings or files; a rotated certificate is swapped in with setSecureContext, so
// rotation never needs a restart (mounted Secret files are polled, since the kubelet swaps them via a symlink).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestOf, review } from './admission.ts';
import type { AdmissionReview } from './admission.ts';
import { generateWebhookCerts } from './certs.ts';
import type { ValidateOptions } from '../validate/index.ts';
import type { Labels } from '../model/types.ts';
import { injectReview } from './inject-admission.ts';
import type { InjectOptions } from './inject-options.ts';

export interface TlsSource {
  certPem?: string;
  keyPem?: string;
  /** Alternatively, paths to PEM files (e.g. a mounted Secret); re-read every `reloadMs`. */
  certFile?: string;
  keyFile?: string;
  /** The CA that signed the serving certificate, reported back as `caPem` (for the caBundle). */
  caPem?: string;
  caFile?: string;
}

export interface WebhookServerOptions {
  port?: number;
  host?: string;
  /** Omitted: a self-signed CA and serving certificate are generated for this process. */
  tls?: TlsSource;
  validate?: ValidateOptions;
  /** Serve /inject. The labels come from the caller (the API server does not send them with the pod). */
  inject?: InjectHandlerOptions;
  /** How often certificate files are checked for a new version; default 10 s. */
  reloadMs?: number;
  log?: (line: string) => void;
}

export interface InjectHandlerOptions {
  options?: InjectOptions;
  /** The namespace's labels; undefined when it does not exist. A rejection answers 500 (failurePolicy applies). */
  namespaceLabels(namespace: string): Promise<Labels | undefined>;
}

export interface WebhookServer {
  port: number;
  /** PEM of the CA that clients must trust (empty when TLS came without one). */
  caPem: string;
  server: Server;
  /** Serve a new certificate from now on; idle connections are closed, busy ones finish on the old one. */
  setTls(tls: { certPem: string; keyPem: string; caPem?: string }): void;
  stop(): Promise<void>;
}

/** AdmissionReview bodies are bounded by the API server's request size limit (3 MiB) plus envelope. */
const MAX_BODY = 6 * 1024 * 1024;

export async function startWebhookServer(opts: WebhookServerOptions = {}): Promise<WebhookServer> {
  const log = opts.log ?? (() => {});
  let material = await initialTls(opts.tls);
  const server = createServer({ cert: material.certPem, key: material.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res, opts, log).catch((e: Error) => {
      log(`webhook: ${e.message}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 9443, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });

  const handle_ = {
    port: (server.address() as AddressInfo).port,
    caPem: material.caPem,
    server,
    setTls(tls: { certPem: string; keyPem: string; caPem?: string }) {
      server.setSecureContext({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' });
      // Kept-alive connections would go on presenting the old certificate; idle ones reconnect with the new one.
      server.closeIdleConnections();
      material = { certPem: tls.certPem, keyPem: tls.keyPem, caPem: tls.caPem ?? material.caPem };
      handle_.caPem = material.caPem;
    },
    async stop() {
      clearInterval(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };

  // Only certificate files are polled; PEM strings change through setTls.
  const files = opts.tls?.certFile && opts.tls.keyFile ? opts.tls : undefined;
  const timer = files && setInterval(() => {
    try {
      const next = readTlsFiles(files);
      if (next.certPem === material.certPem && next.keyPem === material.keyPem) return;
      handle_.setTls(next);
      log('webhook: serving a renewed certificate');
    } catch (e) {
      // Mid-swap reads can see a half-written pair; keep the current certificate and try again next tick.
      log(`webhook: certificate reload failed, keeping the current one: ${(e as Error).message}`);
    }
  }, opts.reloadMs ?? 10_000);
  timer?.unref();
  log(`webhook: listening on https://${opts.host ?? '0.0.0.0'}:${handle_.port}`);
  return handle_;
}

async function initialTls(tls: TlsSource | undefined): Promise<{ certPem: string; keyPem: string; caPem: string }> {
  if (!tls) {
    const generated = await generateWebhookCerts();
    return { certPem: generated.certPem, keyPem: generated.keyPem, caPem: generated.caPem };
  }
  if (tls.certFile && tls.keyFile) return readTlsFiles(tls);
  if (!tls.certPem || !tls.keyPem) throw new Error('webhook TLS needs certPem and keyPem, or certFile and keyFile');
  return { certPem: tls.certPem, keyPem: tls.keyPem, caPem: tls.caPem ?? '' };
}

function readTlsFiles(tls: TlsSource): { certPem: string; keyPem: string; caPem: string } {
  const certPem = readFileSync(tls.certFile!, 'utf8');
  const keyPem = readFileSync(tls.keyFile!, 'utf8');
  const caPem = tls.caFile ? readFileSync(tls.caFile, 'utf8') : (tls.caPem ?? '');
  return { certPem, keyPem, caPem };
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: WebhookServerOptions, log: (l: string) => void): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz' || path === '/readyz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  if (path !== '/validate' && !(path === '/inject' && opts.inject)) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('POST an AdmissionReview\n');
    return;
  }
  const body = await readBody(req);
  if (body === undefined) {
    res.writeHead(413, { 'content-type': 'text/plain' }).end('request too large\n');
    return;
  }
  if (path === '/inject') {
    await handleInject(body, res, opts.inject!, log);
    return;
  }
  let out;
  let parsed: AdmissionReview;
  try {
    parsed = JSON.parse(body) as AdmissionReview;
    out = review(parsed, opts.validate ?? {});
  } catch (e) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
    return;
  }
  const r = out.response!;
  if (!r.allowed) {
    // Identifiers only: messages can quote values from the resource, which do not belong in logs.
    const q = parsed.request!;
    const errors = r.status?.message.split('\n').length ?? 0;
    log(`webhook: denied ${q.operation ?? ''} ${q.kind?.kind ?? ''} ${q.namespace ?? ''}/${q.name ?? ''} (${errors} error(s))`);
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
}

async function handleInject(body: string, res: ServerResponse, inject: InjectHandlerOptions, log: (l: string) => void): Promise<void> {
  let req;
  try {
    req = requestOf(JSON.parse(body));
  } catch (e) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
    return;
  }
  const labels = req.namespace ? await inject.namespaceLabels(req.namespace) : undefined;
  const out = injectReview(req, labels, inject.options ?? {});
  if (out.response.patch) log(`webhook: injected the sidecar into a pod in ${req.namespace ?? ''} (${req.name || 'generated name'})`);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c); // past the limit, drain without keeping
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
