// Host tools the image build and its test need (buildah, debootstrap, containerd, runc), installed from Debian with
// apt-get when missing, so that a fresh machine needs nothing else. In: command → package pairs. Out: nothing.
import { execFileSync, spawnSync } from 'node:child_process';

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Installs the Debian package of each missing command; apt-get update only when the first attempt fails. */
export function ensureTools(tools: Record<string, string>, log: (l: string) => void = () => {}): void {
  const missing = [...new Set(Object.entries(tools).filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg))];
  if (missing.length === 0) return;
  log(`[images] installing ${missing.join(' ')} with apt-get`);
  const install = () => execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 900_000,
  });
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    install();
  }
}
