'use strict';
/**
 * Tools for the attack suite (test/attacks): tokens signed over exact bytes with the demo
 * provider's own key (duplicate JSON members, invalid UTF-8, `crit`, unencoded payloads: what
 * jose's signers refuse to produce), small loopback servers that record every request (a probe
 * whose URL is planted in tokens, a JWKS publishing a key the test holds), and a raw HTTP/1.1
 * request for header layouts Node's client folds away.
 */
const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');

/** base64url of bytes, a string (UTF-8) or a JSON value. */
function b64u(value) {
  if (Buffer.isBuffer(value)) return value.toString('base64url');
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** The claims the demo provider would put in an access token for alice, with overrides. */
function demoClaims(provider, overrides = {}) {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: provider.issuer, aud: provider.audience, sub: 'alice', client_id: provider.clientId,
    iat: now, exp: now + 300, jti: `jti-${crypto.randomUUID()}`, scope: 'orders:read', ...overrides,
  };
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined));
}

/** The provider's current signing key as a Node private key, with its kid. */
function providerKey(provider) {
  const [jwk] = provider.signingKeys;
  return { kid: jwk.kid, privateKey: crypto.createPrivateKey({ key: jwk, format: 'jwk' }) };
}

/**
 * A JWS over exactly these encoded parts, signed with the provider's key: `header` and `payload`
 * are Buffers (exact bytes), strings (exact JSON text) or values (JSON.stringify). `alg` picks the
 * primitive only (RS256, PS256); the header says whatever the test wrote.
 */
function providerSignedRaw(provider, header, payload, { alg = 'RS256', encodePayload = true } = {}) {
  const encodedHeader = b64u(header);
  const encodedPayload = encodePayload ? b64u(payload) : String(payload);
  const input = Buffer.from(`${encodedHeader}.${encodedPayload}`);
  const { privateKey } = providerKey(provider);
  const options = alg.startsWith('PS')
    ? { key: privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
    : privateKey;
  const signature = crypto.sign('sha256', input, options);
  return `${encodedHeader}.${encodedPayload}.${signature.toString('base64url')}`;
}

/** An ES256 JWS (raw r || s signature, RFC 7518 §3.4) over the given header and claims. */
function es256Signed(privateKey, header, payload) {
  const input = `${b64u(header)}.${b64u(payload)}`;
  const signature = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * An HTTP server on 127.0.0.1 that records every connection and request and answers with
 * `respond(req, res)` (default: 404). Counting connections too catches a fetch that never got as
 * far as sending its request line.
 */
async function startRecorder(respond = (req, res) => res.writeHead(404).end()) {
  const requests = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    respond(req, res);
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    requests,
    get connections() {
      return connections;
    },
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/**
 * Sends one HTTP/1.1 request written by hand (`headerLines` as given, repeated names and any case
 * kept) and resolves { status, headers, body } with lower-case header names.
 */
function rawRequest(baseUrl, path, headerLines, { method = 'GET', body = '' } = {}) {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
      const headers = {};
      for (const line of lines) {
        const index = line.indexOf(':');
        headers[line.slice(0, index).trim().toLowerCase()] = line.slice(index + 1).trim();
      }
      let rest = text.slice(split + 4);
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
        let decoded = '';
        for (;;) {
          const end = rest.indexOf('\r\n');
          const size = Number.parseInt(rest.slice(0, end), 16);
          if (!size) break;
          decoded += rest.slice(end + 2, end + 2 + size);
          rest = rest.slice(end + 2 + size + 2);
        }
        rest = decoded;
      }
      let json;
      try {
        json = JSON.parse(rest);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, text: rest, body: json });
    });
    const head = [`${method} ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close', ...headerLines];
    if (body) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
    // write, not end: a half-closed socket may be dropped before the answer; Connection: close ends it.
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}

module.exports = { b64u, demoClaims, providerKey, providerSignedRaw, es256Signed, startRecorder, rawRequest };
