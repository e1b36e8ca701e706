// The images every node of the local cluster has: the sandbox's pause, CoreDNS, and a static busybox (a shell,
// wget, nslookup and httpd for tests), each a single-binary OCI archive imported into the nodes' containerd.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PAUSE_IMAGE } from './containerd.ts';
import { writeOciArchive } from './oci-image.ts';

export interface NodeImages {
  pause: string;
  coredns: string;
  busybox: string;
  /** Archive paths, to import into each node. */
  archives: string[];
}

export function corednsVersion(bin: string): string {
  const out = execFileSync(join(bin, 'coredns'), ['-version'], { encoding: 'utf8' });
  return /CoreDNS-([0-9.]+)/.exec(out)?.[1] ?? 'local';
}

export function buildNodeImages(bin: string, dir: string): NodeImages {
  mkdirSync(dir, { recursive: true });
  const coredns = `weft.local/coredns:${corednsVersion(bin)}`;
  const busybox = 'weft.local/busybox:static';
  const applets = execFileSync('busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  const archives = [
    writeOciArchive({ name: PAUSE_IMAGE, files: [{ path: '/pause', from: join(bin, 'pause') }], entrypoint: ['/pause'] }, join(dir, 'pause.tar')),
    writeOciArchive({ name: coredns, files: [{ path: '/coredns', from: join(bin, 'coredns') }], entrypoint: ['/coredns'] }, join(dir, 'coredns.tar')),
    writeOciArchive({
      name: busybox,
      files: [{ path: '/bin/busybox', from: execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim() },
        ...applets.map((a) => ({ path: `/bin/${a}`, symlink: 'busybox' }))],
      cmd: ['sh'],
    }, join(dir, 'busybox.tar')),
  ];
  return { pause: PAUSE_IMAGE, coredns, busybox, archives };
}
