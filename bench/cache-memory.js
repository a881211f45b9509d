'use strict';
/**
 * `cache_rss_growth_mib_1m_tokens`, a child process of bench/run.js started with --expose-gc:
 * the growth of resident memory (process.memoryUsage().rss, each time after global.gc()) of a
 * process whose Identity (dist/core/identity.js, with its verified-token cache at the defaults)
 * has authenticated N distinct valid tokens.
 *
 * The tokens are minted ahead, ES256 (on this machine P-256 signs about 38,000/s and verifies about
 * 15,000/s, Ed25519 28,000 and 9,400, RSA-2048 4,000 and 46,000: ES256 makes the shortest run),
 * by worker threads into one buffer of signatures; a token's header and claims are a function of
 * its index, so each string is put together when it is used and only the signatures are held
 * (64 bytes a token, allocated before the first measurement). The provider is an in-memory HTTP
 * client serving discovery and the key set, as in test/core. Verification runs 32 at a time.
 *
 * A first Identity authenticates a few thousand other tokens and is closed, so that the measured
 * growth is the cache and the state it keeps, not code that is compiled on first use.
 *
 * argv: N. Prints one JSON line on stdout.
 */
const crypto = require('node:crypto');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const ISSUER = 'https://idp.bench.test';
const AUDIENCE = 'urn:node-red-contrib-identity:bench-api';
const KID = 'bench-1';
const SIGNATURE_BYTES = 64;
const WARM_UP_TOKENS = 2000;
const CONCURRENCY = 32;
const HEADER = Buffer.from(JSON.stringify({ alg: 'ES256', kid: KID, typ: 'at+jwt' })).toString('base64url');

function signingInput(index, iat) {
  const claims = {
    iss: ISSUER, aud: AUDIENCE, sub: 'alice', client_id: 'demo-client', iat, exp: iat + 3600, jti: `bench-${index}`, scope: 'orders:read',
  };
  return `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
}

if (!isMainThread) {
  const { pem, from, to, iat, signatures } = workerData;
  const key = { key: crypto.createPrivateKey(pem), dsaEncoding: 'ieee-p1363' };
  const out = new Uint8Array(signatures);
  for (let index = from; index < to; index += 1) {
    out.set(crypto.sign('sha256', Buffer.from(signingInput(index, iat)), key), index * SIGNATURE_BYTES);
  }
  parentPort.postMessage('done');
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

async function mint(count, privateKey, iat) {
  const signatures = new SharedArrayBuffer(count * SIGNATURE_BYTES);
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' });
  const threads = 2;
  const share = Math.ceil(count / threads);
  await Promise.all(Array.from({ length: threads }, (_, thread) => new Promise((resolve, reject) => {
    const worker = new Worker(__filename, {
      workerData: { pem, from: thread * share, to: Math.min(count, (thread + 1) * share), iat, signatures },
    });
    worker.once('message', resolve);
    worker.once('error', reject);
  })));
  const bytes = Buffer.from(signatures);
  return (index) => `${signingInput(index, iat)}.${bytes.subarray(index * SIGNATURE_BYTES, (index + 1) * SIGNATURE_BYTES).toString('base64url')}`;
}

function identityFor(publicJwk) {
  const { Identity } = require('../dist/core/identity');
  const documents = {
    [`${ISSUER}/.well-known/openid-configuration`]: { issuer: ISSUER, jwks_uri: `${ISSUER}/jwks` },
    [`${ISSUER}/jwks`]: { keys: [publicJwk] },
  };
  const http = {
    async getJson(url) {
      return { status: 200, body: structuredClone(documents[url]), url };
    },
    async postForm() {
      throw new Error('the bench provider has no token endpoint');
    },
  };
  return new Identity({ issuer: ISSUER, audience: AUDIENCE, clientId: 'demo-client', rfc9068: true, http });
}

/** Authenticates tokens from..to-1, CONCURRENCY at a time; resolves the number refused. */
async function authenticateAll(identity, token, from, to) {
  const rules = { scopes: ['orders:read'], roles: [] };
  let next = from;
  let failures = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < to) {
      const index = next;
      next += 1;
      try {
        await identity.authenticate({ headers: { authorization: `Bearer ${token(index)}` } }, rules);
      } catch {
        failures += 1;
      }
    }
  }));
  return failures;
}

async function settledRss() {
  for (let i = 0; i < 3; i += 1) {
    global.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const count = Number(process.argv[2]);
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'ES256', use: 'sig' };
  const iat = Math.floor(Date.now() / 1000);

  let started = performance.now();
  const token = await mint(count + WARM_UP_TOKENS, privateKey, iat);
  const mintMs = performance.now() - started;

  const warm = identityFor(publicJwk);
  await warm.warmUp();
  const warmFailures = await authenticateAll(warm, token, count, count + WARM_UP_TOKENS);
  warm.close();
  if (warmFailures) throw new Error(`${warmFailures} warm-up tokens were refused`);

  const before = await settledRss();
  const identity = identityFor(publicJwk);
  await identity.warmUp();
  started = performance.now();
  const failures = await authenticateAll(identity, token, 0, count);
  const verifyMs = performance.now() - started;
  const after = await settledRss();
  const MiB = 1024 * 1024;
  process.stdout.write(`${JSON.stringify({
    tokens: count,
    failures,
    rssGrowthMiB: (after.rss - before.rss) / MiB,
    heapGrowthMiB: (after.heapUsed - before.heapUsed) / MiB,
    rssBeforeMiB: before.rss / MiB,
    rssAfterMiB: after.rss / MiB,
    cachedTokens: identity.cachedTokens,
    mintMs,
    verifyMs,
    verifiedPerSec: (count * 1000) / verifyMs,
  })}\n`);
  identity.close();
}
