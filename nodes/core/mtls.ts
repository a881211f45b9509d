/**
 * Certificate-bound access tokens (RFC 8705 §3): a token whose `cnf` claim names the SHA-256
 * thumbprint of a client certificate (`x5t#S256`, §3.1) may only be used over a TLS connection
 * in which the client presented that certificate.
 *
 * The certificate comes from Node-RED's own TLS socket (`getPeerCertificate`), or, behind a reverse
 * proxy that ends TLS, from a header that proxy sets: PEM, URL-encoded PEM (nginx's
 * `$ssl_client_escaped_cert`, AWS ALB), base64 DER (Traefik) or Envoy's `x-forwarded-client-cert`
 * with its `Cert=` element. Such a header is trusted as it is, so the proxy must remove any copy
 * the client sends. The TLS handshake proved that the client holds the certificate's key; whether
 * a CA issued it is the TLS server's concern, not the binding's (§2.2 allows self-signed ones).
 *
 * With `mtls` off, a certificate-bound token is accepted as a bearer token, as before.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { singleHeader, type CredentialSource } from './bearer';
import { confirmationClaim, type Confirmation } from './claims';
import { AccessDeniedError, ConfigurationError } from './errors';

export const MTLS_MODES = ['off', 'required'] as const;
export type MtlsMode = (typeof MTLS_MODES)[number];

export interface MtlsOptions {
  /** `off` (default) or `required`. */
  mode?: MtlsMode | string;
  /** The header a trusted reverse proxy puts the client certificate in; empty: the TLS socket's. */
  clientCertHeader?: string;
}

/** RFC 9110 §5.1: field-name = token. */
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/g;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** Envoy's XFCC: `Key=value` pairs split by `;`, the value of Cert quoted or not. */
const XFCC_CERT = /(?:^|;)\s*Cert=("[^"]*"|[^;,]*)/i;

export class MtlsPolicy {
  readonly mode: MtlsMode;
  /** Lower case; undefined: the certificate of the TLS socket. */
  private readonly header: string | undefined;

  /** Validates the options; throws a `ConfigurationError` (at deploy time) when one is wrong. */
  constructor(options: MtlsOptions) {
    const mode = (typeof options.mode === 'string' && options.mode.trim() ? options.mode.trim() : 'off') as MtlsMode;
    if (!MTLS_MODES.includes(mode)) {
      throw new ConfigurationError('ERR_CONFIG_INVALID', 'mtls', `mtls must be one of ${MTLS_MODES.join(' ')}`);
    }
    const header = typeof options.clientCertHeader === 'string' ? options.clientCertHeader.trim() : '';
    if (header && !FIELD_NAME.test(header)) {
      throw new ConfigurationError('ERR_CONFIG_INVALID', 'clientCertHeader', 'clientCertHeader must be an HTTP header name, such as x-ssl-client-cert');
    }
    this.mode = mode;
    this.header = header ? header.toLowerCase() : undefined;
  }

  /**
   * Checks a verified token against the request's client certificate.
   * @returns `{ 'x5t#S256' }` when required and bound to that certificate; undefined when off
   * @throws AccessDeniedError `ERR_MTLS_CERT_MISSING`, `ERR_MTLS_CERT_INVALID`, `ERR_MTLS_BINDING`
   */
  confirm(request: CredentialSource, claims: JWTPayload): Confirmation | undefined {
    if (this.mode === 'off') return undefined;
    const thumbprint = certificateThumbprint(this.header ? certificateFromHeader(request, this.header) : certificateFromSocket(request));
    const bound = confirmationClaim(claims, 'x5t#S256');
    if (bound === undefined) {
      throw new AccessDeniedError('ERR_MTLS_BINDING', 'the access token is not certificate-bound (it has no cnf.x5t#S256 claim)');
    }
    if (bound !== thumbprint) {
      throw new AccessDeniedError('ERR_MTLS_BINDING', 'the access token is bound to another client certificate');
    }
    return { 'x5t#S256': thumbprint };
  }
}

/** base64url(SHA-256(DER)): the `x5t#S256` of a certificate (RFC 8705 §3.1). */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

function certificateFromSocket(request: CredentialSource): Uint8Array {
  const socket = request.socket;
  const peer = typeof socket?.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
  const raw = peer?.raw;
  if (!raw || raw.length === 0) throw missing();
  return raw;
}

/** `text` split at `separator` outside quoted strings; undefined when a quote is left open. */
function splitOutsideQuotes(text: string, separator: string): string[] | undefined {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (quoted && char === '\\') i += 1; // a quoted-pair: the next character is literal
    else if (char === '"') quoted = !quoted;
    else if (!quoted && char === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) return undefined;
  parts.push(text.slice(start));
  return parts;
}

/** The DER certificate in the proxy's header; exactly one certificate, which must parse. */
function certificateFromHeader(request: CredentialSource, name: string): Uint8Array {
  const value = singleHeader(request, name);
  if (value === null) throw unreadable('the client certificate header comes more than once');
  if (value === undefined) throw missing();
  let text = value.trim();
  if (XFCC_CERT.test(text)) {
    // One XFCC element per proxy hop, split by commas outside quoted strings (with \" escapes): which
    // is the client's is the proxy's to settle. An unclosed quote could hide a proxy's comma, so it
    // makes the header unreadable rather than one element.
    const elements = splitOutsideQuotes(text, ',');
    if (!elements) throw unreadable('the x-forwarded-client-cert header has an unclosed quote');
    if (elements.length !== 1) throw unreadable('the x-forwarded-client-cert header has more than one element');
    const cert = (splitOutsideQuotes(elements[0], ';') ?? []).map((pair) => pair.trim()).find((pair) => /^cert=/i.test(pair));
    if (cert === undefined) throw unreadable('the x-forwarded-client-cert header has no Cert');
    const quoted = cert.slice(5);
    text = quoted.startsWith('"') ? quoted.slice(1, -1).replace(/\\(.)/g, '$1') : quoted;
  }
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      throw unreadable('the client certificate header is not URL-encoded correctly');
    }
  }
  const blocks = [...text.matchAll(PEM_CERTIFICATE)];
  if (blocks.length > 1) throw unreadable('the client certificate header holds more than one certificate');
  const base64 = (blocks.length === 1 ? blocks[0][1] : text).replace(/\s+/g, '');
  if (!BASE64.test(base64)) throw unreadable('the client certificate header is not a PEM or base64 certificate');
  const der = Buffer.from(base64, 'base64');
  try {
    new X509Certificate(der); // parsing is the check
  } catch {
    throw unreadable('the client certificate header is not an X.509 certificate');
  }
  return der;
}

function missing(): AccessDeniedError {
  return new AccessDeniedError('ERR_MTLS_CERT_MISSING', 'the request came without a client certificate (mutual TLS)');
}

function unreadable(message: string): AccessDeniedError {
  return new AccessDeniedError('ERR_MTLS_CERT_INVALID', message);
}
