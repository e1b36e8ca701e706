// The local node's handle on its agent (agent.ts), started inside the node network namespace with the same node
// binary as this process (the pinned one under npm/mocha). Requests go out as JSON lines and are matched to
// answers by id, so many can be in flight. The agent is killed on stop() and when this process exits, and it
// exits by itself when its stdin closes.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export interface HttpRequest {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Time from sending the request to the end of the response body. */
  ms: number;
}

type Log = (line: string) => void;

const AGENT = fileURLToPath(new URL('./agent.ts', import.meta.url));
const running = new Set<ChildProcessWithoutNullStreams>();
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export class NodeAgent {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exitedWith: string | undefined;
  private readonly exited: Promise<void>;

  private constructor(child: ChildProcessWithoutNullStreams, netns: string, log: Log, ready: () => void) {
    this.child = child;
    this.exited = new Promise((resolve) => {
      const gone = (why: string) => {
        running.delete(child);
        this.exitedWith ??= why;
        for (const p of this.pending.values()) p.reject(new Error(`node agent in ${netns} ${why}`));
        this.pending.clear();
        resolve();
      };
      child.once('exit', (code, signal) => gone(`exited (${signal ?? code})`));
      child.once('error', (e) => gone(`failed: ${e.message}`));
    });
    createInterface({ input: child.stderr }).on('line', (l) => log(`node agent: ${l}`));
    createInterface({ input: child.stdout }).on('line', (l) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(l) as Record<string, unknown>;
      } catch {
        log(`node agent: ${l}`);
        return;
      }
      if (msg.ready === true) return ready();
      const p = this.pending.get(msg.id as number);
      if (!p) return;
      this.pending.delete(msg.id as number);
      if (msg.ok !== true) return p.reject(new Error(`node agent: ${String(msg.error)}`));
      // The envelope is the protocol's, not the answer's.
      delete msg.id;
      delete msg.ok;
      p.resolve(msg);
    });
  }

  /** Starts the agent inside `netns` and waits (at most 15 s) until it answers. */
  static async start(netns: string, log: Log = () => {}): Promise<NodeAgent> {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, AGENT], { stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(child);
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const agent = new NodeAgent(child, netns, log, ready);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        isReady,
        agent.exited.then(() => Promise.reject(new Error(`node agent in ${netns} ${agent.exitedWith}`))),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`node agent in ${netns} not ready after 15 s`)), 15_000))),
      ]);
    } catch (e) {
      await agent.stop();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return agent;
  }

  private call<T>(op: string, args: object): Promise<T> {
    if (this.exitedWith) return Promise.reject(new Error(`node agent ${this.exitedWith}`));
    const id = this.nextId++;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ ...args, id, op })}\n`);
    }).then((msg) => msg as T);
  }

  /** One request on a fresh connection; rejects on a connection error or timeout. */
  http(req: HttpRequest): Promise<HttpResponse> {
    return this.call('http', req);
  }

  /** Whether a TCP connection to host:port is accepted (refused and timed out are connected: false). */
  tcp(req: { host: string; port: number; timeoutMs: number }): Promise<{ connected: boolean; error?: string }> {
    return this.call('tcp', req);
  }

  /** n requests, at most `concurrency` at once; failures are status 0 with the error message as body. */
  load(req: HttpRequest & { n: number; concurrency: number }): Promise<{ results: Array<{ status: number; body: string }> }> {
    return this.call('load', req);
  }

  /** Polls (every intervalMs, default 10) until a body matches `match` (a regex source); rejects on timeout. */
  until(req: HttpRequest & { match: string; intervalMs?: number }): Promise<{ matchedAt: number; tries: number }> {
    return this.call('until', req);
  }

  /** Starts a Unix socket at `path` forwarding into the node's namespace (first line of a connection: host:port). */
  tunnel(path: string): Promise<{ path: string }> {
    return this.call('tunnel', { path });
  }

  async stop(): Promise<void> {
    if (this.exitedWith) return;
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
