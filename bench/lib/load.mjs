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
    latencies,
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

/**
 * Closed loop: `connections` keep-alive connections, each sending its next request as soon as the
 * previous answer arrives, for `warmup` + `duration` seconds; only answers after the warmup count.
 * One continuous run rather than two: a run's end drops in-flight requests, which would break the
 * refresh chains (the server rotated a token whose answer the client never read).
 * `setupClient(client)` customises each connection (autocannon Client API).
 */
export function load({ url, connections, duration, warmup = 0, method, headers, body, setupClient }) {
  // autocannon treats a present-but-undefined option as set (method: undefined is an error).
  const opts = Object.fromEntries(
    Object.entries({ url, connections, method, headers, body, setupClient }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  return new Promise((resolve, reject) => {
    const latencies = [];
    const statuses = {};
    let ok = 0;
    let other = 0;
    let errors = 0;
    let measuring = warmup <= 0;
    let measureFrom = performance.now();
    let warmTimer = null;
    if (!measuring) {
      warmTimer = setTimeout(() => {
        measuring = true;
        measureFrom = performance.now();
      }, warmup * 1000);
    }
    const instance = autocannon({ timeout: 10, ...opts, duration: warmup + duration }, (err) => {
      clearTimeout(warmTimer);
      if (err) return reject(err);
      const seconds = (performance.now() - measureFrom) / 1000;
      resolve({ ...summarise(latencies, ok, other, errors, seconds), statuses, connections });
    });
    // Our own histogram: autocannon's records whole milliseconds, too coarse for sub-ms requests.
    instance.on("response", (_client, status, _bytes, ms) => {
      if (!measuring) return;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 200 && status < 300) {
        ok++;
        latencies.push(ms);
      } else other++;
    });
    instance.on("reqError", () => {
      if (measuring) errors++;
    });
  });
}

/** Sums several runs of the same load into one summary (latencies pooled, rate over total time). */
function merge(runs) {
  const statuses = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const sum = (key) => runs.reduce((a, r) => a + r[key], 0);
  return {
    ...summarise(
      runs.flatMap((r) => r.latencies),
      sum("ok"),
      sum("non_ok"),
      sum("errors"),
      sum("seconds"),
    ),
    statuses,
    connections: runs[0].connections,
    rounds: runs.length,
  };
}

/**
 * Runs each named load in turn, `rounds` times (A B A B ...), `duration / rounds` seconds each, and
 * merges per name: drift in the machine's other load then hits every figure alike, so ratios hold.
 */
export async function alternate(loads, { rounds, duration, warmup, onRound }) {
  const runs = Object.fromEntries(Object.keys(loads).map((k) => [k, []]));
  for (let i = 0; i < rounds; i++) {
    for (const [name, opts] of Object.entries(loads)) {
      const r = await load({ ...opts, duration: duration / rounds, warmup });
      runs[name].push(r);
      onRound?.(name, i, r);
    }
  }
  return Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, merge(v)]));
}

/**
 * Rotates several slow calls one request at a time (a, b, c, a, b, c, ...) and returns a summary of
 * each plus, for every call after the first, the median of its differences to the first call of the
 * same round: pairing within a round cancels most of the drift in background load. A round with a
 * non-2xx answer is counted as bad and left out of every figure.
 */
export async function rotatingSequential({ count, maxMs = 20_000, warm = 2 }, sends) {
  const names = Object.keys(sends);
  const timed = async (send) => {
    const t0 = performance.now();
    const res = await send();
    await res.arrayBuffer();
    return { ms: performance.now() - t0, status: res.status, ok: res.ok };
  };
  for (let i = 0; i < warm; i++) for (const name of names) await timed(sends[name]);
  const ms = Object.fromEntries(names.map((n) => [n, []]));
  const diffs = Object.fromEntries(names.slice(1).map((n) => [n, []]));
  const statuses = Object.fromEntries(names.map((n) => [n, {}]));
  let good = 0;
  let bad = 0;
  const start = performance.now();
  while (good + bad < count && performance.now() - start < maxMs) {
    const round = {};
    for (const name of names) {
      const r = await timed(sends[name]);
      statuses[name][r.status] = (statuses[name][r.status] ?? 0) + 1;
      round[name] = r;
    }
    if (names.some((n) => !round[n].ok)) {
      bad++;
      continue;
    }
    good++;
    for (const name of names) ms[name].push(round[name].ms);
    for (const name of names.slice(1)) diffs[name].push(round[name].ms - round[names[0]].ms);
  }
  const seconds = (performance.now() - start) / 1000;
  const out = {};
  for (const name of names) {
    out[name] = { ...summarise(ms[name], good, bad, 0, seconds), statuses: statuses[name] };
    if (diffs[name]) {
      const sorted = diffs[name].sort((p, q) => p - q);
      out[name].diff_p50_ms = round(percentile(sorted, 50), 2);
      out[name].diffs = sorted.map((d) => round(d, 2));
    }
  }
  return out;
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
