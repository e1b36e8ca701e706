// weft's container images without a registry or a Docker engine: the weft image from the Dockerfile and one image
// per example app from examples/apps/Dockerfile (the names `hack/build-images.sh --list` prints), built with buildah
// on locally made base images, exported as OCI archives under ~/.cache/weft/images that containerd imports with the
// names the manifests use. In: the checkout. Out: archive paths; each archive is rebuilt only when a hash of its
// inputs changes.
//   node hack/images/index.ts    build what is stale, print the archive paths
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLock } from './lock.ts';
import { writeArchive } from './archive.ts';
import { baseInputs, ensureBaseImages } from './base.ts';
import { bud } from './bud.ts';
import { hashInputs } from './inputs.ts';
import { buildah, CACHE, type Log } from './run.ts';
import { ensureTools } from './tools.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The full reference containerd and the kubelet use for a Docker-style short name (weft:0.1.0 → docker.io/library/weft:0.1.0). */
export function fullName(short: string): string {
  const slash = short.indexOf('/');
  if (slash < 0) return `docker.io/library/${short}`;
  const first = short.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? short : `docker.io/${short}`;
}

/** The images weft's manifests, examples and e2e suites name, as `hack/build-images.sh --list` prints them. */
export function imageNames(): string[] {
  return execFileSync('bash', [join(ROOT, 'hack/build-images.sh'), '--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

interface ImageSet {
  archive: string;
  images: string[];
  inputs: string[];
  build(log: Log): Promise<void>;
}

function imageSets(names: string[]): ImageSet[] {
  const weft = names.filter((n) => !n.startsWith('weft-examples/'));
  const examples = names.filter((n) => n.startsWith('weft-examples/'));
  return [
    {
      archive: join(CACHE, 'weft.oci.tar'),
      images: weft.map(fullName),
      // How images are built, what the Dockerfile copies, and the Dockerfile itself.
      inputs: ['hack/images', 'Dockerfile', '.dockerignore', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'native/original-dst/src', 'crds'],
      build: async (log) => {
        for (const n of weft) await bud(['-f', 'Dockerfile', '-t', fullName(n), '.'], { cwd: ROOT, log });
      },
    },
    {
      archive: join(CACHE, 'weft-examples.oci.tar'),
      images: examples.map(fullName),
      inputs: ['hack/images', 'examples/apps'],
      build: async (log) => {
        for (const n of examples) {
          const [app, tag] = n.slice('weft-examples/'.length).split(':');
          log(`[images] building ${fullName(n)}`);
          await bud(['-f', 'examples/apps/Dockerfile', '--ignorefile', 'examples/apps/Dockerfile.dockerignore',
            '--build-arg', `APP=${app}`, '--build-arg', `VERSION=${tag}`, '-t', fullName(n), '.'], { cwd: ROOT, layers: false });
        }
      },
    },
  ];
}

// Every source change leaves the previous build's untagged step images behind; past this many, they all go (the
// next build then runs npm ci again) so the storage does not grow without bound.
const MAX_UNTAGGED = 80;

async function pruneStepCache(log: Log): Promise<void> {
  const untagged = (await buildah(['images', '--filter', 'dangling=true', '-q'])).split('\n').filter(Boolean).length;
  if (untagged <= MAX_UNTAGGED) return;
  log(`[images] removing ${untagged} untagged step images from the build cache`);
  await buildah(['rmi', '--prune']);
}

/** Builds the archives whose inputs changed since they were written; returns all archive paths. */
export async function ensureImages(log: Log = () => {}): Promise<string[]> {
  mkdirSync(CACHE, { recursive: true });
  return withLock(join(CACHE, 'build.lock'), log, async () => {
    ensureTools({ buildah: 'buildah', debootstrap: 'debootstrap' }, log);
    const base = await baseInputs(log);
    let baseReady = false;
    for (const set of imageSets(imageNames())) {
      const hash = hashInputs(ROOT, set.inputs, [base, ...set.images]);
      const stamp = `${set.archive}.inputs`;
      if (existsSync(set.archive) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) continue;
      const t = performance.now();
      if (!baseReady) await ensureBaseImages(base, log);
      baseReady = true;
      log(`[images] building ${set.images.join(', ')}`);
      rmSync(stamp, { force: true });
      await set.build(log);
      await writeArchive(set.images, set.archive, log);
      writeFileSync(stamp, hash);
      await pruneStepCache(log);
      log(`[images] wrote ${set.archive} in ${Math.round((performance.now() - t) / 1000)} s`);
    }
    return imageSets([]).map((s) => s.archive);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const a of await ensureImages((l) => process.stderr.write(`${l}\n`))) console.log(a);
}
