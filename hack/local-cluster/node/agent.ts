// The node agent: runs inside the node network namespace (`ip netns exec weft-<id>-node node agent.ts`) so that
// the local node, in the root namespace, can reach pod addresses: probes, tests and benchmarks send it requests.
// Protocol: JSON lines on stdin/stdout. It first prints {"ready":true}; each request {id, op, ...} is answered
// {id, ok: true, ...} or {id, ok: false, error}, requests running concurrently. It exits when stdin closes, so it
// never outlives its parent. Ops: http, tcp, load, until, tunnel (see agent-client.ts for their shapes).
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { closeTogether } from './splice.ts';

interface HttpReq {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

interface HttpRes {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

/** One HTTP request on its own connection (agent: false), bounded as a whole by timeoutMs. */
function http(r: HttpReq): Promise<HttpRes> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(r.url, { method: r.method ?? 'GET', headers: r.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${r.timeoutMs} ms`)), r.timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(r.body);
  });
}

function tcp(r: { host: string; port: number; timeoutMs: number }): Promise<{ connected: boolean; error?: string }> {
  return new Promise((resolve) => {
    const s = connect({ host: r.host, port: r.port });
    const done = (v: { connected: boolean; error?: string }) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done({ connected: false, error: `timed out after ${r.timeoutMs} ms` }), r.timeoutMs);
    s.once('connect', () => done({ connected: true }));
    s.once('error', (e) => done({ connected: false, error: e.message }));
  });
}

/** n requests, at most `concurrency` at a time; a failed request is status 0 with the error as its body. */
async function load(r: HttpReq & { n: number; concurrency: number }): Promise<{ results: Array<{ status: number; body: string }> }> {
  const results: Array<{ status: number; body: string }> = new Array(r.n);
  let next = 0;
  const worker = async () => {
    while (next < r.n) {
      const i = next++;
      results[i] = await http(r).then((res) => ({ status: res.status, body: res.body }), (e: Error) => ({ status: 0, body: e.message }));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(r.concurrency, r.n)) }, worker));
  return { results };
}

/** Polls until a response body matches `match`; answers when it first did. */
async function until(r: HttpReq & { match: string; intervalMs?: number }): Promise<{ matchedAt: number; tries: number }> {
  const re = new RegExp(r.match);
  const deadline = Date.now() + r.timeoutMs;
  let tries = 0;
  let last = '';
  while (Date.now() < deadline) {
    tries++;
    const left = Math.max(1, deadline - Date.now());
    try {
      const res = await http({ ...r, timeoutMs: Math.min(left, 1000) });
      if (re.test(res.body)) return { matchedAt: Date.now(), tries };
      last = `${res.status} ${res.body.slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((res) => setTimeout(res, r.intervalMs ?? 10));
  }
  throw new Error(`no response from ${r.url} matched /${r.match}/ within ${r.timeoutMs} ms (${tries} tries; last: ${last})`);
}

/**
 * A Unix socket (a file, so the root namespace can connect to it) whose connections are forwarded into this
 * namespace: each starts with one line `host:port\n` naming the destination; the rest is piped both ways.
 */
function tunnel(r: { path: string }): Promise<{ path: string }> {
  rmSync(r.path, { force: true });
  const server = createServer((client: Socket) => {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > 300) client.destroy();
        return;
      }
      client.off('data', onData);
      client.pause();
      const [host, port] = head.subarray(0, nl).toString().split(/:(?=\d+$)/);
      const upstream = connect({ host: host!, port: Number(port) }, () => {
        upstream.write(head.subarray(nl + 1));
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      closeTogether(client, upstream);
    };
    client.on('data', onData);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(r.path, () => resolve({ path: r.path }));
  });
}

const ops: Record<string, (r: never) => Promise<object>> = { http, tcp, load, until, tunnel };

function reply(v: object): void {
  process.stdout.write(`${JSON.stringify(v)}\n`);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  let req: { id?: unknown; op?: string };
  try {
    req = JSON.parse(line) as typeof req;
  } catch {
    reply({ id: null, ok: false, error: `not JSON: ${line.slice(0, 200)}` });
    return;
  }
  const op = ops[req.op ?? ''];
  if (!op) {
    reply({ id: req.id, ok: false, error: `unknown op ${String(req.op)}` });
    return;
  }
  op(req as never).then(
    (res) => reply({ ...res, id: req.id, ok: true }),
    (e: unknown) => reply({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
lines.on('close', () => process.exit(0));
reply({ ready: true });
