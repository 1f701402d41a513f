import { defineConfig } from "vitest/config";

/**
 * Integration tests drive real servers, cron, sshd and a container engine on this machine. Each
 * file owns its ports, instance names, test hosts and stacks (see each file's header), so files of
 * different streams may run side by side; within a stream they run one at a time:
 * - "engines": the container engine (one Podman API service at a time) and the data copy tests;
 * - "deploys": everything else that deploys through the Pulumi engine (SSH hosts, SQLite, hooks);
 * - "status", "pitr", "ha", "copy": status and metrics, point-in-time recovery and drills, Patroni
 *   on etcd, and the application moves, each on ports and test hosts of its own.
 * Unit tests run in a parallel stream of their own.
 */
const ENGINES = [
  "test/integration/containers-harness.test.ts",
  "test/integration/docker.test.ts",
  "test/integration/docker-ssh.test.ts",
  "test/integration/adversarial-hooks-docker.test.ts",
  "test/integration/copy.test.ts",
  "test/integration/copy-schema.test.ts",
  "test/integration/copy-safety.test.ts",
  "test/integration/copy-refs.test.ts",
  "test/integration/db-check.test.ts",
  "test/integration/import-from.test.ts",
  "test/integration/ownership-docker.test.ts",
  "test/integration/converge-docker.test.ts",
  "test/integration/docker-status.test.ts",
];

/** Issue 23: status, slow-query logging and metrics (a stream of their own). */
const STATUS = ["test/integration/status-*.test.ts", "test/integration/metrics-*.test.ts"];
/** Point-in-time recovery and restore drills (issue 22). */
const PITR = ["test/integration/pitr-*.test.ts", "test/integration/drill-*.test.ts"];
/** Patroni on etcd under kill and partition (issue 21). */
const HA = ["test/integration/ha-*.test.ts"];
/** The application-move tests (issue 19): hostile values and a real Alembic application, their own stream. */
const COPY_APP = ["test/integration/copy-values*.test.ts", "test/integration/copy-app*.test.ts", "test/integration/copy-import-*.test.ts"];

const shared = {
  testTimeout: 180_000,
  hookTimeout: 300_000,
  globalSetup: ["test/globalSetup.ts"],
};

export default defineConfig({
  test: {
    reporters: ["default"],
    maxWorkers: 3,
    projects: [
      { test: { ...shared, name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { test: { ...shared, name: "engines", include: ENGINES, fileParallelism: false } },
      { test: { ...shared, name: "deploys", include: ["test/integration/**/*.test.ts"], exclude: [...ENGINES, ...STATUS, ...PITR, ...HA, ...COPY_APP], fileParallelism: false } },
      { test: { ...shared, name: "status", include: STATUS, fileParallelism: false } },
      { test: { ...shared, name: "pitr", include: PITR, fileParallelism: false } },
      { test: { ...shared, name: "ha", include: HA, fileParallelism: false } },
      { test: { ...shared, name: "copy", include: COPY_APP, fileParallelism: false } },
    ],
  },
});
