'use strict';
/**
 * The bench's load generator, a child process of bench/run.js so that it never shares an event
 * loop with the server it measures. Driven over IPC, it answers each job with one result message:
 *
 * - `{ type: 'run', url, headers, connections, warmupMs, durationMs, maxRequests, timeoutMs }`:
 *   `connections` keep-alive connections, each sending its next request as soon as the last one is
 *   answered; responses completed during the first `warmupMs` are not counted, the next
 *   `durationMs` are. It stops at the deadline or after `maxRequests` requests, whichever is first.
 *   `headers` may be a list: request n sends `headers[n % length]` (several tokens in turn).
 * - `{ type: 'burst', url, headers, count, timeoutMs }`: `count` requests at once, each on its own
 *   new connection (the cold start of a freshly deployed flow).
 *
 * Every response is read to its end and counted as 2xx or not; a socket error or a request over
 * `timeoutMs` counts as an error. A result with non-2xx answers or errors makes the figure invalid
 * (bench/run.js decides). `cpuPercent` says how busy this process was: near 100 means the load
 * generator, not the server, may have been the limit.
 */
const http = require('node:http');

/** One GET on `agent`; resolves the status code, or 0 for an error or a timeout. */
function get(url, headers, agent, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, agent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(0));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

function tally(counts, status) {
  if (status >= 200 && status < 300) counts.ok += 1;
  else if (status === 0) counts.errors += 1;
  else {
    counts.bad += 1;
    counts.statuses[status] = (counts.statuses[status] ?? 0) + 1;
  }
}

async function run({ url, headers, connections, warmupMs, durationMs, maxRequests, timeoutMs }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const counts = { ok: 0, bad: 0, errors: 0, statuses: {} };
  const warmup = { ok: 0, bad: 0, errors: 0, statuses: {} };
  const cpu = process.cpuUsage();
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const deadline = measureFrom + durationMs;
  let sent = 0;
  let lastEnd = measureFrom;
  const worker = async () => {
    while (sent < maxRequests && performance.now() < deadline) {
      const requestHeaders = Array.isArray(headers) ? headers[sent % headers.length] : headers;
      sent += 1;
      const status = await get(url, requestHeaders, agent, timeoutMs);
      const now = performance.now();
      if (now < measureFrom) tally(warmup, status);
      else if (now <= deadline) {
        tally(counts, status);
        lastEnd = now;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  agent.destroy();
  const elapsedMs = Math.max(lastEnd - measureFrom, 1);
  return {
    ...counts,
    bad: counts.bad + warmup.bad,
    errors: counts.errors + warmup.errors,
    statuses: mergeStatuses(counts.statuses, warmup.statuses),
    sent,
    elapsedMs,
    rps: (counts.ok * 1000) / elapsedMs,
    cpuPercent: ((used.user + used.system) / 1000 / wallMs) * 100,
  };
}

async function burst({ url, headers, count, timeoutMs }) {
  const counts = { ok: 0, bad: 0, errors: 0, statuses: {} };
  const start = performance.now();
  // agent: false, one new connection per request: all of them arrive together, as at a cold start.
  const statuses = await Promise.all(Array.from({ length: count }, () => get(url, headers, false, timeoutMs)));
  for (const status of statuses) tally(counts, status);
  return { ...counts, sent: count, elapsedMs: performance.now() - start };
}

function mergeStatuses(a, b) {
  const merged = { ...a };
  for (const [status, n] of Object.entries(b)) merged[status] = (merged[status] ?? 0) + n;
  return merged;
}

process.on('message', (job) => {
  if (job.type === 'exit') {
    process.disconnect();
    return;
  }
  const work = job.type === 'burst' ? burst(job) : run(job);
  work.then(
    (result) => process.send({ type: 'result', id: job.id, result }),
    (error) => process.send({ type: 'result', id: job.id, error: String(error?.stack ?? error) }),
  );
});
// The parent is gone (finished or killed): so is the load.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
