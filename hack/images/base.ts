// The base images weft's Dockerfiles start FROM, made locally: a Debian bookworm root file system (debootstrap
// minbase from the Debian mirror, cached as a tarball), the project's pinned Node binary and npm from the npm
// registry → docker.io/library/node:24-bookworm-slim; plus a C compiler and Node-API headers → node:24-bookworm.
// In: ~/.cache/weft/images/base (rootfs, npm tarballs). Out: both images in weft's buildah storage, and their hash.
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileSha, hashInputs } from './inputs.ts';
import { bud } from './bud.ts';
import { buildah, CACHE, type Log, run } from './run.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const HERE = new URL('.', import.meta.url).pathname;
const BASE = join(CACHE, 'base');
const MIRROR = process.env.WEFT_DEBIAN_MIRROR || 'http://deb.debian.org/debian';
// npm as a release of Node 24 bundles it; the headers are the ones hack/build-addon.sh compiles against.
const NPM_VERSION = '11.6.2';
const HEADERS_VERSION = '1.9.0';
const NODE_BIN = join(ROOT, 'node_modules/node/bin/node');

export const SLIM = 'docker.io/library/node:24-bookworm-slim';
export const FULL = 'docker.io/library/node:24-bookworm';

/** The debootstrap'd root file system as a tarball, made once (about 1.5 minutes) and kept with its sha256. */
async function rootfs(log: Log): Promise<{ tar: string; sha: string }> {
  const tar = join(BASE, 'bookworm-minbase.tar');
  if (existsSync(tar) && existsSync(`${tar}.sha256`)) return { tar, sha: readFileSync(`${tar}.sha256`, 'utf8').trim() };
  const dir = join(BASE, `rootfs-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(BASE, { recursive: true });
  log(`[images] debootstrap --variant=minbase bookworm from ${MIRROR}`);
  try {
    await run('debootstrap', ['--variant=minbase', 'bookworm', dir, MIRROR], { timeoutMs: 1_200_000 });
    // Package lists and downloaded .debs are a third of the tree; images run apt-get update before installing.
    await run('sh', ['-c', 'rm -rf var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb var/log/*.log', '--'], { cwd: dir });
    await run('tar', ['-C', dir, '--numeric-owner', '--exclude=./dev/*', '--exclude=./proc/*', '--exclude=./sys/*', '-cf', `${tar}.tmp`, '.']);
    renameSync(`${tar}.tmp`, tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const sha = fileSha(tar);
  writeFileSync(`${tar}.sha256`, `${sha}\n`);
  return { tar, sha };
}

/** An npm package's tarball, fetched once with `npm pack` and unpacked into dest/<name>. */
async function npmPackage(name: string, version: string, dest: string): Promise<void> {
  const tgz = join(BASE, `${name}-${version}.tgz`);
  if (!existsSync(tgz)) await run('npm', ['pack', `${name}@${version}`, '--pack-destination', BASE, '--silent'], { cwd: BASE });
  mkdirSync(join(dest, name), { recursive: true });
  await run('tar', ['-xzf', tgz, '-C', join(dest, name), '--strip-components=1', '--no-same-owner']);
}

const present = async (image: string): Promise<boolean> => buildah(['inspect', '--type', 'image', image]).then(() => true, () => false);

/** The hash of everything that goes into the base images (making the rootfs tarball if it is not cached). */
export async function baseInputs(log: Log): Promise<string> {
  const fs = await rootfs(log);
  return hashInputs(HERE, ['Containerfile.slim', 'Containerfile.full'], [fs.sha, fileSha(NODE_BIN), NPM_VERSION, HEADERS_VERSION]);
}

/** Builds both base images unless weft's storage already holds the ones of these inputs. */
export async function ensureBaseImages(hash: string, log: Log): Promise<void> {
  const fs = await rootfs(log);
  const stamp = join(BASE, 'images.hash');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash && (await present(SLIM)) && (await present(FULL))) return;
  log(`[images] building ${SLIM} and ${FULL}`);
  const ctx = join(BASE, `context-${process.pid}`);
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  try {
    linkSync(fs.tar, join(ctx, 'rootfs.tar'));
    copyFileSync(NODE_BIN, join(ctx, 'node'));
    await npmPackage('npm', NPM_VERSION, ctx);
    await npmPackage('node-api-headers', HEADERS_VERSION, ctx);
    await bud(['-f', join(HERE, 'Containerfile.slim'), '-t', SLIM, ctx], { log });
    await bud(['-f', join(HERE, 'Containerfile.full'), '-t', FULL, ctx], { log });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  writeFileSync(stamp, hash);
}
