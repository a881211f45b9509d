#!/usr/bin/env node
/**
 * `npm run soak`: the launcher behind `npm start` (Node-RED, every sample flow, the demo provider)
 * on a free loopback port with a fresh user directory, and `GET /api/orders` with alice's token at
 * saturation from bench/load.js in a second process: a fixed number of keep-alive connections,
 * each sending its next request as soon as the last one is answered, for a bounded time and count.
 *
 * Reports requests, errors, 5xx and other non-2xx answers, and the resident memory (VmRSS) of the
 * launcher process after the warm-up and at the end: the floor (lowest reading of the last 5 s,
 * which spans several garbage collections), the single readings and the peak. Exits 1 when any
 * request failed (socket error, timeout, non-2xx; 5xx counted apart) or the floor at the end is
 * more than 10% above the floor after the warm-up.
 *
 * Options: --seconds N (measured duration, default 30), --warmup N (seconds, default 10),
 * --connections N (default 16). The demo provider issues 3-minute tokens, so the measured time is
 * cut into slices of at most 60 s, each with a fresh token.
 */
'use strict';
const { startLauncher } = require('../test/support/launcher');
const { fork } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const CLIENT = { id: 'demo-client', secret: 'demo-client-secret' }; // the launcher's defaults
const MAX_GROWTH = 0.10;
const FLOOR_WINDOW_SEC = 5;
const SLICE_MS = 60_000;
const REQUEST_TIMEOUT_MS = 5000;
const MAX_REQUESTS_PER_SECOND = 200_000; // the bound on requests, far above what loopback allows

function option(name, fallback, { min = 1, max = 86_400 } = {}) {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Resident memory of a process in bytes, from /proc/<pid>/status (Linux). */
function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Alice's access token from the demo provider (password grant, as in the README quick start). */
async function aliceToken(base) {
  const response = await fetch(`${base}/realms/demo/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'alice-password', scope: 'orders:read' }),
  });
  const body = await response.json();
  if (!response.ok || typeof body.access_token !== 'string') throw new Error(`no token for alice: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** bench/load.js in its own process, driven over IPC. */
async function startLoadGenerator() {
  const child = fork(path.join(ROOT, 'bench', 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 0;
  child.on('message', (message) => {
    if (message.type !== 'result') return;
    const job = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) job.reject(new Error(message.error));
    else job.resolve(message.result);
  });
  await new Promise((resolve, reject) => {
    child.once('message', (message) => (message.type === 'ready' ? resolve() : reject(new Error('load generator not ready'))));
    child.once('exit', (code) => reject(new Error(`the load generator exited with ${code}`)));
  });
  child.on('exit', (code) => {
    for (const job of pending.values()) job.reject(new Error(`the load generator exited with ${code}`));
  });
  return {
    run(job) {
      nextId += 1;
      const id = nextId;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ type: 'run', id, ...job });
      });
    },
    stop() {
      if (child.connected) child.send({ type: 'exit' });
    },
  };
}

function add(total, result) {
  total.ok += result.ok;
  total.bad += result.bad;
  total.errors += result.errors;
  total.sent += result.sent;
  total.elapsedMs += result.elapsedMs;
  total.cpu.push(result.cpuPercent);
  for (const [status, n] of Object.entries(result.statuses)) total.statuses[status] = (total.statuses[status] ?? 0) + n;
}

async function main() {
  const seconds = option('seconds', 30);
  const warmupSec = option('warmup', 10);
  const connections = option('connections', 16, { max: 256 });
  const launcher = await startLauncher();
  const load = await startLoadGenerator();
  const stopAll = async () => {
    load.stop();
    await launcher.stop();
  };
  process.once('SIGINT', () => stopAll().then(() => process.exit(130)));
  try {
    const url = `${launcher.base}/api/orders`;
    const job = (token, ms) => ({
      url, headers: { Authorization: `Bearer ${token}` }, connections, warmupMs: 0, durationMs: ms,
      maxRequests: Math.ceil((ms / 1000) * MAX_REQUESTS_PER_SECOND), timeoutMs: REQUEST_TIMEOUT_MS,
    });
    console.log(`soak: GET ${url} with alice's token, ${connections} connections, ${warmupSec} s warm-up, ${seconds} s measured`);

    // VmRSS every 250 ms: under this load V8's young generation makes a saw-tooth of about 70 MiB
    // every 2 s, so a single reading says more about the GC's phase than about a leak. What a leak
    // raises is the floor, the lowest reading of a window that spans several collections.
    const samples = [];
    const sample = () => samples.push({ atMs: Date.now(), rss: rssBytes(launcher.pid) });
    const sampler = setInterval(sample, 250);
    const floorSince = (fromMs) => Math.min(...samples.filter((s) => s.atMs >= fromMs).map((s) => s.rss));

    const warmup = await load.run(job(await aliceToken(launcher.base), warmupSec * 1000));
    sample();
    const rssWarm = samples.at(-1).rss;
    const floorWarm = floorSince(Date.now() - Math.min(warmupSec, FLOOR_WINDOW_SEC) * 1000);
    const measuredFrom = Date.now();

    const total = { ok: 0, bad: 0, errors: 0, sent: 0, elapsedMs: 0, statuses: {}, cpu: [] };
    for (let left = seconds * 1000; left > 0; left -= SLICE_MS) {
      add(total, await load.run(job(await aliceToken(launcher.base), Math.min(left, SLICE_MS))));
    }
    sample();
    clearInterval(sampler);
    const rssEnd = samples.at(-1).rss;
    const floorEnd = floorSince(Math.max(measuredFrom, Date.now() - FLOOR_WINDOW_SEC * 1000));
    const rssPeak = Math.max(...samples.filter((s) => s.atMs >= measuredFrom).map((s) => s.rss));

    const serverErrors = Object.entries(total.statuses).filter(([status]) => Number(status) >= 500).reduce((sum, [, n]) => sum + n, 0);
    const otherNon2xx = total.bad - serverErrors;
    const growth = (floorEnd - floorWarm) / floorWarm;
    const pointGrowth = (rssEnd - rssWarm) / rssWarm;
    const percent = (ratio) => `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
    const warmupFailures = warmup.bad + warmup.errors;
    console.log(`warm-up:        ${warmup.ok + warmupFailures} requests, ${warmup.ok} 2xx, ${warmupFailures} failed`);
    const answered = total.ok + total.bad + total.errors;
    console.log(`requests:       ${answered} (${total.ok} 2xx) in ${(total.elapsedMs / 1000).toFixed(1)} s, ${(total.ok / (total.elapsedMs / 1000)).toFixed(0)} per second`);
    console.log(`errors:         ${total.errors} (socket errors and timeouts)`);
    console.log(`5xx:            ${serverErrors}`);
    console.log(`other non-2xx:  ${otherNon2xx}${otherNon2xx ? ` ${JSON.stringify(total.statuses)}` : ''}`);
    console.log(`launcher RSS:   floor ${mib(floorWarm)} after warm-up, ${mib(floorEnd)} at the end (${percent(growth)}; lowest reading of the last ${FLOOR_WINDOW_SEC} s of each)`);
    console.log(`                single readings ${mib(rssWarm)} after warm-up, ${mib(rssEnd)} at the end (${percent(pointGrowth)}), peak ${mib(rssPeak)}`);
    console.log(`load generator: ${Math.max(...total.cpu).toFixed(0)}% CPU at most (near 100: it, not the server, may be the limit)`);

    const failures = [];
    if (warmupFailures + total.errors + otherNon2xx > 0) failures.push('failed requests');
    if (serverErrors > 0) failures.push('5xx answers');
    if (growth > MAX_GROWTH) failures.push(`resident memory (floor) grew by more than ${MAX_GROWTH * 100}%`);
    if (total.ok === 0) failures.push('no request succeeded');
    console.log(failures.length ? `FAIL: ${failures.join(', ')}` : 'PASS');
    process.exitCode = failures.length ? 1 : 0;
  } catch (error) {
    console.error(error);
    console.error(launcher.output());
    process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
