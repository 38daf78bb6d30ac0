import { registerDrivers } from "./storage/drivers";

// The entry for deployments on Postgres (DATABASE_URL or Hyperdrive) or Redis (REDIS_URL): the default
// entry plus the drivers, each still imported on its first use (src/storage/drivers.ts says why).
registerDrivers({
  postgres: () => import("./storage/postgres"),
  postgresConnection: () => import("./storage/postgres/connection"),
  redis: () => import("redis"),
});

export { default } from "./index";
