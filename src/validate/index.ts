// The validator registry: any resource (as parsed from YAML or received by the admission webhook) -> findings.
// Dispatches on apiVersion's group and on kind to the per-kind validators, after checking what every kind
// shares: a served apiVersion and valid metadata. The webhook, `weftctl validate` and the controllers all call this.
import { MESH_KINDS } from '../api/kinds.ts';
import type { KindInfo } from '../api/kinds.ts';
import { checkDnsLabel, checkLabels, isObject } from './common.ts';
import { at, Findings } from './result.ts';
import type { ValidationResult } from './result.ts';
import { validateAuthorizationPolicy } from './authorizationpolicy.ts';
import { validateDestinationRule } from './destinationrule.ts';
import { validateGateway } from './gateway.ts';
import { validatePeerAuthentication } from './peerauthentication.ts';
import { validateRequestAuthentication } from './requestauthentication.ts';
import { validateServiceEntry } from './serviceentry.ts';
import { validateVirtualService } from './virtualservice.ts';
import { validateWorkloadEntry } from './workloadentry.ts';

export type { Finding, ValidationResult } from './result.ts';

export interface ValidateOptions {
  /** The mesh root namespace (mesh-wide policies live there); weft-system unless configured otherwise. */
  rootNamespace?: string;
}

export interface ResourceLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

// `never` accepts every validator's own parameter type; the registry has already checked group and kind.
type Validator = (obj: never, opts: ValidateOptions) => ValidationResult;

const VALIDATORS: Record<string, Validator> = {
  VirtualService: validateVirtualService,
  Gateway: validateGateway,
  DestinationRule: validateDestinationRule,
  ServiceEntry: validateServiceEntry,
  WorkloadEntry: validateWorkloadEntry,
  PeerAuthentication: validatePeerAuthentication,
  AuthorizationPolicy: validateAuthorizationPolicy,
  RequestAuthentication: validateRequestAuthentication,
};

/** Every kind weft serves, e.g. `VirtualService`. */
export const knownKinds: readonly string[] = MESH_KINDS.map((k) => k.kind);

/** The kinds that have a semantic validator (all of knownKinds once every validator is in place). */
export const validatedKinds: readonly string[] = Object.keys(VALIDATORS);

/**
 * The object as the API server hands it on: a namespaced resource submitted without a namespace gets the
 * request's. Validators may depend on it (mesh-wide policies live in the root namespace).
 */
export function withNamespace(obj: ResourceLike, namespace: string | undefined): ResourceLike {
  const meta: unknown = obj.metadata;
  if (!namespace || (meta !== undefined && !isObject(meta))) return obj;
  if (typeof obj.metadata?.namespace === 'string' && obj.metadata.namespace) return obj;
  return { ...obj, metadata: { ...obj.metadata, namespace } };
}

export function validateResource(obj: ResourceLike, opts: ValidateOptions = {}): ValidationResult {
  const f = new Findings();
  const info = checkTypeMeta(obj, f);
  checkMetadata(obj.metadata, f);
  if (info) {
    const validator = VALIDATORS[info.kind];
    if (validator) {
      const r = validator(obj as never, opts);
      for (const e of r.errors) f.error(e.field, e.message, e.code);
      for (const w of r.warnings) f.warn(w.field, w.message, w.code);
    }
  }
  return f.result();
}

function checkTypeMeta(obj: ResourceLike, f: Findings): KindInfo | undefined {
  if (!obj.apiVersion) f.error('apiVersion', 'Required value');
  if (!obj.kind) {
    f.error('kind', 'Required value');
    return undefined;
  }
  const [group, version, extra] = (obj.apiVersion ?? '').split('/');
  const info = MESH_KINDS.find((k) => k.kind === obj.kind && k.group === group);
  if (!info) {
    const groups = [...new Set(MESH_KINDS.map((k) => k.group))].join(', ');
    f.error('kind', `unknown kind "${obj.kind}" in "${obj.apiVersion ?? ''}": weft validates ${knownKinds.join(', ')} (groups ${groups})`);
    return undefined;
  }
  if (extra !== undefined || !version || !info.servedVersions.includes(version)) {
    f.error('apiVersion', `Unsupported value: "${obj.apiVersion ?? ''}": supported values: ${info.servedVersions.map((v) => `"${info.group}/${v}"`).join(', ')}`);
    return undefined;
  }
  return info;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** What the API server checks of ObjectMeta for a namespaced custom resource, so offline results agree. */
function checkMetadata(meta: ResourceLike['metadata'], f: Findings): void {
  if (!meta?.name && !meta?.generateName) {
    f.error('metadata.name', 'Required value: name or generateName is required');
  }
  if (meta?.name) {
    const e = checkSubdomain(meta.name);
    if (e) f.error('metadata.name', `Invalid value: "${meta.name}": ${e}`);
  }
  if (meta?.namespace) {
    const e = meta.namespace !== meta.namespace.toLowerCase() ? 'must be lowercase' : checkDnsLabel(meta.namespace);
    if (e) f.error('metadata.namespace', `Invalid value: "${meta.namespace}": ${e}`);
  }
  checkLabels(meta?.labels, (key, message) => f.error(at('metadata.labels', key), message));
}

function checkSubdomain(name: string): string | undefined {
  if (name.length > 253) return 'must be no more than 253 characters';
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', " +
      "and must start and end with an alphanumeric character (e.g. 'example.com')";
  }
  return undefined;
}
