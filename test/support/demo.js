'use strict';
/** The demo identity provider (flows/demo/provider.mjs) and tokens from it, for node and e2e tests. */
const jose = require('jose');

const CLIENT_SECRET = 'test-client-secret';

async function startProvider(options = {}) {
  const demo = await import('../../flows/demo/provider.mjs');
  const provider = await demo.startDemoProvider({ clientSecret: CLIENT_SECRET, ...options });
  return Object.assign(provider, {
    audience: demo.DEMO_AUDIENCE, clientId: demo.DEMO_CLIENT_ID, jwtClientId: demo.DEMO_JWT_CLIENT_ID, publicClientId: demo.DEMO_PUBLIC_CLIENT_ID,
  });
}

/**
 * What a browser does between a login redirect and the callback: follows the provider's redirects
 * with its cookies, posts the credentials to the demo login page, and returns the URL the provider
 * finally sends the browser to (the flow's callback, with code and state).
 */
async function browserLogin(authorizationUrl, redirectUri, { username = 'alice', password = 'alice-password' } = {}) {
  const cookies = new Map();
  const go = async (url, init = {}) => {
    const res = await fetch(url, {
      redirect: 'manual', ...init,
      headers: { ...init.headers, cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const index = pair.indexOf('=');
      cookies.set(pair.slice(0, index).trim(), pair.slice(index + 1));
    }
    return res;
  };
  let location = new URL(authorizationUrl);
  for (let hops = 0; hops < 10; hops += 1) {
    let res = await go(location);
    if (res.status === 200 && /\/interaction\/[^/]+$/.test(location.pathname)) {
      res = await go(location, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username, password }),
      });
    }
    if (res.status < 300 || res.status >= 400) throw new Error(`${location} answered ${res.status}: ${await res.text()}`);
    location = new URL(res.headers.get('location'), location);
    if (location.href.startsWith(redirectUri)) return location;
  }
  throw new Error('too many redirects');
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

module.exports = { CLIENT_SECRET, startProvider, browserLogin, tokenResponse, passwordToken, providerSigned };
