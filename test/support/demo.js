'use strict';
/** The demo identity provider (flows/demo/provider.mjs) and tokens from it, for node and e2e tests. */
const jose = require('jose');

const CLIENT_SECRET = 'test-client-secret';

async function startProvider() {
  const demo = await import('../../flows/demo/provider.mjs');
  const provider = await demo.startDemoProvider({ clientSecret: CLIENT_SECRET });
  return Object.assign(provider, { audience: demo.DEMO_AUDIENCE, clientId: demo.DEMO_CLIENT_ID });
}

async function tokenEndpoint(provider) {
  const metadata = await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json();
  return metadata.token_endpoint;
}

/** A token response from the provider's token endpoint for a form of grant parameters. */
async function tokenResponse(provider, form) {
  const response = await fetch(await tokenEndpoint(provider), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${provider.clientId}:${CLIENT_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams(form),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`token request failed: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

async function passwordToken(provider, username, scope = 'orders:read') {
  return (await tokenResponse(provider, { grant_type: 'password', username, password: `${username}-password`, scope })).access_token;
}

/** A token signed with the provider's current signing key, with claims the provider would never issue. */
async function providerSigned(provider, claims, header = {}) {
  const [key] = provider.signingKeys;
  const privateKey = await jose.importJWK(key, key.alg);
  const now = Math.floor(Date.now() / 1000);
  const body = {
    iss: provider.issuer, aud: provider.audience, sub: 'alice', client_id: provider.clientId,
    iat: now, exp: now + 300, jti: `jti-${now}-${Math.random()}`, scope: 'orders:read', ...claims,
  };
  const clean = Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
  return new jose.SignJWT(clean).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header }).sign(privateKey);
}

module.exports = { CLIENT_SECRET, startProvider, tokenResponse, passwordToken, providerSigned };
