// BullMQ's side of `underwrite bench noop`: the same workload on the same kind of Redis.
//
//   N no-op jobs: the first min(N, 10,000) enqueued one by one (`queue.add`, each awaited
//   before the next, as ours), the rest with `queue.addBulk` in bulks of 1,000, then drained
//   by one `Worker` at concurrency C whose processor does nothing. Drain time runs from
//   creating the worker to the N-th processor call returning (ours counts handler runs too).
//
// Completed jobs are kept (BullMQ's default, `removeOnComplete: false`): our backend keeps a
// succeeded record for 7 days, so keeping them is the like-for-like choice.
//
// Usage: REDIS_URL=redis://127.0.0.1:6390/ node noop.mjs --jobs 100000 --concurrency 64

import { readFileSync } from "node:fs";
import { Queue, Worker } from "bullmq";

const SINGLE = 10_000;
const BULK = 1_000;
// A drain that makes no progress for this long has stalled: fail instead of hanging.
const STALL_MS = 30_000;

function parseArgs(argv) {
  const options = { jobs: 100_000, concurrency: 64 };
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === "--jobs" || flag === "--concurrency") {
      const n = Number.parseInt(value, 10);
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(`${flag} needs a positive integer, got ${value}`);
      }
      options[flag.slice(2)] = n;
      i += 1;
    } else {
      throw new Error(`unknown argument ${flag}: expected --jobs N, --concurrency C`);
    }
  }
  return options;
}

// ioredis options from a redis:// URL, so we need no direct dependency on ioredis.
function connectionFrom(url) {
  const u = new URL(url);
  return {
    host: u.hostname || "127.0.0.1",
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: Number(u.pathname.replace("/", "") || 0),
    // Required by BullMQ workers (blocking commands must not be retried by count).
    maxRetriesPerRequest: null,
  };
}

const payload = () => ({ sent_ns: process.hrtime.bigint().toString() });
const rate = (n, ms) => (n === 0 ? 0 : Math.round((n * 1000) / Math.max(ms, 1e-6)));

async function enqueueSingle(queue, n) {
  const started = performance.now();
  for (let i = 0; i < n; i += 1) {
    await queue.add("noop", payload());
  }
  return performance.now() - started;
}

async function enqueueBulk(queue, n) {
  const started = performance.now();
  for (let left = n; left > 0; left -= BULK) {
    const jobs = Array.from({ length: Math.min(left, BULK) }, () => ({
      name: "noop",
      data: payload(),
    }));
    await queue.addBulk(jobs);
  }
  return performance.now() - started;
}

// Resolves with the drain time once `total` processor calls have returned; rejects on a stall.
function drain(name, connection, total, concurrency) {
  return new Promise((resolve, reject) => {
    let done = 0;
    let lastProgress = performance.now();
    const started = performance.now();
    const worker = new Worker(
      name,
      async () => {
        done += 1;
      },
      { connection, concurrency },
    );
    worker.on("error", (e) => console.error(`worker error: ${e.message}`));
    let seen = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      if (done >= total) {
        clearInterval(timer);
        resolve({ worker, ms: now - started });
      } else if (done > seen) {
        [seen, lastProgress] = [done, now];
      } else if (now - lastProgress > STALL_MS) {
        clearInterval(timer);
        reject(Object.assign(new Error(`stalled at ${done} of ${total} jobs`), { worker }));
      }
    }, 5);
  });
}

function printReport(rows, json) {
  console.log("bench noop (bullmq)");
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [key, value] of rows) console.log(`  ${key.padEnd(width)}  ${value}`);
  console.log(JSON.stringify(json));
}

async function main() {
  const { jobs, concurrency } = parseArgs(process.argv.slice(2));
  const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379/";
  const connection = connectionFrom(url);
  const version = JSON.parse(
    readFileSync(new URL("./node_modules/bullmq/package.json", import.meta.url)),
  ).version;
  const name = `bench-noop-${Date.now()}-${process.pid}`;
  const queue = new Queue(name, { connection });
  let worker;
  try {
    const singleN = Math.min(jobs, SINGLE);
    const bulkN = jobs - singleN;
    const singleMs = await enqueueSingle(queue, singleN);
    const bulkMs = await enqueueBulk(queue, bulkN);
    const drained = await drain(name, connection, jobs, concurrency);
    worker = drained.worker;
    const [single, bulk, drainRate] = [
      rate(singleN, singleMs),
      rate(bulkN, bulkMs),
      rate(jobs, drained.ms),
    ];
    printReport(
      [
        ["bullmq", version],
        ["node", process.version],
        ["jobs", jobs],
        ["concurrency", concurrency],
        ["removeOnComplete", "false (completed jobs kept)"],
        ["enqueue one by one (jobs/s)", single],
        [`enqueue in bulk of ${BULK} (jobs/s)`, bulk],
        ["drain (jobs/s)", drainRate],
      ],
      {
        bench: "noop",
        impl: "bullmq",
        bullmq: version,
        node: process.version,
        jobs,
        concurrency,
        remove_on_complete: false,
        enqueue_single_per_s: single,
        enqueue_bulk_per_s: bulk,
        drain_per_s: drainRate,
      },
    );
  } catch (e) {
    worker = e.worker ?? worker;
    throw e;
  } finally {
    // Close the worker before deleting the queue, so it holds no lock on a job.
    if (worker) await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

main().catch((e) => {
  console.error(`bench noop (bullmq) failed: ${e.message}`);
  process.exit(1);
});
