import { ALL_DRIVERS } from "./storage/all-drivers";
import { registerDrivers } from "./storage/drivers";

// The entry for deployments on Postgres (DATABASE_URL or Hyperdrive) or Redis (REDIS_URL): the default
// entry plus the drivers, each still imported on its first use (src/storage/drivers.ts says why).
registerDrivers(ALL_DRIVERS);

export { default } from "./index";
