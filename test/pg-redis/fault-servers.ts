// Runs in Node before the pg-redis workers start (workerd cannot listen or spawn). Gives the tests servers
// of their own, so no test stops, pauses or kills anything another test file or developer relies on:
//   - a "silent" TCP listener that accepts connections and never answers (a hung store, a firewall, the
//     wrong service on that port): what a connect timeout alone does not catch;
//   - a private redis-server on a free port, that the faults-under-load test stops and restarts through
//     a small HTTP control endpoint on 127.0.0.1;
//   - a second private redis-server whose clients test/pg-redis/resilience.test.ts may CLIENT KILL.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer, type Socket } from "node:net";
import type { TestProject } from "vitest/node";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

async function waitForPort(port: number, up: boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const s = createServer().listen(port, "127.0.0.1");
      s.once("listening", () => s.close(() => resolve(false)));
      s.once("error", () => resolve(true));
    });
    if (open === up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on ${port} did not come ${up ? "up" : "down"}`);
}

class OwnRedis {
  #child: ChildProcess | null = null;
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    if (this.#child) return;
    // In-memory only (--save "" --appendonly no), so a restart loses every key: the worst case for the app.
    this.#child = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    await waitForPort(this.port, true);
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    await waitForPort(this.port, false);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const silentPort = (silent.address() as { port: number }).port;

  const redis = new OwnRedis(await freePort());
  await redis.start();
  const killable = new OwnRedis(await freePort());
  await killable.start();
  const control: Server = createHttpServer((req, res) => {
    const action = req.method === "POST" ? req.url : undefined;
    const done = (p: Promise<void>) =>
      p.then(
        () => res.writeHead(204).end(),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    if (action === "/redis/stop") done(redis.stop());
    else if (action === "/redis/start") done(redis.start());
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const controlPort = (control.address() as { port: number }).port;

  project.provide("faults", {
    silentRedisUrl: `redis://127.0.0.1:${silentPort}/0`,
    silentPostgresUrl: `postgres://postgres@127.0.0.1:${silentPort}/none`,
    ownRedisUrl: `redis://127.0.0.1:${redis.port}/0`,
    killableRedisUrl: `redis://127.0.0.1:${killable.port}/0`,
    controlUrl: `http://127.0.0.1:${controlPort}`,
  });

  return async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
    await new Promise((r) => control.close(r));
    await redis.stop();
    await killable.stop();
  };
}
