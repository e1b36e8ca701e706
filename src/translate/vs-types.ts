// Names for the nested parts of a VirtualService spec that route translation passes around.
import type { VirtualServiceSpec } from '../api/virtualservice.ts';

export type {
  Destination, HeaderOperations, Headers, Percent, StringMatch, VirtualService, VirtualServiceSpec,
} from '../api/virtualservice.ts';

export type HTTPRoute = NonNullable<VirtualServiceSpec['http']>[number];
export type HTTPMatchRequest = NonNullable<HTTPRoute['match']>[number];
export type HTTPRetry = NonNullable<HTTPRoute['retries']>;
export type HTTPFault = NonNullable<HTTPRoute['fault']>;
export type CorsPolicy = NonNullable<HTTPRoute['corsPolicy']>;
export type TLSRoute = NonNullable<VirtualServiceSpec['tls']>[number];
export type TCPRoute = NonNullable<VirtualServiceSpec['tcp']>[number];
export type L4Destination = NonNullable<TCPRoute['route']>[number];
