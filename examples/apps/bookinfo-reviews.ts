// bookinfo "reviews": GET /reviews/<id>. v1 shows no ratings; v2 (black stars) and v3 (red stars) call ratings
// (RATINGS_URL, default http://ratings:9080) forwarding the trace and end-user headers, and embed its answer.
import { callUpstream, forwardedHeaders, identity, sendJson, serve, upstreamUrl } from './lib/serve.ts';

const version = process.env.APP_VERSION ?? '';
const stars = /^v?2\b/.test(version) ? 'black' : /^v?3\b/.test(version) ? 'red' : null;

serve('reviews', async (req, res, url) => {
  const m = /^\/reviews\/([^/]+)$/.exec(url.pathname);
  if (url.pathname === '/health') return sendJson(res, 200, { ...identity('reviews', req), status: 'ok' });
  if (!m || req.method !== 'GET') return sendJson(res, 404, { ...identity('reviews', req), error: 'not found', path: url.pathname });
  const id = decodeURIComponent(m[1]!);
  const answer: Record<string, unknown> = {
    ...identity('reviews', req), id,
    reviews: [
      { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
      { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
    ],
  };
  if (stars) {
    answer.stars = stars;
    answer.ratings = await callUpstream(upstreamUrl(process.env.RATINGS_URL, 'http://ratings:9080', 'ratings', id), forwardedHeaders(req));
  }
  sendJson(res, 200, answer);
});
