// Destinations, weights, gateway references and match conditions on the source of a VirtualService:
// (value, path) -> findings.
// Shared by the HTTP, TLS and TCP rule checks.
import type { SourceLabels, VirtualServiceSpec } from '../api/virtualservice.ts';
import { checkDnsLabel, checkLabels, checkPort } from './common.ts';
import { checkGatewayRef, checkWildcardDomain } from './networking-common.ts';
import { at } from './result.ts';
import type { Findings } from './result.ts';

export type Destination = NonNullable<NonNullable<VirtualServiceSpec['http']>[number]['mirror']>;

export function checkDestination(d: Destination, path: string, f: Findings): void {
  if (typeof d.host !== 'string' || d.host === '') f.error(at(path, 'host'), 'destination host is required');
  else if (d.host === '*') f.error(at(path, 'host'), 'destination host cannot be "*"');
  else {
    const err = checkWildcardDomain(d.host);
    if (err) f.error(at(path, 'host'), err);
  }
  if (d.subset !== undefined) {
    const err = d.subset === '' ? 'subset name must not be empty' : checkDnsLabel(d.subset);
    if (err) f.error(at(path, 'subset'), `invalid subset name: ${err}`);
  }
  if (d.port) {
    const err = checkPort(d.port.number);
    if (err) f.error(at(path, 'port', 'number'), err);
  }
}

/**
 * Weights are relative shares (a destination gets weight / sum of weights). Several destinations must not all
 * be 0, and a sum other than 100 is legal but usually a slip, so it is flagged as a warning.
 */
export function checkWeights(routes: ReadonlyArray<{ weight?: number }>, path: string, f: Findings): void {
  let total = 0;
  routes.forEach((r, i) => {
    const w = r.weight ?? 0;
    if (!Number.isInteger(w) || w < 0) f.error(at(path, i, 'weight'), `weight ${String(r.weight)} must be a whole number of at least 0`);
    else total += w;
  });
  if (routes.length < 2) return;
  if (total === 0) f.error(path, 'the weights of several destinations must not all be 0 (they must sum to more than 0, normally to 100)');
  else if (total !== 100) {
    f.warn(path, `weights sum to ${total}, not 100; traffic is split in proportion to weight/${total}`);
  }
}

export function checkGatewayRefs(refs: readonly string[] | undefined, path: string, f: Findings): void {
  (refs ?? []).forEach((ref, i) => {
    const { error, warning } = checkGatewayRef(ref);
    if (error) f.error(at(path, i), error);
    if (warning) f.warn(at(path, i), warning);
  });
}

/** The conditions an HTTP, TLS and TCP match share: destination port, source labels and namespace, gateways. */
export function checkMatchSource(
  m: { port?: number; sourceLabels?: SourceLabels; gateways?: string[]; sourceNamespace?: string },
  path: string,
  f: Findings,
): void {
  if (m.port !== undefined) {
    const err = checkPort(m.port);
    if (err) f.error(at(path, 'port'), err);
  }
  checkLabels(m.sourceLabels as Record<string, string> | undefined, (k, msg) => f.error(`${at(path, 'sourceLabels')}[${k}]`, msg));
  checkGatewayRefs(m.gateways, at(path, 'gateways'), f);
  if (m.sourceNamespace !== undefined && checkDnsLabel(m.sourceNamespace)) f.error(at(path, 'sourceNamespace'), `"${m.sourceNamespace}" is not a valid namespace name`);
}
