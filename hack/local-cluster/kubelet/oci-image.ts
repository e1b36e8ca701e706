// OCI image archives for single-binary images (pause, CoreDNS, a static busybox): one tar layer holding the
// files, an image config, a manifest and an index, packed as an OCI image layout tarball that
// `ctr images import` takes. No registry is involved: nodes import the archive directly.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ImageFile {
  /** Absolute path inside the image, e.g. /coredns. */
  path: string;
  /** A host file to copy; or `symlink` to make a symbolic link. */
  from?: string;
  symlink?: string;
}

export interface ImageSpec {
  /** Full reference, e.g. weft.local/pause:3.10. */
  name: string;
  files: ImageFile[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes the OCI archive for `spec` to `archivePath` and returns it. */
export function writeOciArchive(spec: ImageSpec, archivePath: string): string {
  const work = mkdtempSync(join(dirname(archivePath), '.oci-'));
  try {
    const rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    for (const f of spec.files) {
      const dest = join(rootfs, f.path);
      mkdirSync(dirname(dest), { recursive: true });
      if (f.symlink) symlinkSync(f.symlink, dest);
      else {
        copyFileSync(f.from!, dest);
        chmodSync(dest, 0o755);
      }
    }
    const layout = join(work, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const layerTar = join(work, 'layer.tar');
    // Fixed owner and time, sorted names: the same files give the same layer digest.
    execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', rootfs, '-cf', layerTar, '.']);
    const layer = readFileSync(layerTar);
    const blob = (content: Buffer) => {
      const digest = sha256(content);
      writeFileSync(join(blobs, digest), content);
      return { digest: `sha256:${digest}`, size: content.length };
    };
    const layerDesc = blob(layer);
    const config = blob(Buffer.from(JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: spec.entrypoint, Cmd: spec.cmd, Env: spec.env ?? ['PATH=/bin:/usr/bin:/sbin:/usr/sbin'] },
      rootfs: { type: 'layers', diff_ids: [layerDesc.digest] },
    })));
    const manifest = blob(Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerDesc }],
    })));
    const tag = spec.name.slice(spec.name.lastIndexOf(':') + 1);
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...manifest,
        platform: { architecture: 'amd64', os: 'linux' },
        annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag },
      }],
    }));
    const tmp = `${archivePath}.tmp`;
    execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', layout, '-cf', tmp, '.']);
    execFileSync('mv', ['-f', tmp, archivePath]);
    return archivePath;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
