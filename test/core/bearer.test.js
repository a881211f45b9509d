'use strict';
/** RFC 6750 §2: where a token may come from, and the syntax of the Authorization header. */
const assert = require('node:assert/strict');
const { extractBearerToken } = require('../../dist/core/bearer');
const { throwsWithCode } = require('../support/assert');

const withHeader = (authorization, extra = {}) => ({ headers: { authorization }, rawHeaders: ['Authorization', authorization], ...extra });

describe('core: bearer token extraction (RFC 6750 §2)', () => {
  it('returns the token of "Bearer <token>", scheme in any case (RFC 9110 §11.1)', () => {
    assert.equal(extractBearerToken(withHeader('Bearer abc.def-_~+/=')), 'abc.def-_~+/=');
    assert.equal(extractBearerToken(withHeader('bearer abc')), 'abc');
    assert.equal(extractBearerToken(withHeader('BEARER  abc')), 'abc');
  });

  it('no Authorization header: ERR_BEARER_MISSING', () => {
    throwsWithCode(() => extractBearerToken({ headers: {} }), 'ERR_BEARER_MISSING');
    throwsWithCode(() => extractBearerToken({}), 'ERR_BEARER_MISSING');
    throwsWithCode(() => extractBearerToken(withHeader('')), 'ERR_BEARER_MISSING');
  });

  it('another scheme (Basic): ERR_BEARER_SCHEME, answered like no credentials', () => {
    throwsWithCode(() => extractBearerToken(withHeader('Basic YWxpY2U6cHc=')), 'ERR_BEARER_SCHEME');
    throwsWithCode(() => extractBearerToken(withHeader('Bearerabc')), 'ERR_BEARER_SCHEME');
  });

  const malformed = {
    'no token': 'Bearer',
    'only spaces after the scheme': 'Bearer   ',
    'two tokens': 'Bearer abc def',
    'characters outside b64token': 'Bearer abc"def',
    'a comma list': 'Bearer abc, Basic xyz',
    'padding in the middle': 'Bearer ab=c',
    'a tab as separator': 'Bearer\tabc',
    'a scheme with illegal characters': '"Bearer" abc',
  };
  for (const [name, header] of Object.entries(malformed)) {
    it(`${name}: ERR_BEARER_MALFORMED`, () => {
      throwsWithCode(() => extractBearerToken(withHeader(header)), 'ERR_BEARER_MALFORMED');
    });
  }

  it('a token longer than the limit: ERR_TOKEN_TOO_LARGE, before any pattern work', () => {
    throwsWithCode(() => extractBearerToken(withHeader(`Bearer ${'a'.repeat(101)}`), 100), 'ERR_TOKEN_TOO_LARGE');
    throwsWithCode(() => extractBearerToken(withHeader(`Bearer ${'a'.repeat(100_000)} x`), 100), 'ERR_TOKEN_TOO_LARGE');
    assert.equal(extractBearerToken(withHeader(`Bearer ${'a'.repeat(100)}`), 100).length, 100);
  });

  it('two Authorization headers (Node keeps only the first; rawHeaders shows both): ERR_BEARER_MULTIPLE', () => {
    const request = { headers: { authorization: 'Bearer a' }, rawHeaders: ['Authorization', 'Bearer a', 'authorization', 'Bearer b'] };
    throwsWithCode(() => extractBearerToken(request), 'ERR_BEARER_MULTIPLE');
    throwsWithCode(() => extractBearerToken({ headers: { authorization: ['Bearer a', 'Bearer b'] } }), 'ERR_BEARER_MULTIPLE');
    assert.equal(extractBearerToken({ headers: { authorization: ['Bearer a'] } }), 'a');
  });

  it('token in the URL query (RFC 9700 §2.4.2): ERR_BEARER_NOT_IN_HEADER', () => {
    throwsWithCode(() => extractBearerToken({ headers: {}, query: { access_token: 'abc' } }), 'ERR_BEARER_NOT_IN_HEADER');
  });

  it('token in a form body (§2.2): ERR_BEARER_NOT_IN_HEADER', () => {
    const request = { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: { access_token: 'abc' } };
    throwsWithCode(() => extractBearerToken(request), 'ERR_BEARER_NOT_IN_HEADER');
  });

  it('token in the header and in the query or form body: ERR_BEARER_MULTIPLE (§2: one method only)', () => {
    throwsWithCode(() => extractBearerToken(withHeader('Bearer abc', { query: { access_token: 'abc' } })), 'ERR_BEARER_MULTIPLE');
    const form = withHeader('Bearer abc', { body: { access_token: 'abc' } });
    form.headers['content-type'] = 'application/x-www-form-urlencoded; charset=utf-8';
    throwsWithCode(() => extractBearerToken(form), 'ERR_BEARER_MULTIPLE');
  });

  it('a JSON body that carries an access_token field as data is not a credential', () => {
    const request = withHeader('Bearer abc', { body: { access_token: 'data' } });
    request.headers['content-type'] = 'application/json';
    assert.equal(extractBearerToken(request), 'abc');
  });

  it('an inherited access_token property does not count', () => {
    const query = Object.create({ access_token: 'inherited' });
    assert.equal(extractBearerToken(withHeader('Bearer abc', { query })), 'abc');
  });
});
