// How the local node runs a container without a container runtime: the image names a local program (the
// convention below), and the process starts inside the pod's network namespace with a private mount namespace in
// which the pod's volumes are bind-mounted onto their mountPaths, as the container's user, in a clean environment.
//
// Images:
//   weft:<tag>, <registry>/weft:<tag>   the weft image: its /app is hack/build-image.ts's tree (dist/ + native/);
//                                       `node` is the pinned Node and `sh`, `iptables` come from the host
//   weft-examples/<name>:<tag>          examples/apps/<name>.ts, with APP_VERSION=<tag>; `args` become its argv
// Anything else cannot run here and the container waits with ErrImagePull, naming the image.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { V1Container } from '@kubernetes/client-node';

const ROOT = resolve(import.meta.dirname, '../../..');

// Each container is its own process group (detached); none outlives this process.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of running) signalGroup(c, 'SIGKILL');
});
function track(c: ChildProcess): ChildProcess {
  running.add(c);
  c.once('exit', () => running.delete(c));
  c.once('error', () => running.delete(c));
  return c;
}

/** What a container's process is: argv, working directory and the environment the image adds. */
export interface Program {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export class ImageError extends Error {}

function imageParts(image: string): { repo: string; tag: string } {
  const at = image.indexOf('@');
  const ref = at >= 0 ? image.slice(0, at) : image;
  const colon = ref.lastIndexOf(':');
  const slash = ref.lastIndexOf('/');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: 'latest' };
}

/** The program a container runs, by the image convention above; throws ImageError for an unknown image. */
export function programFor(c: V1Container, weftImageRoot: () => string): Program {
  const { repo, tag } = imageParts(c.image ?? '');
  if (repo === 'weft' || repo.endsWith('/weft')) {
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    if (argv.length === 0) argv.push('node', 'dist/cli/weft.js');
    if (argv[0] === 'node') argv[0] = process.execPath;
    return { argv, cwd: weftImageRoot(), env: {} };
  }
  const example = /^(?:.*\/)?weft-examples\/([a-z0-9-]+)$/.exec(repo);
  if (example) {
    const file = join(ROOT, 'examples/apps', `${example[1]}.ts`);
    if (!existsSync(file)) throw new ImageError(`image ${c.image}: no program examples/apps/${example[1]}.ts`);
    return { argv: [process.execPath, file, ...(c.args ?? [])], cwd: ROOT, env: { APP_VERSION: tag } };
  }
  throw new ImageError(`image ${c.image} has no local program (the local node runs weft:* and weft-examples/<app>:* images)`);
}

export interface Mount {
  /** Host path: a volume's directory or file. */
  source: string;
  target: string;
  readOnly: boolean;
}

export interface Launch {
  netns: string;
  uid: number;
  gid: number;
  mounts: Mount[];
  program: Program;
  /** The container's own environment (resolved); PATH is set here unless given. */
  env: Record<string, string>;
  logFile: string;
  /** The host tools directory (iptables) put on PATH. */
  toolsBin?: string;
}

// Runs as root inside `ip netns exec` (which already unshared the mount namespace and made it a slave of the
// host's, so these mounts stay private): bind the volumes, then drop to the container's user and exec.
const LAUNCHER = `set -e
uid=$1 gid=$2 cwd=$3; shift 3
printf '%s\\n' "$WEFT_MOUNTS" | while IFS='	' read -r src dst mode; do
  [ -n "$src" ] || continue
  if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] || : > "$dst"; fi
  mount --bind "$src" "$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done
unset WEFT_MOUNTS
cd "$cwd"
if [ "$uid" = 0 ]; then exec "$@"; fi
exec setpriv --reuid "$uid" --regid "$gid" --clear-groups -- "$@"`;

/** The launcher's environment: PATH, the image's and the container's variables, and the mounts to make. */
function launchEnv(l: Omit<Launch, 'logFile'>): Record<string, string> {
  const path = [l.toolsBin, dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].filter(Boolean).join(':');
  const mounts = l.mounts.map((m) => `${m.source}\t${m.target}\t${m.readOnly ? 'ro' : 'rw'}`).join('\n');
  return { PATH: path, ...l.program.env, ...l.env, WEFT_MOUNTS: mounts };
}

/** Starts the container's process; its stdout and stderr go to `logFile`. */
export function launch(l: Launch): ChildProcess {
  mkdirSync(dirname(l.logFile), { recursive: true });
  const fd = openSync(l.logFile, 'a');
  try {
    return track(spawn('ip', ['netns', 'exec', l.netns, 'sh', '-c', LAUNCHER, 'launch', String(l.uid), String(l.gid), l.program.cwd, ...l.program.argv], {
      stdio: ['ignore', fd, fd],
      env: launchEnv(l),
      detached: true, // its own process group, so stopping it reaches whatever it started
    }));
  } finally {
    closeSync(fd);
  }
}

/** Runs a command to completion in a container's namespaces (exec probes, `LocalNode.exec`). */
export function runIn(l: Omit<Launch, 'logFile'>, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = track(spawn('ip', ['netns', 'exec', l.netns, 'sh', '-c', LAUNCHER, 'exec', String(l.uid), String(l.gid), l.program.cwd, ...l.program.argv], {
      env: launchEnv(l),
      detached: true,
    }));
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      done({ code: -1, stdout, stderr: stderr + String(e) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 + 9 : -1), stdout, stderr });
    });
  });
}

export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
