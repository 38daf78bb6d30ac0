// Load generation: autocannon for closed-loop throughput phases, a plain sequential loop for slow calls.
import autocannon from "autocannon";

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function summarise(latencies, ok, other, errors, seconds) {
  latencies.sort((a, b) => a - b);
  return {
    requests: ok + other,
    ok,
    non_ok: other,
    errors,
    seconds: round(seconds, 3),
    rps: round(ok / seconds, 1),
    p50_ms: round(percentile(latencies, 50), 2),
    p99_ms: round(percentile(latencies, 99), 2),
    mean_ms: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), 2),
  };
}

export function round(v, digits) {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function cannon(opts) {
  return new Promise((resolve, reject) => {
    const latencies = [];
    let ok = 0;
    let other = 0;
    const statuses = {};
    const instance = autocannon({ timeout: 10, ...opts }, (err, result) => {
      if (err) reject(err);
      else resolve({ result, latencies, ok, other, statuses });
    });
    // Our own histogram: autocannon's records whole milliseconds, too coarse for sub-ms requests.
    instance.on("response", (_client, status, _bytes, ms) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) {
        ok++;
        latencies.push(ms);
      } else other++;
    });
  });
}

/**
 * Closed loop: `connections` keep-alive connections, each sending its next request as soon as the
 * previous answer arrives, for `duration` seconds after a `warmup` of the same shape.
 * `setupClient(client)` customises each connection (autocannon Client API).
 */
export async function load({ url, connections, duration, warmup, method, headers, body, setupClient }) {
  // autocannon treats a present-but-undefined option as set (method: undefined is an error).
  const base = Object.fromEntries(
    Object.entries({ url, connections, method, headers, body, setupClient }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  if (warmup > 0) await cannon({ ...base, duration: warmup });
  const run = await cannon({ ...base, duration });
  const seconds = (run.result.finish - run.result.start) / 1000 || duration;
  return {
    ...summarise(run.latencies, run.ok, run.other, run.result.errors + run.result.timeouts, seconds),
    statuses: run.statuses,
    connections,
  };
}

/**
 * One request at a time, up to `count` timed requests or `maxMs`, after `warm` untimed ones.
 * `send()` returns a fetch Response; only 2xx answers are timed.
 */
export async function sequential({ count, maxMs = 10_000, warm = 2 }, send) {
  for (let i = 0; i < warm; i++) await (await send()).arrayBuffer();
  const latencies = [];
  const statuses = {};
  let other = 0;
  const start = performance.now();
  while (latencies.length + other < count && performance.now() - start < maxMs) {
    const t0 = performance.now();
    const res = await send();
    await res.arrayBuffer();
    const ms = performance.now() - t0;
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.ok) latencies.push(ms);
    else other++;
  }
  const seconds = (performance.now() - start) / 1000;
  return { ...summarise(latencies, latencies.length, other, 0, seconds), statuses };
}
