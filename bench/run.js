#!/usr/bin/env node
'use strict';
/**
 * `npm run bench [-- --quick]`: how fast validate-token and get-token are, measured side by side in
 * one run (issue 6). Prints one figure per line on stdout as `name: value`; a header, each round's
 * numbers and the duration go to stderr.
 *
 * Processes, all on 127.0.0.1 with ephemeral ports:
 * - this one: the demo identity provider (flows/demo/provider.mjs), which counts the requests it
 *   gets per path, and the conductor;
 * - bench/node-red.js: Node-RED with this package and the flows of bench/flows.js;
 * - bench/express.js: bare Express and Express with express-oauth2-jwt-bearer (the anchor);
 * - bench/load.js: the load generator, so that it shares no event loop with a server;
 * - bench/verifier.js and bench/cache-memory.js: the in-process figures, one process each, after
 *   the others have stopped.
 *
 * Counts (provider calls at a cold start, for concurrent requests, and the introspection cache's
 * calls and hit rate) are taken at the provider, which counts the requests it gets per path.
 *
 * Every figure is the median of at least 3 rounds; a round measures the variants one after the
 * other (bare, cached, uncached, express, …), so that drift hits all of them alike. Every request
 * must get a 2xx answer: a figure measured with a non-2xx answer or a failed request is printed as
 * `invalid (…)` and makes the run exit 1. The goals of issue 6 are not asserted here.
 *
 * Bounded: each load run stops at its deadline or after MAX_REQUESTS requests, each request after
 * REQUEST_TIMEOUT_MS, and the whole run after RUN_LIMIT_MS (then the child processes are killed).
 */
const { fork, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { AUDIENCE, OPAQUE_AUDIENCE, SCOPE, mainFlows, coldValidateFlows, coldTokenFlows, introspectionFlows } = require('./flows');

const QUICK = process.argv.includes('--quick');
const SETTINGS = QUICK
  ? { rounds: 3, warmupMs: 200, durationMs: 500, verifierMs: 150, cacheTokens: 20_000, runLimitMs: 120_000 }
  : { rounds: 5, warmupMs: 500, durationMs: 2000, verifierMs: 600, cacheTokens: 1_000_000, runLimitMs: 480_000 };
const CONNECTIONS = 32;
const COLD_REQUESTS = 500;
const CC_CONCURRENT = 100;
// The introspection cache: this many requests over this many distinct opaque tokens, in turn.
const INTROSPECTION_REQUESTS = 1000;
const INTROSPECTION_TOKENS = 20;
const MAX_REQUESTS = 500_000;
const REQUEST_TIMEOUT_MS = 10_000;
const CLIENT_SECRET = 'bench-client-secret';
// Longer than the run: the one access token of the load must not expire half-way.
const ACCESS_TOKEN_TTL_SEC = 3600;

const started = performance.now();
const children = new Set();
const figures = new Map();
let invalid = 0;

const log = (line) => process.stderr.write(`${line}\n`);
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);

/** A child with an IPC channel: `ready` resolves its first message, `call` one job's answer. */
function child(script, args = []) {
  const proc = fork(path.join(__dirname, script), args, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  proc.stdout.pipe(process.stderr); // stdout carries the figures only
  children.add(proc);
  const pending = new Map();
  let nextId = 0;
  let onReady;
  const ready = new Promise((resolve, reject) => {
    onReady = resolve;
    proc.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready`)));
  });
  proc.on('message', (message) => {
    if (message.type === 'ready') onReady(message);
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.error) waiting.reject(new Error(`${script}: ${message.error}`));
    else waiting.resolve(message.result ?? message);
  });
  proc.on('exit', (code) => {
    children.delete(proc);
    for (const { reject } of pending.values()) reject(new Error(`${script} exited (${code})`));
    pending.clear();
  });
  return {
    proc,
    ready,
    call(message) {
      nextId += 1;
      const id = nextId;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        proc.send({ ...message, id });
      });
    },
    /** Asks it to stop (`message`, or closing the channel) and waits for its exit. */
    stop(message) {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      if (message) proc.send(message);
      else proc.disconnect();
      return exited;
    },
  };
}

/** Runs a one-shot child and resolves the JSON line it prints. */
function oneShot(script, args, execArgv = []) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...execArgv, path.join(__dirname, script), ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(proc);
    let out = '';
    proc.stdout.on('data', (chunk) => {
      out += chunk;
    });
    proc.on('exit', (code) => {
      children.delete(proc);
      if (code !== 0) {
        reject(new Error(`${script} exited (${code})`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (error) {
        reject(new Error(`${script} printed no result: ${error.message}`));
      }
    });
  });
}

function figure(name, value) {
  figures.set(name, value);
  if (String(value).startsWith('invalid')) invalid += 1;
}

/** `invalid (…)` when any of these load results had a non-2xx answer or a failed request, else undefined. */
function problems(results) {
  const bad = results.reduce((sum, result) => sum + result.bad, 0);
  const errors = results.reduce((sum, result) => sum + result.errors, 0);
  if (!bad && !errors) return undefined;
  const statuses = {};
  for (const result of results) {
    for (const [status, n] of Object.entries(result.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
  }
  const detail = Object.entries(statuses).map(([status, n]) => `${n}×${status}`).join(' ');
  return `invalid (${bad} non-2xx${detail ? `: ${detail}` : ''}, ${errors} failed requests)`;
}

/** Alice's access token: a JWT, or an opaque one for the provider's second API (`resource`). */
async function passwordToken(metadata, resource) {
  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`demo-client:${CLIENT_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: 'alice-password', scope: SCOPE, ...(resource ? { resource } : {}) }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`alice's token: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** One request to a route before the rounds, so that a broken route is named at once. */
async function probe(url, headers) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (!response.ok) log(`# probe ${url}: ${response.status} ${text.slice(0, 300)}`);
}

async function main() {
  const limit = setTimeout(() => {
    log(`# bench: still running after ${SETTINGS.runLimitMs / 1000} s, stopped`);
    for (const proc of children) proc.kill('SIGKILL');
    process.exit(1);
  }, SETTINGS.runLimitMs);
  limit.unref();
  log(`# npm run bench${QUICK ? ' -- --quick' : ''}: Node.js ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}); `
    + `${SETTINGS.rounds} rounds, ${SETTINGS.warmupMs} ms warm-up + ${SETTINGS.durationMs} ms per load run, ${CONNECTIONS} connections`);

  const { startDemoProvider } = await import('../flows/demo/provider.mjs');
  const provider = await startDemoProvider({ clientSecret: CLIENT_SECRET, accessTokenTtlSec: ACCESS_TOKEN_TTL_SEC });
  const metadata = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
  const paths = {
    discovery: '/.well-known/openid-configuration',
    jwks: new URL(metadata.jwks_uri).pathname,
    token: new URL(metadata.token_endpoint).pathname,
    introspection: new URL(metadata.introspection_endpoint).pathname,
  };
  const calls = (what) => provider.requests.get(paths[what]) ?? 0;
  const token = await passwordToken(metadata);
  const headers = { authorization: `Bearer ${token}` };

  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'identity-bench-'));
  const nodeRed = child('node-red.js', [userDir]);
  const express = child('express.js', [provider.issuer, AUDIENCE]);
  const load = child('load.js');
  try {
    const [{ port: nodeRedPort }, { port: expressPort }] = await Promise.all([nodeRed.ready, express.ready, load.ready]);
    const nr = `http://127.0.0.1:${nodeRedPort}`;
    const ex = `http://127.0.0.1:${expressPort}`;
    log(`# ${seconds()} s: provider ${provider.issuer}, Node-RED ${nr}, Express ${ex}`);

    await loadRounds(nodeRed, load, provider, nr, ex, headers);
    await coldStarts(nodeRed, load, provider, nr, headers, calls);
    await introspectionCalls(nodeRed, load, provider, nr, metadata, calls);

    await Promise.all([nodeRed.stop({ type: 'stop' }), express.stop(), load.stop({ type: 'exit' })]);
    await provider.close();

    await verifierRounds();
    await cacheMemory();
  } finally {
    for (const proc of children) proc.kill('SIGKILL');
    await provider.close().catch(() => undefined); // an open server would keep a failed run alive until the limit
    fs.rmSync(path.join(userDir, 'node_modules', 'node-red-contrib-identity'), { force: true });
    fs.rmSync(userDir, { recursive: true, force: true });
  }
}

/** The throughput figures: every variant once per round, in the same order each round. */
async function loadRounds(nodeRed, load, provider, nr, ex, headers) {
  const deployed = await nodeRed.call({ type: 'deploy', flows: mainFlows(provider.issuer, CLIENT_SECRET) });
  if (deployed.error) throw new Error(deployed.error);
  const variants = {
    bare: `${nr}/bare`,
    cached: `${nr}/cached`,
    uncached: `${nr}/uncached`,
    express: `${ex}/bare`,
    express_jwt_bearer: `${ex}/protected`,
    cc_cached: `${nr}/cc-cached`,
    cc_provider: `${nr}/cc-provider`,
  };
  for (const url of Object.values(variants)) await probe(url, headers);
  const results = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  const run = (url, warmupMs, durationMs) => load.call({
    type: 'run', url, headers, connections: CONNECTIONS, warmupMs, durationMs, maxRequests: MAX_REQUESTS, timeoutMs: REQUEST_TIMEOUT_MS,
  });
  // Round 0, not counted: every route and the load generator compiled and warm before round 1.
  // Its answers must be 2xx all the same.
  const warmups = {};
  for (const [name, url] of Object.entries(variants)) {
    warmups[name] = await run(url, 0, SETTINGS.warmupMs);
    log(`# ${seconds()} s round 0 ${name}: ${warmups[name].rps.toFixed(0)} req/s, not counted`);
  }
  for (let round = 1; round <= SETTINGS.rounds; round += 1) {
    for (const [name, url] of Object.entries(variants)) {
      const result = await run(url, SETTINGS.warmupMs, SETTINGS.durationMs);
      results[name].push(result);
      log(`# ${seconds()} s round ${round} ${name}: ${result.rps.toFixed(0)} req/s (${result.ok} 2xx, ${result.bad} non-2xx, ${result.errors} failed; load generator CPU ${result.cpuPercent.toFixed(0)}%)`);
    }
  }
  const ratio = (name, numerator, denominator) => {
    const problem = problems([warmups[numerator], warmups[denominator], ...results[numerator], ...results[denominator]]);
    if (problem) {
      figure(name, problem);
      return;
    }
    const ratios = results[numerator].map((result, round) => result.rps / results[denominator][round].rps);
    log(`# ${name} per round: ${ratios.map((value) => value.toFixed(3)).join(' ')}`);
    figure(name, median(ratios).toFixed(2));
  };
  ratio('validate_cached_vs_bare', 'cached', 'bare');
  ratio('validate_uncached_vs_bare', 'uncached', 'bare');
  ratio('express_jwt_bearer_vs_express', 'express_jwt_bearer', 'express');
  ratio('client_credentials_cached_vs_provider', 'cc_cached', 'cc_provider');
}

/**
 * Provider calls at a cold start: a full deployment of one route behind a new identity-config,
 * then at once `count` concurrent requests; counted from just before the deployment (whose
 * warm-up fetches count too) to the last answer.
 */
async function coldStarts(nodeRed, load, provider, nr, headers, calls) {
  const measure = async (flowsOf, url, count, counted) => {
    const deltas = Object.fromEntries(counted.map((what) => [what, []]));
    const results = [];
    for (let round = 1; round <= SETTINGS.rounds; round += 1) {
      const before = counted.map(calls);
      const deployed = await nodeRed.call({ type: 'deploy', flows: flowsOf(provider.issuer, CLIENT_SECRET, round) });
      if (deployed.error) throw new Error(deployed.error);
      const result = await load.call({ type: 'burst', url, headers, count, timeoutMs: REQUEST_TIMEOUT_MS });
      results.push(result);
      counted.forEach((what, i) => deltas[what].push(calls(what) - before[i]));
      log(`# ${seconds()} s round ${round} ${url} × ${count} at once: ${counted.map((what) => `${what} ${deltas[what].at(-1)}`).join(', ')} `
        + `(${result.ok} 2xx, ${result.bad} non-2xx, ${result.errors} failed, ${result.elapsedMs.toFixed(0)} ms)`);
    }
    return { deltas, problem: problems(results) };
  };

  const cold = await measure(coldValidateFlows, `${nr}/cold`, COLD_REQUESTS, ['discovery', 'jwks']);
  figure('cold_start_discovery_fetches', counts(cold.problem, cold.deltas.discovery));
  figure('cold_start_jwks_fetches', counts(cold.problem, cold.deltas.jwks));
  const cc = await measure(coldTokenFlows, `${nr}/cc-cold`, CC_CONCURRENT, ['token']);
  figure('client_credentials_provider_calls_100_concurrent', counts(cc.problem, cc.deltas.token));
}

/**
 * Introspection calls counted at the provider, each round behind a new identity-config in
 * introspection mode (nothing cached): 100 concurrent requests with one opaque token, then
 * INTROSPECTION_REQUESTS requests on CONNECTIONS connections over INTROSPECTION_TOKENS other
 * tokens in turn. The hit rate is the share of those requests answered without a call.
 */
async function introspectionCalls(nodeRed, load, provider, nr, metadata, calls) {
  const tokens = [];
  for (let i = 0; i <= INTROSPECTION_TOKENS; i += 1) tokens.push(await passwordToken(metadata, OPAQUE_AUDIENCE));
  const [burstHeaders, ...rotating] = tokens.map((token) => ({ authorization: `Bearer ${token}` }));
  const url = `${nr}/introspect`;
  const concurrent = [];
  const repeated = [];
  const results = [];
  for (let round = 1; round <= SETTINGS.rounds; round += 1) {
    const deployed = await nodeRed.call({ type: 'deploy', flows: introspectionFlows(provider.issuer, CLIENT_SECRET, round) });
    if (deployed.error) throw new Error(deployed.error);
    let before = calls('introspection');
    const burst = await load.call({ type: 'burst', url, headers: burstHeaders, count: CC_CONCURRENT, timeoutMs: REQUEST_TIMEOUT_MS });
    concurrent.push(calls('introspection') - before);
    before = calls('introspection');
    const run = await load.call({
      type: 'run', url, headers: rotating, connections: CONNECTIONS, warmupMs: 0, durationMs: 60_000,
      maxRequests: INTROSPECTION_REQUESTS, timeoutMs: REQUEST_TIMEOUT_MS,
    });
    repeated.push(calls('introspection') - before);
    // A run cut short by its deadline sent fewer requests than the figure names.
    results.push(burst, run.sent === INTROSPECTION_REQUESTS ? run : { ...run, errors: run.errors + INTROSPECTION_REQUESTS - run.sent });
    log(`# ${seconds()} s round ${round} introspection: ${CC_CONCURRENT} at once with one token, ${concurrent.at(-1)} calls; `
      + `${run.sent} requests over ${INTROSPECTION_TOKENS} tokens, ${repeated.at(-1)} calls (${run.ok} 2xx, ${run.bad} non-2xx, ${run.errors} failed)`);
  }
  const problem = problems(results);
  figure('introspection_calls_100_concurrent', counts(problem, concurrent));
  figure('introspection_calls_1000_requests_20_tokens', counts(problem, repeated));
  figure('introspection_cache_hit_rate', problem ? counts(problem, repeated) : (1 - median(repeated) / INTROSPECTION_REQUESTS).toFixed(3));
}

/** A count's median, or the problem that makes it invalid (with the median for the record). */
function counts(problem, values) {
  return problem ? `${problem.replace(/\)$/, '')}; median count ${median(values)})` : String(median(values));
}

async function verifierRounds() {
  const rounds = Math.max(3, SETTINGS.rounds);
  const result = await oneShot('verifier.js', [rounds, SETTINGS.verifierMs]);
  for (const [alg, name] of [['RS256', 'rs256'], ['ES256', 'es256'], ['EdDSA', 'eddsa']]) {
    const { ratios, verifier, crypto } = result[alg];
    log(`# ${seconds()} s ${alg}: verifier ${verifier.map((n) => n.toFixed(0)).join(' ')} ops/s, crypto.verify ${crypto.map((n) => n.toFixed(0)).join(' ')} ops/s`);
    figure(`verifier_vs_crypto_verify_${name}`, median(ratios).toFixed(2));
  }
}

async function cacheMemory() {
  const result = await oneShot('cache-memory.js', [SETTINGS.cacheTokens], ['--expose-gc']);
  log(`# ${seconds()} s ${result.tokens} distinct tokens: minted in ${(result.mintMs / 1000).toFixed(1)} s, `
    + `authenticated in ${(result.verifyMs / 1000).toFixed(1)} s (${result.verifiedPerSec.toFixed(0)}/s), ${result.failures} refused; `
    + `rss ${result.rssBeforeMiB.toFixed(1)} → ${result.rssAfterMiB.toFixed(1)} MiB, heap +${result.heapGrowthMiB.toFixed(1)} MiB, ${result.cachedTokens} cached`);
  figure('cache_rss_growth_mib_1m_tokens', result.failures
    ? `invalid (${result.failures} of ${result.tokens} tokens refused)`
    : result.rssGrowthMiB.toFixed(1));
}

const ORDER = [
  'validate_cached_vs_bare', 'validate_uncached_vs_bare', 'express_jwt_bearer_vs_express',
  'verifier_vs_crypto_verify_rs256', 'verifier_vs_crypto_verify_es256', 'verifier_vs_crypto_verify_eddsa',
  'cold_start_discovery_fetches', 'cold_start_jwks_fetches',
  'client_credentials_cached_vs_provider', 'client_credentials_provider_calls_100_concurrent',
  'introspection_calls_100_concurrent', 'introspection_calls_1000_requests_20_tokens', 'introspection_cache_hit_rate',
  'cache_rss_growth_mib_1m_tokens',
];

function report() {
  for (const name of ORDER) {
    if (figures.has(name)) process.stdout.write(`${name}: ${figures.get(name)}\n`);
  }
  log(`# ${seconds()} s in all`);
}

main().then(() => {
  report();
  process.exitCode = invalid ? 1 : 0;
}, (error) => {
  report();
  console.error(error);
  process.exitCode = 1;
});
