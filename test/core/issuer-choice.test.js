'use strict';
/** Choosing the provider of a token by its iss (nodes/core/issuer-choice.ts). */
const assert = require('node:assert/strict');
const { chooseByIssuer } = require('../../dist/core/issuer-choice');

const provider = (issuer) => ({ issuer, acceptsIssuer: (iss) => iss === issuer });
const jws = (payload) => `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)).toString('base64url')}.c2ln`;

describe('core: choosing a provider by the token issuer', () => {
  const a = provider('https://sso.example.com/realms/a');
  const b = provider('https://sso.example.com/realms/b');

  it('picks the provider the token names, whatever the order', () => {
    assert.equal(chooseByIssuer(jws({ iss: b.issuer }), [a, b]), b);
    assert.equal(chooseByIssuer(jws({ iss: a.issuer }), [b, a]), a);
  });

  it('an issuer nobody accepts: ERR_TOKEN_ISSUER (401 invalid_token), exact comparison only', () => {
    for (const iss of ['https://sso.example.com/realms/c', `${a.issuer}/`, a.issuer.toUpperCase(), '']) {
      assert.throws(() => chooseByIssuer(jws({ iss }), [a, b]), { code: 'ERR_TOKEN_ISSUER' }, iss);
    }
  });

  it('no readable iss: the first provider, which refuses the token with the precise reason', () => {
    for (const token of ['opaque-token', 'a.b', 'a.b.c.d.e', jws('not json'), jws([1]), jws({ iss: 7 }), jws({}), 'x.@@@.y']) {
      assert.equal(chooseByIssuer(token, [a, b]), a, token);
    }
  });

  it('a single provider is chosen without reading the token', () => {
    assert.equal(chooseByIssuer(jws({ iss: 'https://elsewhere.example' }), [a]), a);
  });
});
