/**
 * The bench Worker on Postgres: bench/worker.ts plus the drivers, as src/index.postgres.ts is the
 * service's entry plus the drivers. `npm run bench` starts it (with DATABASE_URL = BENCH_DATABASE_URL)
 * only for the Postgres figures of the events phase.
 */
import { ALL_DRIVERS } from "../src/storage/all-drivers";
import { registerDrivers } from "../src/storage/drivers";

registerDrivers(ALL_DRIVERS);

export { default } from "./worker";
