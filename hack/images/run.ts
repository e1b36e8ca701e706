// Runs one build command with its output kept for the error message (and streamed line by line to the log), and
// buildah with weft's own storage under ~/.cache/weft/images, never the host's /var/lib/containers.
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CACHE = join(process.env.WEFT_CACHE || join(homedir(), '.cache/weft'), 'images');
// overlay keeps a layer's files once; vfs (WEFT_BUILDAH_DRIVER=vfs) copies the whole tree per layer but works anywhere.
const DRIVER = process.env.WEFT_BUILDAH_DRIVER || 'overlay';
const STORAGE = ['--root', join(CACHE, 'storage', DRIVER), '--runroot', join(CACHE, 'storage', `${DRIVER}-run`), '--storage-driver', DRIVER];

export type Log = (line: string) => void;

/** Runs cmd; resolves with its stdout, rejects with the tail of its output. */
export function run(cmd: string, args: string[], o: { cwd?: string; log?: Log; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    let out = '';
    let tail = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 1_800_000);
    const keep = (chunk: Buffer, stdout: boolean) => {
      const s = chunk.toString();
      if (stdout) out += s;
      tail = (tail + s).slice(-4000);
      if (o.log) for (const l of s.split('\n')) if (l.trim()) o.log(`  ${l}`);
    };
    child.stdout.on('data', (c: Buffer) => keep(c, true));
    child.stderr.on('data', (c: Buffer) => keep(c, false));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.slice(0, 6).join(' ')} … exited ${code ?? signal}:\n${tail}`));
    });
  });
}

export const buildah = (args: string[], o: { cwd?: string; log?: Log } = {}): Promise<string> => run('buildah', [...STORAGE, ...args], o);
