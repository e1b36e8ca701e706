// client: a "sleep" pod that stays up until SIGTERM, so one-shot commands can run in its network namespace.
// One-shot mode: `client.ts fetch <url> [--n N] [--concurrency C] [--header k:v]...` sends N GETs (5 s timeout
// each) and prints one JSON line {results:[{status, body} | {error}], counts:{<status>|error: n}}, then exits 0.
// `client.ts until <url> <regex> [--timeout-ms T]` polls every 5 ms until an answer's body matches and prints
// {matchedAt (epoch ms), tries}; exit 1 on timeout (default 30 s). Measures when a routing change reaches this pod.
const MAX_N = 100_000;
const TIMEOUT_MS = 5000;

function usage(msg: string): never {
  console.error(`client: ${msg}\nusage: client.ts fetch <url> [--n N] [--concurrency C] [--header k:v]...`);
  process.exit(2);
}

async function fetchMode(args: string[]): Promise<void> {
  let url: string | undefined;
  let n = 1;
  let concurrency = 1;
  const headers: [string, string][] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = (): string => args[++i] ?? usage(`${a} needs a value`);
    if (a === '--n') n = Number(next());
    else if (a === '--concurrency') concurrency = Number(next());
    else if (a === '--header') {
      const h = next();
      const c = h.indexOf(':');
      if (c <= 0) usage(`bad header ${h}`);
      headers.push([h.slice(0, c).trim(), h.slice(c + 1).trim()]);
    } else if (!url && !a.startsWith('--')) url = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!url) usage('missing url');
  if (!Number.isInteger(n) || n < 1 || n > MAX_N) usage(`--n must be 1..${MAX_N}`);
  if (!Number.isInteger(concurrency) || concurrency < 1) usage('--concurrency must be a positive integer');
  const target = url;
  const results: unknown[] = new Array(n);
  const counts: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      try {
        const r = await fetch(target, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
        const text = await r.text();
        let body: unknown = text;
        try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
        results[i] = { status: r.status, body };
        counts[r.status] = (counts[r.status] ?? 0) + 1;
      } catch (err) {
        const e = err as Error & { cause?: Error };
        results[i] = { error: e.cause?.message ?? e.message };
        counts.error = (counts.error ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  process.stdout.write(JSON.stringify({ results, counts }) + '\n', () => process.exit(0));
}

async function untilMode(args: string[]): Promise<void> {
  const [url, pattern] = args;
  if (!url || !pattern) usage('until needs <url> <regex>');
  const t = args.indexOf('--timeout-ms');
  const deadline = Date.now() + (t >= 0 ? Number(args[t + 1]) : 30_000);
  const re = new RegExp(pattern);
  let tries = 0;
  for (;;) {
    tries++;
    const body = await fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => r.text(), (e: Error) => e.message);
    if (re.test(body)) {
      process.stdout.write(JSON.stringify({ matchedAt: Date.now(), tries }) + '\n', () => process.exit(0));
      return;
    }
    if (Date.now() > deadline) {
      process.stdout.write(JSON.stringify({ timeout: true, tries, last: body.slice(0, 200) }) + '\n', () => process.exit(1));
      return;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'fetch') {
  await fetchMode(rest);
} else if (mode === 'until') {
  await untilMode(rest);
} else if (mode === undefined || mode === 'sleep') {
  const timer = setInterval(() => {}, 3_600_000);
  const stop = (): void => { clearInterval(timer); process.exit(0); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Logged only once SIGTERM is handled, so whoever waits for this line may stop the pod right away.
  console.log(`client ${process.env.APP_VERSION ?? ''} sleeping until SIGTERM`);
} else {
  usage(`unknown mode ${mode}`);
}
