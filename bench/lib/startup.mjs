// Cold start: `wrangler check startup` (bundle, then a local CPU profile of the Worker's start-up) on the
// production Worker and on the reference of bench/startup-reference.ts, alternating, median of each.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const WRANGLER_ENV = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
}

/** One `wrangler check startup` run: { active_ms, gc_ms, bundle_kib, gzip_kib }. */
function checkStartup(root, config, outDir, i) {
  const r = spawnSync(
    join(root, "node_modules", ".bin", "wrangler"),
    // --args too: `check startup` builds with `wrangler deploy --dry-run` and does not hand its own
    // --config to it, so without this every config was profiled as the root wrangler.toml's Worker
    // (wrangler 4.156; the reference then read as the service itself, same bundle size to the byte).
    [
      "check",
      "startup",
      "--config",
      config,
      `--args=--config ${config}`,
      "--outfile",
      join(outDir, `startup-${i}.cpuprofile`),
    ],
    { cwd: root, env: WRANGLER_ENV, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  const bundle = /Bundle:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(out);
  const active = /Active:\s*([\d.]+)\s*ms(?:\s*\(including\s*([\d.]+)\s*ms garbage)?/.exec(out);
  if (r.status !== 0 || !bundle || !active) {
    throw new Error(`wrangler check startup --config ${config} failed (${r.status}):\n${out.slice(-2000)}`);
  }
  return {
    active_ms: Number(active[1]),
    gc_ms: active[2] ? Number(active[2]) : null,
    bundle_kib: Number(bundle[1]),
    gzip_kib: Number(bundle[2]),
  };
}

/**
 * Profiles `configs` ({ name: wrangler config path }) `runs` times each, alternating so background load
 * hits all alike; returns per name the runs, the median and the minimum.
 */
export function profileStartup(root, configs, runs = 5) {
  const outDir = mkdtempSync(join(tmpdir(), "edge-auth-startup-"));
  const samples = Object.fromEntries(Object.keys(configs).map((k) => [k, []]));
  try {
    for (let i = 0; i < runs; i++) {
      for (const [name, config] of Object.entries(configs)) {
        samples[name].push(checkStartup(root, config, outDir, `${name}-${i}`));
      }
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  return Object.fromEntries(
    Object.entries(samples).map(([name, s]) => [
      name,
      {
        runs: s,
        active_ms: median(s.map((x) => x.active_ms)),
        // Other processes only ever add CPU time to a sample: the fastest run is the least disturbed one.
        min_active_ms: Math.min(...s.map((x) => x.active_ms)),
        bundle_kib: s[0].bundle_kib,
        gzip_kib: s[0].gzip_kib,
      },
    ]),
  );
}
