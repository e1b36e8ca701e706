// bookinfo "ratings": GET /ratings/<id> answers the reviewers' star ratings. Runs as image weft-examples/bookinfo-ratings.
import { identity, sendJson, serve } from './lib/serve.ts';

serve('ratings', (req, res, url) => {
  const m = /^\/ratings\/([^/]+)$/.exec(url.pathname);
  if (url.pathname === '/health') return sendJson(res, 200, { ...identity('ratings', req), status: 'ok' });
  if (!m || req.method !== 'GET') return sendJson(res, 404, { ...identity('ratings', req), error: 'not found', path: url.pathname });
  sendJson(res, 200, { ...identity('ratings', req), id: decodeURIComponent(m[1]!), ratings: { Reviewer1: 5, Reviewer2: 4 } });
});
