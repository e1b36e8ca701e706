// httpbin: a test backend. /status/<code>, /delay/<ms>, /headers (each also with a trailing path, so it can stand in
// for an upstream that appends ids), /ready, /health; anything else answers 200 with
// the path. FAIL_RATE (0..1) or FAIL_EVERY (every Nth request) make requests answer FAIL_STATUS (default 503);
// /ready and /health never fail so probes stay truthful. TCP_PORT, when set, adds a TCP echo listener.
import net from 'node:net';
import { identity, sendJson, serve } from './lib/serve.ts';

const failRate = Number(process.env.FAIL_RATE || 0);
const failEvery = Math.floor(Number(process.env.FAIL_EVERY || 0));
const failStatus = Number(process.env.FAIL_STATUS || 503);
const MAX_DELAY_MS = 60_000;
let served = 0;

const server = serve('httpbin', async (req, res, url) => {
  const me = { ...identity('httpbin', req), path: url.pathname };
  if (url.pathname === '/ready' || url.pathname === '/health') return sendJson(res, 200, { ...me, status: 'ok' });
  served++;
  if ((failEvery > 0 && served % failEvery === 0) || (failRate > 0 && Math.random() < failRate)) {
    return sendJson(res, failStatus, { ...me, error: 'injected failure', status: failStatus });
  }
  let m = /^\/status\/(\d{3})(?:\/|$)/.exec(url.pathname);
  if (m) {
    const code = Number(m[1]);
    if (code < 200 || code > 599) return sendJson(res, 400, { ...me, error: 'status must be 200..599' });
    return sendJson(res, code, { ...me, status: code });
  }
  m = /^\/delay\/(\d+)(?:\/|$)/.exec(url.pathname);
  if (m) {
    const ms = Math.min(Number(m[1]), MAX_DELAY_MS);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return sendJson(res, 200, { ...me, delayMs: ms });
  }
  if (/^\/headers(\/|$)/.test(url.pathname)) return sendJson(res, 200, { ...me, headers: req.headers });
  sendJson(res, 200, me);
});

if (process.env.TCP_PORT) {
  const port = Number(process.env.TCP_PORT);
  const echo = net.createServer((sock) => { sock.on('error', () => sock.destroy()); sock.pipe(sock); });
  echo.listen(port, '0.0.0.0', () => console.log(`httpbin tcp echo listening on 0.0.0.0:${port}`));
  server.on('close', () => echo.close());
}
