// curl: Istio's curl (formerly sleep) sample — a pod that stays up until SIGTERM so one-shot commands can run in its
// network namespace (its traffic leaves through the pod's sidecar), with the two tools the security tasks use:
//   curl.ts http <url> [-X METHOD] [-H 'k: v']... [--n N]   N requests (default 1, at most 1000, one at a time);
//       prints one JSON line {results:[{status, headers, body} | {error}]} (body as text, at most 64 kB) and exits 0.
//   curl.ts tcp <host> <port> <message>   like `echo <message> | nc <host> <port>`: sends the line, half-closes,
//       prints {reply} with what came back before the connection closed (reply "" when it was closed without an
//       answer) or {error} (refused, reset, 5 s timeout), exits 0.
// Bad usage exits 2.
import net from 'node:net';

const TIMEOUT_MS = 5000;
const MAX_BODY = 64 * 1024;

function usage(msg: string): never {
  console.error(`curl: ${msg}\nusage: curl.ts http <url> [-X METHOD] [-H 'k: v']... [--n N] | curl.ts tcp <host> <port> <message>`);
  process.exit(2);
}

const print = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n', () => process.exit(0));

async function httpMode(args: string[]): Promise<void> {
  let url: string | undefined;
  let method = 'GET';
  let n = 1;
  const headers: [string, string][] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = (): string => args[++i] ?? usage(`${a} needs a value`);
    if (a === '-X') method = next().toUpperCase();
    else if (a === '-H') {
      const h = next();
      const c = h.indexOf(':');
      if (c <= 0) usage(`bad header ${h}`);
      headers.push([h.slice(0, c).trim(), h.slice(c + 1).trim()]);
    } else if (a === '--n') n = Number(next());
    else if (!url && !a.startsWith('-')) url = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!url) usage('missing url');
  if (!Number.isInteger(n) || n < 1 || n > 1000) usage('--n must be 1..1000');
  const results: unknown[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const r = await fetch(url, { method, headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
      const body = (await r.text()).slice(0, MAX_BODY);
      results.push({ status: r.status, headers: Object.fromEntries(r.headers), body });
    } catch (err) {
      const e = err as Error & { cause?: Error };
      results.push({ error: e.cause?.message ?? e.message });
    }
  }
  print({ results });
}

function tcpMode(args: string[]): void {
  const [host, portText, ...words] = args;
  const port = Number(portText);
  if (!host || !Number.isInteger(port) || words.length === 0) usage('tcp needs <host> <port> <message>');
  const sock = net.connect({ host, port });
  let reply = '';
  let done = false;
  const finish = (v: unknown) => {
    if (done) return;
    done = true;
    sock.destroy();
    print(v);
  };
  sock.setEncoding('utf8');
  sock.setTimeout(TIMEOUT_MS, () => finish(reply ? { reply } : { error: 'timeout' }));
  sock.on('connect', () => sock.end(`${words.join(' ')}\n`));
  sock.on('data', (c: string) => (reply += c));
  sock.on('error', (e: Error) => finish(reply ? { reply } : { error: e.message }));
  sock.on('close', () => finish({ reply }));
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'http') await httpMode(rest);
else if (mode === 'tcp') tcpMode(rest);
else if (mode === undefined || mode === 'sleep') {
  const timer = setInterval(() => {}, 3_600_000);
  const stop = (): void => { clearInterval(timer); process.exit(0); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  console.log(`curl ${process.env.APP_VERSION ?? ''} sleeping until SIGTERM`);
} else usage(`unknown mode ${mode}`);
