// Images in weft's buildah storage → one OCI archive that `ctr images import` reads with their full names: buildah
// pushes each into one OCI layout (so images that share a base store its layers once), the index gets containerd's
// name annotation (ctr would otherwise prefix the plain OCI ref name), and the layout is tarred.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildah, CACHE, type Log, run } from './run.ts';

interface Index { manifests: Array<{ annotations?: Record<string, string> }> }

/** Writes the named images (full references, e.g. docker.io/library/weft:0.1.0) into the archive at out. */
export async function writeArchive(images: string[], out: string, log: Log): Promise<void> {
  const layout = join(CACHE, `layout-${process.pid}`);
  rmSync(layout, { recursive: true, force: true });
  mkdirSync(layout, { recursive: true });
  try {
    for (const image of images) {
      log(`[images] exporting ${image}`);
      await buildah(['push', '--quiet', image, `oci:${layout}:${image}`]);
    }
    const indexPath = join(layout, 'index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as Index;
    for (const m of index.manifests) {
      const name = m.annotations?.['org.opencontainers.image.ref.name'];
      if (name) m.annotations = { ...m.annotations, 'io.containerd.image.name': name };
    }
    writeFileSync(indexPath, JSON.stringify(index));
    await run('tar', ['-C', layout, '-cf', `${out}.tmp`, 'oci-layout', 'index.json', 'blobs']);
    renameSync(`${out}.tmp`, out);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
