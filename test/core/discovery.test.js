'use strict';
/** OIDC Discovery §4 / RFC 8414 §3: where metadata is, and the exact issuer check. */
const assert = require('node:assert/strict');
const { discoveryUrls, fetchMetadata } = require('../../dist/core/discovery');
const { Identity } = require('../../dist/core/identity');
const { IdentityError } = require('../../dist/core/errors');
const { HttpStatusError } = require('../../dist/core/http');
const t = require('../support/keys');
const { rejectsWithCode } = require('../support/assert');

const OIDC = `${t.ISSUER}/.well-known/openid-configuration`;
const RFC8414 = 'https://idp.example.test/.well-known/oauth-authorization-server/realms/demo';

describe('core: discovery', () => {
  it('looks at the OIDC location first, then the RFC 8414 one', () => {
    assert.deepEqual(discoveryUrls(t.ISSUER), [OIDC, RFC8414]);
    assert.deepEqual(discoveryUrls('https://tenant.auth0.test/'), [
      'https://tenant.auth0.test/.well-known/openid-configuration',
      'https://tenant.auth0.test/.well-known/oauth-authorization-server',
    ]);
  });

  const fetchWith = (documents, issuer = t.ISSUER) => fetchMetadata({ http: t.fakeHttp(documents), issuer, allowInsecureHttp: false });

  it('returns the document whose issuer equals the configured one', async () => {
    const metadata = await fetchWith({ [OIDC]: t.discoveryDocument() });
    assert.equal(metadata.jwks_uri, t.JWKS_URI);
  });

  it('falls back to RFC 8414 when the OIDC location answers 404', async () => {
    const metadata = await fetchWith({ [RFC8414]: t.discoveryDocument() });
    assert.equal(metadata.issuer, t.ISSUER);
  });

  it('refuses a document naming another issuer, even one differing only by a trailing slash', async () => {
    await rejectsWithCode(fetchWith({ [OIDC]: t.discoveryDocument({ issuer: `${t.ISSUER}/` }) }), 'ERR_DISCOVERY_ISSUER_MISMATCH');
    await rejectsWithCode(fetchWith({ [OIDC]: t.discoveryDocument({ issuer: 'https://evil.test' }) }), 'ERR_DISCOVERY_ISSUER_MISMATCH');
  });

  it('refuses documents that are not metadata: ERR_DISCOVERY_INVALID', async () => {
    await rejectsWithCode(fetchWith({ [OIDC]: [1, 2] }), 'ERR_DISCOVERY_INVALID');
    await rejectsWithCode(fetchWith({ [OIDC]: { jwks_uri: t.JWKS_URI } }), 'ERR_DISCOVERY_INVALID');
    await rejectsWithCode(fetchWith({ [OIDC]: t.discoveryDocument({ jwks_uri: 'not a url' }) }), 'ERR_DISCOVERY_INVALID');
    await rejectsWithCode(fetchWith({}), 'ERR_DISCOVERY_INVALID');
  });

  it('refuses a jwks_uri over plain http to another host, or another scheme', async () => {
    await rejectsWithCode(fetchWith({ [OIDC]: t.discoveryDocument({ jwks_uri: 'http://keys.example.test/jwks' }) }), 'ERR_DISCOVERY_INVALID');
    await rejectsWithCode(fetchWith({ [OIDC]: t.discoveryDocument({ jwks_uri: 'file:///etc/passwd' }) }), 'ERR_DISCOVERY_INVALID');
    // authorization_endpoint becomes the Location of a login redirect: never javascript: or plain http elsewhere.
    await rejectsWithCode(fetchWith({ [OIDC]: t.discoveryDocument({ authorization_endpoint: 'javascript:alert(1)' }) }), 'ERR_DISCOVERY_INVALID');
    await rejectsWithCode(fetchWith({ [OIDC]: t.discoveryDocument({ authorization_endpoint: 'http://evil.test/auth' }) }), 'ERR_DISCOVERY_INVALID');
  });

  it('a provider that cannot be reached or answers 5xx: ERR_DISCOVERY_UNAVAILABLE with the transport cause', async () => {
    const down = () => {
      throw new IdentityError('ERR_HTTP_TIMEOUT', 'slow');
    };
    const error = await rejectsWithCode(fetchWith({ [OIDC]: down }), 'ERR_DISCOVERY_UNAVAILABLE');
    assert.equal(error.cause.code, 'ERR_HTTP_TIMEOUT');
    const failing = () => {
      throw new HttpStatusError(OIDC, 502);
    };
    await rejectsWithCode(fetchWith({ [OIDC]: failing }), 'ERR_DISCOVERY_UNAVAILABLE');
  });

  it('through Identity: metadata without jwks_uri cannot verify anything: ERR_DISCOVERY_INVALID', async () => {
    const http = t.fakeHttp({ [OIDC]: t.discoveryDocument({ jwks_uri: undefined }) });
    const identity = new Identity({ issuer: t.ISSUER, http, now: t.fixedClock().now });
    await rejectsWithCode(identity.warmUp(), 'ERR_DISCOVERY_INVALID');
  });

  it('through Identity: a jwksUri override needs no discovery', async () => {
    const key = await t.signingKey('RS256', 'k1');
    const http = t.fakeHttp({ [t.JWKS_URI]: { keys: [key.publicJwk] } });
    const identity = new Identity({ issuer: t.ISSUER, jwksUri: t.JWKS_URI, http, now: t.fixedClock().now });
    assert.equal(await identity.warmUp(), 1);
    assert.deepEqual(http.calls, [t.JWKS_URI]);
  });

  it('through Identity: one fetch for concurrent callers, backoff after a failure, then a retry', async () => {
    const clock = t.fixedClock();
    let up = false;
    const http = t.fakeHttp({
      [OIDC]: () => {
        if (!up) throw new IdentityError('ERR_HTTP_UNREACHABLE', 'down');
        return t.discoveryDocument();
      },
    });
    const identity = new Identity({ issuer: t.ISSUER, http, now: clock.now, backoffMinMs: 2000 });
    const failures = await Promise.allSettled(Array.from({ length: 20 }, () => identity.metadata()));
    assert.ok(failures.every((result) => result.status === 'rejected' && result.reason.code === 'ERR_DISCOVERY_UNAVAILABLE'));
    assert.equal(failures[0].reason.retryAfterSec, 2);
    assert.equal(http.count(OIDC), 1);
    up = true;
    await rejectsWithCode(identity.metadata(), 'ERR_DISCOVERY_UNAVAILABLE');
    assert.equal(http.count(OIDC), 1, 'still within the backoff');
    clock.advance(2000);
    assert.equal((await identity.metadata()).issuer, t.ISSUER);
    assert.equal(http.count(OIDC), 2);
  });
});
