import type { DriverModules } from "./drivers";

/**
 * Every driver, each imported on first use. Only src/index.postgres.ts (and tests of the driver paths)
 * import this module: whatever imports it carries `pg` and `redis` in its bundle.
 */
export const ALL_DRIVERS: DriverModules = {
  postgres: () => import("./postgres"),
  postgresConnection: () => import("./postgres/connection"),
  redis: () => import("redis"),
};
