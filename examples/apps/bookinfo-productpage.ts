// bookinfo "productpage": calls details and reviews (DETAILS_URL / REVIEWS_URL, default http://details:9080 and
// http://reviews:9080) forwarding the trace and end-user headers, and answers 200 embedding each upstream's body,
// or {error, status} for an upstream that failed. /productpage is product 0 as JSON.
import type { IncomingMessage } from 'node:http';
import { callUpstream, forwardedHeaders, identity, sendJson, serve, upstreamUrl } from './lib/serve.ts';

const details = (req: IncomingMessage, id: string): Promise<unknown> =>
  callUpstream(upstreamUrl(process.env.DETAILS_URL, 'http://details:9080', 'details', id), forwardedHeaders(req));
const reviews = (req: IncomingMessage, id: string): Promise<unknown> =>
  callUpstream(upstreamUrl(process.env.REVIEWS_URL, 'http://reviews:9080', 'reviews', id), forwardedHeaders(req));

serve('productpage', async (req, res, url) => {
  const me = identity('productpage', req);
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/health') return sendJson(res, 200, { ...me, status: 'ok' });
  if (path === '/api/v1/products') return sendJson(res, 200, { ...me, products: [{ id: 0, title: 'The Comedy of Errors' }] });
  if (path === '/productpage' || path === '/') {
    const id = url.searchParams.get('id') ?? '0';
    const [d, r] = await Promise.all([details(req, id), reviews(req, id)]);
    return sendJson(res, 200, { ...me, id, details: d, reviews: r });
  }
  const m = /^\/api\/v1\/products\/([^/]+)(?:\/(details|reviews))?$/.exec(path);
  if (!m) return sendJson(res, 404, { ...me, error: 'not found', path: url.pathname });
  const id = decodeURIComponent(m[1]!);
  if (m[2] === 'details') return sendJson(res, 200, { ...me, id, details: await details(req, id) });
  if (m[2] === 'reviews') return sendJson(res, 200, { ...me, id, reviews: await reviews(req, id) });
  const [d, r] = await Promise.all([details(req, id), reviews(req, id)]);
  sendJson(res, 200, { ...me, id, details: d, reviews: r });
});
