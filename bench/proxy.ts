// The `proxy` bench: what a request costs through the weft sidecar, against the app alone and against nginx (the C
// baseline), on loopback. One Node app (bench/proxy-app.ts: 1 kB answers, keep-alive) serves every variant:
//   direct  wrk → app;  nginx  wrk → nginx (1 worker, keep-alive upstream) → app;  weft  wrk → sidecar → app;
//   pair    wrk → client sidecar → (mTLS) → server sidecar → app;
//   pair-authz  the same with 10 ALLOW policies (20 rules each) and a JWT rule translated into the server's config,
//           wrk sending a token they allow: authz_throughput_ratio (its throughput over pair's, goal >= 0.9) and
//           authz_overhead_us (the server sidecar's CPU per request, with minus without).
// wrk (16 connections) runs short rounds alternating the variants, and medians are reported, so machine noise hits
// all alike. Then a fixed 1000 rps (bench/proxy-load.ts) compares p90 direct vs through the pair, and a sidecar with
// a 100-service config reports its resident memory. The sidecars run what ships: the compiled build
// (bench/proxy-build.ts) with SIDECAR_NODE_FLAGS (src/proxy/node-flags.ts). Tools come from hack/bench-tools.sh.
// `--profile` (or WEFT_BENCH_PROFILE=1) runs the single sidecar and both pairs' server sidecars under --cpu-prof and
// reports the profile directory (one subdirectory each) and their hottest functions.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedRate, probe } from './proxy-load.ts';
import { startNginx } from './proxy-nginx.ts';
import { hotFunctionsOf } from './proxy-profile.ts';
import { cpuSeconds, firstJsonLine, freePort, type Proc, rssAnonMb, rssMb, startProc, waitReady } from './proxy-procs.ts';
import { summarize, type Target } from './proxy-report.ts';
import { benchTools } from './proxy-tools.ts';
import { clientConfig, NS, pairConfigs, prepareSidecar, SERVER_POD_IP, SERVICE, SERVICE_HOST, SERVICE_IP, SERVICE_PORT, startSidecar, writeConfigDir, writeIdentityDirs } from './proxy-weft.ts';
import { authzLoad, enforcement, POLICIES, RULES_PER_POLICY } from './proxy-authz.ts';
import { runWrk, type WrkResult, wrkScript } from './proxy-wrk.ts';

const CONNECTIONS = 16;
const WRK_THREADS = 1;
const ROUNDS = 4;
const ROUND_S = 3;
const FIXED_RATE = 1000;
const FIXED_ROUNDS = 3;
const FIXED_S = 3;
const RSS_SERVICES = 100;
/** The app's answer size (bench/proxy-app.ts). */
const BODY_BYTES = 1024;
const APP = new URL('./proxy-app.ts', import.meta.url).pathname;
/** The pair-authz server pod's IP: a second pair next to the plain one, with policies on its server side. */
const AUTHZ_POD_IP = '127.0.0.4';

export interface RoundResult extends WrkResult {
  /** Sidecar CPU seconds per second of the run (weft only). */
  vcpu?: number;
  /** CPU seconds the server-side sidecar of a pair used in the round. */
  serverCpuS?: number;
}

export async function runProxyBench(log: (line: string) => void): Promise<Record<string, unknown>> {
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  const profile = process.argv.includes('--profile') || process.env.WEFT_BENCH_PROFILE === '1';
  log('fetching wrk and nginx (hack/bench-tools.sh)');
  const tools = benchTools();
  // What ships: the compiled build with the sidecar's Node flags (built once, reused while the sources are unchanged).
  log('building the sidecar (tsc -p tsconfig.build.json)');
  let sidecarBuild: ReturnType<typeof prepareSidecar> | { error: string };
  try { sidecarBuild = prepareSidecar(); } catch (err) { sidecarBuild = { error: brief(err) }; }
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-proxy-'));
  const procs: Proc[] = [];
  const errors: Record<string, string> = {};
  const keep = (p: Proc) => { procs.push(p); return p; };
  // If the bench process ends without reaching `finally` (the runner's overall deadline exits, or ^C), the
  // children must not outlive it: signal them on the way out.
  const signalAll = () => { for (const p of procs) p.child.kill('SIGTERM'); };
  const interrupted = () => { signalAll(); rmSync(dir, { recursive: true, force: true }); process.exit(130); };
  process.on('exit', signalAll);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const script = wrkScript(dir);
    const appProc = keep(startProc('app', process.execPath, [APP]));
    const appPort = Number((await firstJsonLine(appProc, 10_000)).port);
    await probe(`http://127.0.0.1:${appPort}/`, undefined, BODY_BYTES);
    const targets: Target[] = [{ name: 'direct', url: `http://127.0.0.1:${appPort}/` }];

    const nginxPort = await freePort();
    const nginx = keep(startNginx(tools, join(dir, 'nginx'), nginxPort, appPort));
    await waitReady(nginx, `http://127.0.0.1:${nginxPort}/`, 10_000);
    await probe(`http://127.0.0.1:${nginxPort}/`, undefined, BODY_BYTES);
    targets.push({ name: 'nginx', url: `http://127.0.0.1:${nginxPort}/` });

    const cpuProfDir = profile ? mkdtempSync(join(tmpdir(), 'weft-proxy-cpuprof-')) : undefined;
    if (cpuProfDir) process.stderr.write(`[bench] proxy: the weft sidecar's CPU profile goes to ${cpuProfDir}\n`);
    let weftPid: number | undefined;
    try {
      log('starting the weft sidecar');
      const cfg = join(dir, 'weft-config');
      writeConfigDir(cfg, clientConfig(appPort));
      const ids = join(dir, 'weft-identity');
      await writeIdentityDirs(ids, join(dir, 'weft-identity-unused'));
      const port = await freePort();
      const sc = await startSidecar({ name: 'weft', configDir: cfg, identityDir: ids, cpuProfDir: profDir(cpuProfDir, 'weft'),
        explicit: [`127.0.0.1:${port}=outbound:${SERVICE_IP}:${SERVICE_PORT}`] });
      keep(sc.proc);
      weftPid = sc.proc.pid;
      await probe(`http://127.0.0.1:${port}/`, SERVICE_HOST, BODY_BYTES);
      targets.push({ name: 'weft', url: `http://127.0.0.1:${port}/`, host: SERVICE_HOST, sidecarPids: [sc.proc.pid] });
    } catch (err) {
      errors.weft = brief(err);
    }

    let pairMtls: boolean | undefined;
    try {
      log('starting the client and server sidecars (mTLS pair)');
      const pc = pairConfigs(appPort);
      pairMtls = pc.mtls;
      const clientCfg = join(dir, 'pair-client-config');
      const serverCfg = join(dir, 'pair-server-config');
      writeConfigDir(clientCfg, pc.client);
      writeConfigDir(serverCfg, pc.server);
      const clientIds = join(dir, 'pair-client-identity');
      const serverIds = join(dir, 'pair-server-identity');
      await writeIdentityDirs(clientIds, serverIds);
      const server = await startSidecar({ name: 'pair-server', configDir: serverCfg, identityDir: serverIds, cpuProfDir: profDir(cpuProfDir, 'pair-server'),
        explicit: [`${SERVER_POD_IP}:${appPort}=inbound:${SERVER_POD_IP}:${appPort}`] });
      keep(server.proc);
      const port = await freePort();
      const client = await startSidecar({ name: 'pair-client', configDir: clientCfg, identityDir: clientIds,
        explicit: [`127.0.0.1:${port}=outbound:${SERVICE_IP}:${SERVICE_PORT}`] });
      keep(client.proc);
      await probe(`http://127.0.0.1:${port}/`, SERVICE_HOST, BODY_BYTES);
      targets.push({ name: 'pair', url: `http://127.0.0.1:${port}/`, host: SERVICE_HOST, sidecarPids: [client.proc.pid, server.proc.pid], serverPid: server.proc.pid });
    } catch (err) {
      errors.pair = brief(err);
    }

    // The pair again, its server side under 10 ALLOW policies of 20 rules and a JWT rule (translated by weft),
    // every request carrying a token they allow. Compared with `pair` round by round.
    let authzEnforced: Awaited<ReturnType<typeof enforcement>> | undefined;
    try {
      log(`starting the pair with ${POLICIES}×${RULES_PER_POLICY} ALLOW rules and a JWT rule on the server side`);
      const load = await authzLoad(NS, SERVICE, 'bench-client');
      const pc = pairConfigs(appPort, { podIp: AUTHZ_POD_IP, security: load });
      const clientCfg = join(dir, 'authz-client-config');
      const serverCfg = join(dir, 'authz-server-config');
      writeConfigDir(clientCfg, pc.client);
      writeConfigDir(serverCfg, pc.server);
      const clientIds = join(dir, 'authz-client-identity');
      const serverIds = join(dir, 'authz-server-identity');
      await writeIdentityDirs(clientIds, serverIds);
      const server = await startSidecar({ name: 'authz-server', configDir: serverCfg, identityDir: serverIds, cpuProfDir: profDir(cpuProfDir, 'authz-server'),
        explicit: [`${AUTHZ_POD_IP}:${appPort}=inbound:${AUTHZ_POD_IP}:${appPort}`] });
      keep(server.proc);
      const port = await freePort();
      const client = await startSidecar({ name: 'authz-client', configDir: clientCfg, identityDir: clientIds,
        explicit: [`127.0.0.1:${port}=outbound:${SERVICE_IP}:${SERVICE_PORT}`] });
      keep(client.proc);
      const url = `http://127.0.0.1:${port}/`;
      authzEnforced = await enforcement(url, SERVICE_HOST, load.authorization);
      // Measured only when the policies really run: a request without the token refused, one with it served.
      if (authzEnforced.without_token !== 403 || authzEnforced.with_token !== 200) {
        throw new Error(`policies not enforced as configured: without a token ${authzEnforced.without_token} (403 expected), with it ${authzEnforced.with_token} (200 expected)`);
      }
      targets.push({ name: 'pair-authz', url, host: SERVICE_HOST, headers: { authorization: load.authorization },
        sidecarPids: [client.proc.pid, server.proc.pid], serverPid: server.proc.pid });
    } catch (err) {
      errors['pair-authz'] = brief(err);
    }

    log(`warming up ${targets.map((t) => t.name).join(', ')}`);
    for (const t of targets) await runWrk(tools, script, t.url, { connections: CONNECTIONS, threads: WRK_THREADS, durationS: 1, host: t.host, headers: t.headers });

    const rounds: Record<string, RoundResult[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate the order each round, so that no variant always runs right after the same other one.
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
      for (const t of order) {
        log(`round ${r + 1}/${ROUNDS}: ${t.name}`);
        const cpu0 = sidecarCpu(t);
        const server0 = serverCpu(t);
        const res: RoundResult = await runWrk(tools, script, t.url, { connections: CONNECTIONS, threads: WRK_THREADS, durationS: ROUND_S, host: t.host, headers: t.headers });
        const cpu1 = sidecarCpu(t);
        const server1 = serverCpu(t);
        if (cpu0 !== undefined && cpu1 !== undefined) res.vcpu = (cpu1 - cpu0) / res.duration_s;
        if (server0 !== undefined && server1 !== undefined) res.serverCpuS = server1 - server0;
        rounds[t.name]!.push(res);
      }
    }

    const fixed: Record<string, Array<Awaited<ReturnType<typeof fixedRate>>>> = {};
    const fixedTargets = targets.filter((t) => t.name === 'direct' || t.name === 'pair');
    if (fixedTargets.length === 2) {
      for (let r = 0; r < FIXED_ROUNDS; r++) {
        for (const t of r % 2 === 0 ? fixedTargets : [...fixedTargets].reverse()) {
          log(`fixed ${FIXED_RATE} rps ${r + 1}/${FIXED_ROUNDS}: ${t.name}`);
          (fixed[t.name] ??= []).push(await fixedRate(t.url, { rate: FIXED_RATE, durationS: FIXED_S, connections: CONNECTIONS, host: t.host }));
        }
      }
    }

    // The single sidecar's memory after its rounds (one service), for comparison with the 100-service one.
    let weftRss: number | null = null;
    try { if (weftPid !== undefined) weftRss = round1(rssMb(weftPid)); } catch { /* it ended: errors say why */ }
    // The memory test runs alone: stop the other sidecars first, so they neither compete nor share pages.
    // Stopping the profiled sidecar (SIGTERM, graceful) is also what writes its CPU profile.
    for (const p of procs.filter((x) => x.name === 'weft' || x.name.startsWith('pair-') || x.name.startsWith('authz-'))) await p.stop();
    const cpuProfiles = cpuProfDir ? Object.fromEntries(readdirSync(cpuProfDir).map((d) => [d, readdirSync(join(cpuProfDir, d)).map((f) => join(cpuProfDir, d, f))])) : undefined;
    const hot: Record<string, unknown> = {};
    for (const [name, files] of Object.entries(cpuProfiles ?? {})) {
      try { hot[name] = files[0] ? hotFunctionsOf(files[0]) : undefined; } catch (err) { hot[name] = { error: brief(err) }; }
    }
    let rss: { ready_mb: number; after_traffic_mb: number; anon_ready_mb: number; anon_after_traffic_mb: number } | undefined;
    try {
      log(`sidecar with ${RSS_SERVICES} services: resident memory`);
      const cfg = join(dir, 'rss-config');
      writeConfigDir(cfg, clientConfig(appPort, RSS_SERVICES));
      const ids = join(dir, 'rss-identity');
      await writeIdentityDirs(ids, join(dir, 'rss-identity-unused'));
      const port = await freePort();
      const sc = await startSidecar({ name: 'rss', configDir: cfg, identityDir: ids, explicit: [`127.0.0.1:${port}=outbound:${SERVICE_IP}:${SERVICE_PORT}`] });
      keep(sc.proc);
      const ready = rssMb(sc.proc.pid);
      const anonReady = rssAnonMb(sc.proc.pid);
      await runWrk(tools, script, `http://127.0.0.1:${port}/`, { connections: CONNECTIONS, threads: WRK_THREADS, durationS: 2, host: SERVICE_HOST });
      rss = { ready_mb: round1(ready), after_traffic_mb: round1(rssMb(sc.proc.pid)),
        anon_ready_mb: round1(anonReady), anon_after_traffic_mb: round1(rssAnonMb(sc.proc.pid)) };
    } catch (err) {
      errors.rss = brief(err);
    }

    return {
      ...summarize({ rounds, fixed, rss, pairMtls, errors, fixedRate: FIXED_RATE }),
      tools: { wrk: tools.wrkVersion, nginx: tools.nginxVersion, fetch_ms: tools.fetchMs },
      sidecar: sidecarBuild,
      authz: { policies: POLICIES, rules_per_policy: RULES_PER_POLICY, jwt_rules: 1, enforced: authzEnforced ?? null },
      setup: { connections: CONNECTIONS, wrk_threads: WRK_THREADS, rounds: ROUNDS, round_s: ROUND_S, body_bytes: BODY_BYTES, rss_services: RSS_SERVICES },
      weft_rss_mb_one_service: weftRss,
      // Other work on the machine shows here; the interleaving spreads it over all variants, not away.
      machine: { cpus: availableParallelism(), load1_before: round1(loadBefore), load1_after: round1(loadavg()[0]!) },
      ...(cpuProfDir ? { cpu_prof_dir: cpuProfDir, cpu_profiles: cpuProfiles, cpu_profile_hot: hot } : {}),
      duration_s: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    for (const p of [...procs].reverse()) await p.stop();
    process.off('exit', signalAll);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One profiled sidecar's own profile directory (the single sidecar and both pairs' server sides). */
function profDir(root: string | undefined, name: string): string | undefined {
  if (!root) return undefined;
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
}

/** CPU seconds the target's sidecars used so far; undefined without sidecars or once one ended. */
function sidecarCpu(t: Target): number | undefined {
  if (!t.sidecarPids) return undefined;
  try {
    return t.sidecarPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  } catch {
    return undefined;
  }
}

function serverCpu(t: Target): number | undefined {
  if (t.serverPid === undefined) return undefined;
  try {
    return cpuSeconds(t.serverPid);
  } catch {
    return undefined;
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** An error's first lines, enough to say why a variant did not run without flooding the report. */
const brief = (err: unknown): string => (err as Error).message.split('\n').slice(0, 3).join(' ').slice(0, 800);
