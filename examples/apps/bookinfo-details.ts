// bookinfo "details": GET /details/<id> answers the book's details. Runs as image weft-examples/bookinfo-details.
import { identity, sendJson, serve } from './lib/serve.ts';

serve('details', (req, res, url) => {
  const m = /^\/details\/([^/]+)$/.exec(url.pathname);
  if (url.pathname === '/health') return sendJson(res, 200, { ...identity('details', req), status: 'ok' });
  if (!m || req.method !== 'GET') return sendJson(res, 404, { ...identity('details', req), error: 'not found', path: url.pathname });
  const id = decodeURIComponent(m[1]!);
  sendJson(res, 200, {
    ...identity('details', req), id, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200,
    publisher: 'PublisherA', language: 'English', 'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890',
  });
});
