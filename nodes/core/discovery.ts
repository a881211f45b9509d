/**
 * Provider metadata: OpenID Connect Discovery 1.0 §4, with the RFC 8414 §3 location as fallback.
 *
 * The `issuer` in the document must equal the configured issuer exactly (OIDC Discovery §4.3,
 * RFC 8414 §3.3): no trailing-slash or case folding, since the same string is compared with the
 * `iss` of every token.
 */
import { IdentityError } from './errors';
import { HttpStatusError, type HttpClient } from './http';
import { assertSecureUrl } from './urls';

export interface ProviderMetadata {
  issuer: string;
  jwks_uri?: string;
  token_endpoint?: string;
  authorization_endpoint?: string;
  authorization_response_iss_parameter_supported?: boolean;
  [member: string]: unknown;
}

/** Where the metadata of an issuer is looked for, in order. */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  return [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ];
}

export interface FetchMetadataOptions {
  http: HttpClient;
  /** The issuer the document must name exactly, and where it is looked for. */
  issuer: string;
  allowInsecureHttp: boolean;
  signal?: AbortSignal;
}

/** Fetches and checks the metadata document; rejects with an `ERR_DISCOVERY_*` error. */
export async function fetchMetadata(options: FetchMetadataOptions): Promise<ProviderMetadata> {
  const { http, issuer, signal } = options;
  const [oidcUrl, rfc8414Url] = discoveryUrls(issuer);
  let body: unknown;
  let source = oidcUrl;
  try {
    body = (await http.getJson(oidcUrl, signal)).body;
  } catch (first) {
    if (!(first instanceof HttpStatusError && first.status === 404)) throw discoveryFailure(first, oidcUrl);
    source = rfc8414Url;
    body = await http.getJson(rfc8414Url, signal).then(
      (response) => response.body,
      (second: unknown) => {
        throw discoveryFailure(second, `${oidcUrl} and ${rfc8414Url}`);
      },
    );
  }
  return checkMetadata(body, issuer, source, options.allowInsecureHttp);
}

function checkMetadata(body: unknown, issuer: string, source: string, allowInsecureHttp: boolean): ProviderMetadata {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new IdentityError('ERR_DISCOVERY_INVALID', `${source} is not a JSON object`);
  }
  const metadata = body as ProviderMetadata;
  if (typeof metadata.issuer !== 'string') {
    throw new IdentityError('ERR_DISCOVERY_INVALID', `${source} has no issuer`);
  }
  if (metadata.issuer !== issuer) {
    throw new IdentityError(
      'ERR_DISCOVERY_ISSUER_MISMATCH',
      `the provider names its issuer "${metadata.issuer}", but "${issuer}" is configured; they must be equal, character for character`,
    );
  }
  // These URLs are fetched, posted to, or become a redirect's Location: each must pass the same rule.
  for (const member of ['jwks_uri', 'token_endpoint', 'authorization_endpoint'] as const) {
    const value = metadata[member];
    if (value === undefined) continue;
    let url: URL;
    try {
      url = new URL(String(value));
    } catch {
      throw new IdentityError('ERR_DISCOVERY_INVALID', `${source} has an invalid ${member}`);
    }
    assertSecureUrl(url, member, allowInsecureHttp, false);
  }
  return metadata;
}

function discoveryFailure(error: unknown, where: string): IdentityError {
  const code = error instanceof IdentityError ? error.code : undefined;
  if (code === 'ERR_HTTP_BODY' || (error instanceof HttpStatusError && error.status === 404)) {
    return new IdentityError('ERR_DISCOVERY_INVALID', `no OpenID Connect or RFC 8414 metadata at ${where}`, { cause: error });
  }
  const reason = error instanceof IdentityError ? `: ${error.message}` : '';
  return new IdentityError('ERR_DISCOVERY_UNAVAILABLE', `discovery failed at ${where}${reason}`, { cause: error });
}
