'use strict';
/**
 * `verifier_vs_crypto_verify_<alg>`, a child process of bench/run.js: in one process, the core's
 * TokenVerifier (dist/core/verifier.js) against the bare primitive, node's `crypto.verify`, on the
 * same token's signing input, signature and key, for RS256 (RSA 2048), ES256 (P-256) and EdDSA
 * (Ed25519).
 *
 * Each is counted for `ms` milliseconds, one operation after the other (a verification awaited
 * before the next starts: the cost of one request on one core), alternately, `rounds` times; the
 * figure is the median of the per-round ratios. The verifier has no cache of its own (the
 * verified-token cache sits in front of it, in Identity), so repeating one token measures a full
 * verification each time.
 *
 * argv: rounds ms. Prints one JSON line on stdout: { <alg>: { ratios, verifier, crypto } }.
 */
const crypto = require('node:crypto');
const jose = require('jose');
const { TokenVerifier } = require('../dist/core/verifier');

const ISSUER = 'https://idp.bench.test';
const AUDIENCE = 'urn:node-red-contrib-identity:bench-api';
const ALGORITHMS = {
  RS256: { digest: 'sha256', options: { modulusLength: 2048 } },
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  EdDSA: { digest: null, options: { crv: 'Ed25519' } },
};

async function subject(alg) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, ALGORITHMS[alg].options);
  const now = Math.floor(Date.now() / 1000);
  const token = await new jose.SignJWT({
    iss: ISSUER, aud: AUDIENCE, sub: 'alice', client_id: 'demo-client', iat: now, exp: now + 3600, jti: 'bench-1', scope: 'orders:read',
  }).setProtectedHeader({ alg, kid: 'bench-1', typ: 'at+jwt' }).sign(privateKey);
  const verifier = new TokenVerifier({
    issuer: ISSUER,
    audiences: [AUDIENCE],
    algorithms: [alg],
    clockToleranceSec: 30,
    rfc9068: true,
    maxTokenLength: 16384,
    keys: { keyFor: async () => publicKey },
    now: Date.now,
  });
  const [header, payload, signature] = token.split('.');
  const data = Buffer.from(`${header}.${payload}`);
  const sig = Buffer.from(signature, 'base64url');
  const keyObject = crypto.KeyObject.from(publicKey);
  const { digest, dsaEncoding } = ALGORITHMS[alg];
  const key = dsaEncoding ? { key: keyObject, dsaEncoding } : keyObject;
  if (!crypto.verify(digest, data, key, sig)) throw new Error(`${alg}: crypto.verify refused the token`);
  if ((await verifier.verify(token)).claims.jti !== 'bench-1') throw new Error(`${alg}: the verifier lost the claims`);
  return {
    crypto(ms) {
      let n = 0;
      const end = performance.now() + ms;
      while (performance.now() < end) {
        if (!crypto.verify(digest, data, key, sig)) throw new Error('refused');
        n += 1;
      }
      return (n * 1000) / ms;
    },
    async verifier(ms) {
      let n = 0;
      const end = performance.now() + ms;
      while (performance.now() < end) {
        await verifier.verify(token);
        n += 1;
      }
      return (n * 1000) / ms;
    },
  };
}

async function main() {
  const rounds = Number(process.argv[2]);
  const ms = Number(process.argv[3]);
  const result = {};
  const subjects = {};
  for (const alg of Object.keys(ALGORITHMS)) {
    subjects[alg] = await subject(alg);
    result[alg] = { ratios: [], verifier: [], crypto: [] };
    // One untimed pass of each, so that neither is measured cold.
    subjects[alg].crypto(ms / 4);
    await subjects[alg].verifier(ms / 4);
  }
  for (let round = 0; round < rounds; round += 1) {
    for (const alg of Object.keys(ALGORITHMS)) {
      const raw = subjects[alg].crypto(ms);
      const ours = await subjects[alg].verifier(ms);
      result[alg].crypto.push(raw);
      result[alg].verifier.push(ours);
      result[alg].ratios.push(ours / raw);
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
