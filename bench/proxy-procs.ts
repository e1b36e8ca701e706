// Child processes for the proxy bench, and what /proc says about them. In: a command line; out: a handle whose
// stop() always ends the process (SIGTERM, then SIGKILL), the tail of its stderr for error messages, and
// readers for a pid's resident memory (VmRSS) and CPU time (utime + stime).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The last few KB of stderr (and stdout when not captured by the caller). */
  tail(): string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<string>;
  stop(): Promise<void>;
}

const TAIL = 4096;

export function startProc(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (b: Buffer) => { tail = (tail + b.toString()).slice(-TAIL); };
  child.stderr!.on('data', keep);
  let done = false;
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => { done = true; resolve(signal ?? `exit ${code}`); });
    child.on('error', (err) => { done = true; keep(Buffer.from(String(err))); resolve(`error ${err.message}`); });
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const stop = async () => {
    if (done) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  };
  return { name, child, pid: child.pid, tail: () => tail, exited, stop };
}

/** The first line the process writes on stdout, parsed as JSON (the app prints its port this way). */
export async function firstJsonLine(p: Proc, timeoutMs: number): Promise<Record<string, unknown>> {
  let buf = '';
  return await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${p.name}: no output within ${timeoutMs} ms: ${p.tail()}`)), timeoutMs);
    p.child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(t);
      try { resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>); } catch (err) { reject(err as Error); }
    });
    void p.exited.then((how) => { clearTimeout(t); reject(new Error(`${p.name} ended (${how}): ${p.tail()}`)); });
  });
}

/** Polls `url` until it answers 200; fails early when the process ends. */
export async function waitReady(p: Proc, url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  let ended: string | undefined;
  void p.exited.then((how) => { ended = how; });
  let last = '';
  while (Date.now() < end) {
    if (ended !== undefined) throw new Error(`${p.name} ended (${ended}) before ready: ${whyLines(p.tail())}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${p.name} not ready at ${url} within ${timeoutMs} ms (${last}): ${whyLines(p.tail())}`);
}

/** From a log tail, the lines that say what went wrong: JSON lines at level error or warn, else the last three. */
export function whyLines(tail: string): string {
  const lines = tail.split('\n').map((l) => l.trim()).filter(Boolean);
  const bad = lines.filter((l) => /"level":"(error|warn|fatal)"/.test(l));
  return (bad.length > 0 ? bad.slice(-3) : lines.slice(-3)).join(' | ');
}

/** A TCP port free on `host` right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(0, host, resolve); });
  const addr = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  if (typeof addr !== 'object' || addr === null) throw new Error('no port');
  return addr.port;
}

/** Resident memory of a process in MB (VmRSS of /proc/<pid>/status). */
export const rssMb = (pid: number): number => statusMb(pid, 'VmRSS');

/**
 * The private part of that memory in MB (RssAnon: heap, stacks, malloc); the rest (RssFile) is mostly the node
 * binary's pages, shared by every process running the same binary and reclaimable by the kernel.
 */
export const rssAnonMb = (pid: number): number => statusMb(pid, 'RssAnon');

/** A `<field>: N kB` line of /proc/<pid>/status, in MB. */
function statusMb(pid: number, field: 'VmRSS' | 'RssAnon'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]) / 1024;
}

let clockTicks: number | undefined;

/** CPU seconds the process used so far (user + system, fields 14 and 15 of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  return cpuTicksOf(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicks;
}

/** utime + stime from a /proc/<pid>/stat line; the command name in parentheses may hold spaces. */
export function cpuTicksOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state (field 3), so utime (field 14) is fields[11] and stime (15) fields[12].
  return Number(fields[11]) + Number(fields[12]);
}
