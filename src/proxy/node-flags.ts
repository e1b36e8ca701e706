// The Node/V8 flags the sidecar runs with (`node <SIDECAR_NODE_FLAGS> dist/cli/weft.js proxy ...`): the injected
// container's command and the proxy bench use this one list. In: nothing. Out: the flags, and why each is there.
// They go on the command line before the script: NODE_OPTIONS refuses --liftoff-only and
// --no-concurrent-recompilation.
// Measured with a 100-service config (bench/proxy.ts `sidecar_rss_mb`, compiled build): together they take the
// resident memory after traffic from ~145-190 MB to ~92 MB (ready: ~105 → ~87 MB); interleaved wrk rounds showed no
// throughput difference beyond the machine's noise. Not used: --lite-mode and --jitless (no WebAssembly, so undici's
// parser cannot load), --single-threaded(-gc) (the first full GC comes later: more memory at ready),
// --max-old-space-size (a large mesh's config would crash the proxy instead of slowing it).

export const SIDECAR_NODE_FLAGS: readonly string[] = [
  // The young generation's semi-spaces default to 16 MB (x2 plus the copy reserve); a proxy's garbage is small
  // and short-lived, so small semi-spaces save ~20-30 MB. Not 1 MB: a scavenge copies every in-flight request's
  // objects whatever the space's size, so halving it doubles that copying per request. With 1 MB, a server sidecar
  // enforcing 200 RBAC rules and a JWT rule under load spent ~52 µs per request in the collector (~21 without
  // policies; --cpu-prof, and --trace-gc showed ~0.8 ms scavenges keeping ~40% of the space); with 2 MB the bench's
  // authz_overhead_us went from 110-129 to 30-96 and sidecar_rss_mb from ~96.2 to ~96.6 (3 runs each).
  '--max-semi-space-size=2',
  // The HTTP/1 parser (undici's llhttp) is WebAssembly; tiering it up to the optimizing compiler takes tens of MB
  // of compiler memory that the C allocator keeps afterwards (RSS jumped by up to ~70 MB a few seconds into
  // traffic). The baseline compiler's code is fast enough for parsing headers.
  '--liftoff-only',
  // One V8 worker thread instead of one per core: background compilation and GC helpers each keep their own
  // malloc arena, which the RSS keeps; a sidecar gets a fraction of a core anyway.
  '--v8-pool-size=1',
  // Optimizing JS on the main thread: the compiler's scratch memory then comes from (and returns to) the main
  // malloc arena instead of staying in a worker's (~15 MB after traffic). It costs short pauses while the code
  // warms up, not steady-state speed.
  '--no-concurrent-recompilation',
];
