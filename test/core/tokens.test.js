'use strict';
/** Grants and their caching rules, with a counting token client and a fixed clock. */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { TokenService, toSession, needsRefresh, refreshExpired, TOKEN_DEFAULTS } = require('../../dist/core/tokens');
const { OAuthError } = require('../../dist/core/token-client');
const { fixedClock } = require('../support/keys');
const { rejectsWithCode } = require('../support/assert');

const ISSUER = 'https://idp.example.test';

/** A token client that answers from `answer(parameters)`, counts calls, and can be held until released. */
function countingClient(answer) {
  const calls = [];
  let gate;
  return {
    calls,
    hold() {
      let release;
      gate = new Promise((resolve) => {
        release = resolve;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
    async request(parameters) {
      calls.push(parameters);
      if (gate) await gate;
      return answer(form(parameters), calls.length);
    },
  };
}

function service(client, clock = fixedClock(), issParameterSupported = false) {
  return new TokenService({
    client, now: clock.now, clientId: 'app', issuer: ISSUER,
    authorizationEndpoint: async () => `${ISSUER}/authorize?prompt=login`, issParameterSupported: async () => issParameterSupported,
  });
}

const form = (parameters) => Object.fromEntries(parameters);

describe('core: token service (grants and caching)', () => {
  describe('client_credentials', () => {
    it('100 concurrent requests: exactly one provider call, the same token for all', async () => {
      const client = countingClient((p, n) => ({ access_token: `at-${n}`, token_type: 'Bearer', expires_in: 300 }));
      const release = client.hold();
      const tokens = service(client);
      const pending = Array.from({ length: 100 }, () => tokens.clientCredentials('orders:read', {}));
      release();
      const responses = await Promise.all(pending);
      assert.equal(client.calls.length, 1);
      assert.ok(responses.every((response) => response.access_token === 'at-1'));
    });

    it('reuses the token until shortly before it expires, then renews it', async () => {
      const clock = fixedClock();
      const client = countingClient((p, n) => ({ access_token: `at-${n}`, token_type: 'Bearer', expires_in: 300 }));
      const tokens = service(client, clock);
      assert.equal((await tokens.clientCredentials('', {})).access_token, 'at-1');
      clock.advance(300_000 - TOKEN_DEFAULTS.renewBeforeExpiryMs - 1);
      assert.equal((await tokens.clientCredentials('', {})).access_token, 'at-1');
      clock.advance(1);
      assert.equal((await tokens.clientCredentials('', {})).access_token, 'at-2', 'renewed 60 s before expiry');
    });

    it('a short-lived token is renewed at half its life, never served expired', async () => {
      const clock = fixedClock();
      const client = countingClient((p, n) => ({ access_token: `at-${n}`, token_type: 'Bearer', expires_in: 60 }));
      const tokens = service(client, clock);
      await tokens.clientCredentials('', {});
      clock.advance(30_000);
      assert.equal((await tokens.clientCredentials('', {})).access_token, 'at-2');
    });

    it('one cache entry per scope and extra parameters; the cache can be turned off', async () => {
      const client = countingClient((p, n) => ({ access_token: `at-${n}`, token_type: 'Bearer', expires_in: 300 }));
      const tokens = service(client);
      await tokens.clientCredentials('a', {});
      await tokens.clientCredentials('b', {});
      await tokens.clientCredentials('a', { audience: 'x' });
      await tokens.clientCredentials('a', { audience: 'y' });
      await tokens.clientCredentials('a', { audience: 'x' });
      assert.equal(client.calls.length, 4);
      await tokens.clientCredentials('a', {}, false);
      assert.equal(client.calls.length, 5);
      assert.equal(tokens.cachedClientCredentials('a', { audience: 'y' }).access_token, 'at-4');
    });

    it('a token without expires_in is not cached (its lifetime is unknown)', async () => {
      const client = countingClient((p, n) => ({ access_token: `at-${n}`, token_type: 'Bearer' }));
      const tokens = service(client);
      await tokens.clientCredentials('', {});
      await tokens.clientCredentials('', {});
      assert.equal(client.calls.length, 2);
    });

    it('a failure is not cached: the next request asks again', async () => {
      let fail = true;
      const client = countingClient((p, n) => {
        if (fail) throw new OAuthError(401, 'invalid_client', undefined);
        return { access_token: `at-${n}`, token_type: 'Bearer', expires_in: 300 };
      });
      const tokens = service(client);
      await rejectsWithCode(tokens.clientCredentials('', {}), 'ERR_GRANT_REJECTED');
      fail = false;
      assert.equal((await tokens.clientCredentials('', {})).access_token, 'at-2');
    });

    it('extra parameters are added, but never replace the grant or client authentication; arrays repeat (RFC 8707)', async () => {
      const client = countingClient(() => ({ access_token: 'at', token_type: 'Bearer' }));
      await service(client).clientCredentials('orders:read', {
        audience: 'https://api', resource: ['https://a', 'https://b'], grant_type: 'password', client_secret: 'x',
        client_assertion: 'y', client_id: 'other', scope: 'flow-scope', n: 5, skip: null,
      });
      assert.deepEqual(client.calls[0], [
        ['audience', 'https://api'], ['resource', 'https://a'], ['resource', 'https://b'], ['n', '5'],
        ['grant_type', 'client_credentials'], ['scope', 'orders:read'],
      ]);
    });

    it('a cached token tells the seconds it has left, not the ones it was issued with', async () => {
      const clock = fixedClock();
      const client = countingClient(() => ({ access_token: 'at', token_type: 'Bearer', expires_in: 300 }));
      const tokens = service(client, clock);
      assert.equal((await tokens.clientCredentials('', {})).expires_in, 300);
      clock.advance(230_000);
      assert.equal((await tokens.clientCredentials('', {})).expires_in, 70);
      assert.equal(tokens.cachedClientCredentials('', {}).expires_in, 70);
    });

    it('a caller editing its token response does not change the cached one', async () => {
      const client = countingClient(() => ({ access_token: 'at', token_type: 'Bearer', expires_in: 300 }));
      const tokens = service(client);
      (await tokens.clientCredentials('', {})).access_token = 'changed';
      assert.equal((await tokens.clientCredentials('', {})).access_token, 'at');
    });

    it('a flow\'s scope parameter is used when the node has none', async () => {
      const client = countingClient(() => ({ access_token: 'at', token_type: 'Bearer' }));
      await service(client).clientCredentials('', { scope: 'from-flow' });
      assert.equal(form(client.calls[0]).scope, 'from-flow');
    });
  });

  describe('password and token exchange: never cached, never shared', () => {
    it('two users through one service each get their own token', async () => {
      const client = countingClient((p) => ({ access_token: `at-of-${p.username}`, token_type: 'Bearer', expires_in: 300 }));
      const tokens = service(client);
      const [alice, bob] = await Promise.all([tokens.password('alice', 'pa', '', {}), tokens.password('bob', 'pb', '', {})]);
      assert.equal(alice.access_token, 'at-of-alice');
      assert.equal(bob.access_token, 'at-of-bob');
      await tokens.password('alice', 'pa', '', {});
      assert.equal(client.calls.length, 3, 'the same user again asks the provider again');
      assert.equal(tokens.cachedClientCredentials('', {}), undefined);
    });

    it('token exchange sends the RFC 8693 parameters', async () => {
      const client = countingClient(() => ({ access_token: 'exchanged', token_type: 'Bearer' }));
      await service(client).exchange('subject', 'urn:ietf:params:oauth:token-type:access_token', 'orders:read', { audience: 'downstream' });
      assert.deepEqual(form(client.calls[0]), {
        audience: 'downstream', grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: 'subject',
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', scope: 'orders:read',
      });
    });
  });

  describe('refresh_token', () => {
    it('20 concurrent refreshes of one refresh token: one provider call, 20 identical answers', async () => {
      const client = countingClient((p, n) => ({ access_token: `at-${n}`, token_type: 'Bearer', refresh_token: `rt-${n}` }));
      const release = client.hold();
      const tokens = service(client);
      const pending = Array.from({ length: 20 }, () => tokens.refresh('rt-0'));
      release();
      const answers = await Promise.all(pending);
      assert.equal(client.calls.length, 1);
      assert.ok(answers.every((answer) => answer.refresh_token === 'rt-1' && answer.access_token === 'at-1'));
    });

    it('once the answer is in, a reuse of the old refresh token goes to the provider, which decides (RFC 9700 §4.14.2)', async () => {
      const client = countingClient((p, n) => ({ access_token: `at-${n}`, token_type: 'Bearer', refresh_token: `rt-${n}` }));
      const tokens = service(client);
      await tokens.refresh('rt-0');
      await tokens.refresh('rt-0');
      assert.equal(client.calls.length, 2, 'no answer is kept to hand to a later caller of the old token');
    });

    it('no new refresh token in the answer: the old one is passed on', async () => {
      const client = countingClient(() => ({ access_token: 'at', token_type: 'Bearer' }));
      assert.equal((await service(client).refresh('keep-me')).refresh_token, 'keep-me');
    });

    it('invalid_grant is passed on (ERR_GRANT_INVALID) and not remembered', async () => {
      const client = countingClient(() => {
        throw new OAuthError(400, 'invalid_grant', 'grant request is invalid');
      });
      const tokens = service(client);
      await rejectsWithCode(tokens.refresh('reused'), 'ERR_GRANT_INVALID');
      await rejectsWithCode(tokens.refresh('reused'), 'ERR_GRANT_INVALID');
      assert.equal(client.calls.length, 2);
    });
  });

  describe('authorization_code with PKCE (RFC 7636)', () => {
    /** Starts a login; the URL carries its binding (the browser's cookie) for the tests' convenience. */
    async function start(tokens, extra = {}) {
      const { url, binding } = await tokens.startLogin('http://127.0.0.1:1880/callback', 'openid orders:read', extra);
      return Object.assign(new URL(url), { binding });
    }

    it('sends the browser to the authorization endpoint with state and an S256 challenge, keeping its own query', async () => {
      const client = countingClient(() => ({ access_token: 'at', token_type: 'Bearer' }));
      const tokens = service(client);
      const url = await start(tokens, { audience: 'api' });
      assert.equal(url.origin + url.pathname, `${ISSUER}/authorize`);
      assert.equal(url.searchParams.get('prompt'), 'login');
      assert.equal(url.searchParams.get('response_type'), 'code');
      assert.equal(url.searchParams.get('client_id'), 'app');
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(url.searchParams.get('audience'), 'api');
      assert.match(url.searchParams.get('state'), /^[A-Za-z0-9_-]{43}$/);
      await tokens.finishLogin({ code: 'c1', state: url.searchParams.get('state') }, url.binding, {});
      const { code_verifier: verifier, redirect_uri: redirectUri, grant_type: grant } = form(client.calls[0]);
      assert.equal(grant, 'authorization_code');
      assert.equal(redirectUri, 'http://127.0.0.1:1880/callback');
      assert.equal(crypto.createHash('sha256').update(verifier).digest('base64url'), url.searchParams.get('code_challenge'));
    });

    it('state is single-use, unknown state and a missing code are refused (ERR_LOGIN_STATE_INVALID)', async () => {
      const client = countingClient(() => ({ access_token: 'at', token_type: 'Bearer' }));
      const tokens = service(client);
      const url = await start(tokens);
      const state = url.searchParams.get('state');
      await tokens.finishLogin({ code: 'c', state }, url.binding, {});
      await rejectsWithCode(tokens.finishLogin({ code: 'c', state }, url.binding, {}), 'ERR_LOGIN_STATE_INVALID');
      await rejectsWithCode(tokens.finishLogin({ code: 'c', state: 'forged' }, url.binding, {}), 'ERR_LOGIN_STATE_INVALID');
      await rejectsWithCode(tokens.finishLogin({ code: 'c' }, url.binding, {}), 'ERR_LOGIN_STATE_INVALID');
      const other = await start(tokens);
      await rejectsWithCode(tokens.finishLogin({ state: other.searchParams.get('state') }, other.binding, {}), 'ERR_LOGIN_STATE_INVALID');
      assert.equal(client.calls.length, 1);
    });

    it('login CSRF (RFC 9700 §4.7): a callback from another browser than the one that started the login is refused', async () => {
      const client = countingClient(() => ({ access_token: 'at', token_type: 'Bearer' }));
      const tokens = service(client);
      const attackers = await start(tokens);
      const victimsCookie = (await start(tokens)).binding;
      for (const binding of [undefined, '', victimsCookie]) {
        const again = await start(tokens);
        await rejectsWithCode(tokens.finishLogin({ code: 'c', state: again.searchParams.get('state') }, binding, {}), 'ERR_LOGIN_STATE_INVALID');
      }
      await rejectsWithCode(tokens.finishLogin({ code: 'c', state: attackers.searchParams.get('state') }, victimsCookie, {}), 'ERR_LOGIN_STATE_INVALID');
      assert.equal(client.calls.length, 0);
    });

    it('a pending login expires after 10 minutes', async () => {
      const clock = fixedClock();
      const tokens = service(countingClient(() => ({ access_token: 'at', token_type: 'Bearer' })), clock);
      const url = await start(tokens);
      clock.advance(TOKEN_DEFAULTS.loginTtlMs);
      await rejectsWithCode(tokens.finishLogin({ code: 'c', state: url.searchParams.get('state') }, url.binding, {}), 'ERR_LOGIN_STATE_INVALID');
    });

    it('pending logins are bounded: the oldest make way', async () => {
      const tokens = service(countingClient(() => ({ access_token: 'at', token_type: 'Bearer' })));
      const first = await start(tokens);
      for (let i = 0; i < TOKEN_DEFAULTS.pendingLogins; i += 1) await start(tokens);
      await rejectsWithCode(tokens.finishLogin({ code: 'c', state: first.searchParams.get('state') }, first.binding, {}), 'ERR_LOGIN_STATE_INVALID');
    });

    it('the provider\'s error in the callback: ERR_LOGIN_DENIED with its error; a foreign iss is refused (RFC 9207)', async () => {
      const tokens = service(countingClient(() => ({ access_token: 'at', token_type: 'Bearer' })));
      const callback = async (query) => {
        const url = await start(tokens);
        return tokens.finishLogin({ ...query, state: url.searchParams.get('state') }, url.binding, {});
      };
      const denied = await rejectsWithCode(callback({ error: 'access_denied' }), 'ERR_LOGIN_DENIED');
      assert.equal(denied.error, 'access_denied');
      assert.equal(denied.status, 401);
      await rejectsWithCode(callback({ code: 'c', iss: 'https://evil.test' }), 'ERR_LOGIN_STATE_INVALID');
      assert.equal((await callback({ code: 'c', iss: ISSUER })).access_token, 'at');
      assert.equal((await callback({ code: 'c' })).access_token, 'at', 'no iss, and the provider does not promise one');
    });

    it('a provider that promises iss (RFC 9207 §3): a callback without it is refused', async () => {
      const tokens = service(countingClient(() => ({ access_token: 'at', token_type: 'Bearer' })), fixedClock(), true);
      const url = await start(tokens);
      await rejectsWithCode(tokens.finishLogin({ code: 'c', state: url.searchParams.get('state') }, url.binding, {}), 'ERR_LOGIN_STATE_INVALID');
    });
  });

  describe('sessions', () => {
    it('keep absolute expiry times, and know when to refresh', () => {
      const session = toSession({ access_token: 'a', token_type: 'Bearer', expires_in: 180, refresh_expires_in: '1800', refresh_token: 'r' }, 1000);
      assert.equal(session.expires_at, 181_000);
      assert.equal(session.refresh_expires_at, 1_801_000);
      assert.equal(needsRefresh(session, 120_000, 60), false);
      assert.equal(needsRefresh(session, 121_001, 60), true);
      assert.equal(refreshExpired(session, 1_800_999), false);
      assert.equal(refreshExpired(session, 1_801_000), true);
      assert.equal(needsRefresh(toSession({ access_token: 'a', token_type: 'Bearer' }, 0), 1e12, 60), false, 'unknown lifetime');
    });
  });
});
