'use strict';
/**
 * The HTTP client against a real server on 127.0.0.1. The faults (a hang, a garbage body, a dropped
 * connection, an oversized body, redirects) come from this small server because a real provider
 * cannot be made to produce them on demand.
 */
const assert = require('node:assert/strict');
const { listen } = require('../support/servers');
const { createHttpClient } = require('../../dist/core/http');
const { rejectsWithCode } = require('../support/assert');


describe('core: http client (timeouts, size limit, same-origin redirects)', () => {
  let server;
  let other;
  let base;
  let hanging = [];

  before(async () => {
    other = await listen((req, res) => res.end('{"from":"other"}'));
    server = await listen((req, res) => {
      switch (req.url) {
        case '/json': res.setHeader('content-type', 'application/json'); return res.end('{"ok":true}');
        case '/html': return res.end('<html>login</html>');
        case '/empty': return res.end('');
        case '/truncated': return res.end('{"keys":[{"kty"');
        case '/error': res.statusCode = 500; return res.end('{}');
        case '/missing': res.statusCode = 404; return res.end('{}');
        case '/hang': hanging.push(res); return undefined;
        case '/trickle': {
          res.write(' ');
          const timer = setInterval(() => res.write(' '), 20);
          res.on('close', () => clearInterval(timer));
          return undefined;
        }
        case '/drop': return req.socket.destroy();
        case '/big': return res.end(JSON.stringify({ pad: 'x'.repeat(5000) }));
        case '/big-chunked': res.write('{"pad":"'); res.write('x'.repeat(5000)); return res.end('"}');
        case '/redirect-same': res.statusCode = 302; res.setHeader('location', '/json'); return res.end();
        case '/redirect-other': res.statusCode = 302; res.setHeader('location', `http://127.0.0.1:${other.address().port}/x`); return res.end();
        case '/redirect-loop': res.statusCode = 302; res.setHeader('location', '/redirect-loop'); return res.end();
        default: res.statusCode = 404; return res.end();
      }
    });
    base = `http://127.0.0.1:${server.address().port}`;
  });

  afterEach(() => {
    for (const res of hanging) res.destroy();
    hanging = [];
  });

  after(async () => {
    server.closeAllConnections();
    other.closeAllConnections();
    await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => other.close(r))]);
  });

  const client = (options = {}) => createHttpClient({ timeoutMs: 300, maxResponseBytes: 1000, ...options });

  it('parses a JSON answer', async () => {
    const response = await client().getJson(`${base}/json`);
    assert.deepEqual(response.body, { ok: true });
    assert.equal(response.status, 200);
  });

  it('a body that is not JSON (HTML, empty, truncated): ERR_HTTP_BODY', async () => {
    for (const path of ['/html', '/empty', '/truncated']) await rejectsWithCode(client().getJson(base + path), 'ERR_HTTP_BODY');
  });

  it('a non-2xx status: ERR_HTTP_STATUS with the status', async () => {
    const error = await rejectsWithCode(client().getJson(`${base}/error`), 'ERR_HTTP_STATUS');
    assert.equal(error.status, 500);
    assert.equal((await rejectsWithCode(client().getJson(`${base}/missing`), 'ERR_HTTP_STATUS')).status, 404);
  });

  it('a server that accepts and never answers: ERR_HTTP_TIMEOUT', async () => {
    await rejectsWithCode(client().getJson(`${base}/hang`), 'ERR_HTTP_TIMEOUT');
  });

  it('a server that trickles bytes forever still hits the total deadline', async () => {
    await rejectsWithCode(client({ maxResponseBytes: 1_000_000 }).getJson(`${base}/trickle`), 'ERR_HTTP_TIMEOUT');
  });

  it('a dropped connection: ERR_HTTP_UNREACHABLE', async () => {
    await rejectsWithCode(client().getJson(`${base}/drop`), 'ERR_HTTP_UNREACHABLE');
  });

  it('nothing listening: ERR_HTTP_UNREACHABLE', async () => {
    const closed = await listen(() => undefined);
    const url = `http://127.0.0.1:${closed.address().port}/`;
    await new Promise((r) => closed.close(r));
    await rejectsWithCode(client().getJson(url), 'ERR_HTTP_UNREACHABLE');
  });

  it('a body over the size limit, with or without Content-Length: ERR_HTTP_TOO_LARGE', async () => {
    await rejectsWithCode(client().getJson(`${base}/big`), 'ERR_HTTP_TOO_LARGE');
    await rejectsWithCode(client().getJson(`${base}/big-chunked`), 'ERR_HTTP_TOO_LARGE');
  });

  it('a TLS handshake that fails (https to a plain-http port): ERR_HTTP_TLS', async () => {
    await rejectsWithCode(client().getJson(`${base.replace('http:', 'https:')}/json`), 'ERR_HTTP_TLS');
  });

  it('follows a same-origin redirect', async () => {
    const response = await client().getJson(`${base}/redirect-same`);
    assert.deepEqual(response.body, { ok: true });
    assert.equal(response.url, `${base}/json`);
  });

  it('never follows a redirect to another origin: ERR_HTTP_REDIRECT', async () => {
    await rejectsWithCode(client().getJson(`${base}/redirect-other`), 'ERR_HTTP_REDIRECT');
  });

  it('stops after maxRedirects: ERR_HTTP_REDIRECT', async () => {
    await rejectsWithCode(client({ maxRedirects: 2 }).getJson(`${base}/redirect-loop`), 'ERR_HTTP_REDIRECT');
  });

  it('an aborted caller signal: ERR_HTTP_ABORTED', async () => {
    const controller = new AbortController();
    const pending = client({ timeoutMs: 5000 }).getJson(`${base}/hang`, controller.signal);
    controller.abort();
    await rejectsWithCode(pending, 'ERR_HTTP_ABORTED');
  });

  it('keeps no request data in the error cause', async () => {
    const error = await rejectsWithCode(client().getJson(`${base}/drop`), 'ERR_HTTP_UNREACHABLE');
    assert.deepEqual(Object.keys(error.cause), ['code']);
  });
});
