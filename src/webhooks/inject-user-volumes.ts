// Istio's `sidecar.istio.io/userVolume` and `sidecar.istio.io/userVolumeMount` annotations (weft's spelling
// `sidecar.weft.dev/…` too): extra volumes for the pod and their mounts in the proxy container — how a sidecar gets,
// say, the CA of an external service whose TLS it originates (DestinationRule `caCertificates`). Each annotation is
// a JSON array of objects with a `name`, or an object keyed by name (Istio's older form). In: the pod's annotations.
// Out: the volumes, the proxy's mounts, and warnings for what was ignored.
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function entries(raw: string | undefined, what: string, warnings: string[]): Obj[] {
  if (raw === undefined || raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    warnings.push(`${what}: not JSON (${(e as Error).message}); ignored`);
    return [];
  }
  const list = Array.isArray(parsed) ? parsed : isObj(parsed) ? Object.entries(parsed).map(([name, v]) => (isObj(v) ? { name, ...v } : v)) : undefined;
  if (!list) {
    warnings.push(`${what}: must be a JSON array or object; ignored`);
    return [];
  }
  return list.filter((e): e is Obj => {
    if (isObj(e) && typeof e.name === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(e.name)) return true;
    warnings.push(`${what}: an entry without a valid name; ignored`);
    return false;
  });
}

function annotation(annotations: Readonly<Record<string, string>>, key: string): { name: string; value: string } | undefined {
  for (const p of ['sidecar.weft.dev/', 'sidecar.istio.io/']) if (annotations[p + key] !== undefined) return { name: p + key, value: annotations[p + key]! };
  return undefined;
}

export function userVolumes(annotations: Readonly<Record<string, string>>, taken: ReadonlySet<string>): { volumes: Obj[]; mounts: Obj[]; warnings: string[] } {
  const warnings: string[] = [];
  const v = annotation(annotations, 'userVolume');
  const m = annotation(annotations, 'userVolumeMount');
  const volumes = entries(v?.value, v?.name ?? '', warnings).filter((vol) => {
    if (!taken.has(vol.name as string)) return true;
    warnings.push(`${v!.name}: volume "${String(vol.name)}" already exists in the pod; ignored`);
    return false;
  });
  const names = new Set(volumes.map((vol) => vol.name as string));
  const mounts = entries(m?.value, m?.name ?? '', warnings)
    .filter((mount) => {
      if (!names.has(mount.name as string)) warnings.push(`${m!.name}: "${String(mount.name)}" names no user volume; ignored`);
      else if (typeof mount.mountPath !== 'string' || !mount.mountPath.startsWith('/')) warnings.push(`${m!.name}: "${String(mount.name)}" needs an absolute mountPath; ignored`);
      else return true;
      return false;
    })
    // Istio's examples spell it `readonly`; the Kubernetes field is `readOnly`.
    .map(({ readonly, ...rest }) => ({ ...rest, readOnly: rest.readOnly ?? readonly ?? true }));
  return { volumes, mounts, warnings };
}
