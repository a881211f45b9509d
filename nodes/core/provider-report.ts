/**
 * What the editor's Discover button shows: a provider's metadata (OIDC Discovery §3, RFC 8414 §2)
 * and key set, fetched for one issuer exactly as validation would fetch them (same URL rules,
 * exact issuer check, timeout and size limit), and nothing else: the only URLs read are the
 * issuer's well-known metadata locations and the `jwks_uri` that metadata names.
 */
import { fetchMetadata } from './discovery';
import { IdentityError } from './errors';
import type { HttpClient } from './http';
import { issuerSet } from './issuers';
import { parseProviderUrl } from './urls';

export interface ProviderReport {
  issuer: string;
  endpoints: Record<string, string>;
  grantTypes: string[];
  clientAuthMethods: string[];
  signingAlgorithms: string[];
  keys: Array<{ kid?: string; kty?: string; alg?: string; use?: string }>;
}

const ENDPOINTS = ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'introspection_endpoint', 'userinfo_endpoint', 'end_session_endpoint'];

export async function inspectProvider(http: HttpClient, issuer: string, allowInsecureHttp: boolean,
  tenants: readonly string[] = []): Promise<ProviderReport> {
  const trimmed = issuer.trim();
  if (!trimmed) throw new IdentityError('ERR_CONFIG_ISSUER_MISSING', 'the issuer is required');
  // An issuer template is inspected as its first tenant's issuer, as validation reads it.
  const { discovered } = issuerSet(trimmed, tenants);
  parseProviderUrl(discovered, 'issuer', allowInsecureHttp);
  const metadata = await fetchMetadata({ http, issuer: discovered, allowInsecureHttp });
  const endpoints: Record<string, string> = {};
  for (const name of ENDPOINTS) {
    if (typeof metadata[name] === 'string') endpoints[name] = metadata[name] as string;
  }
  let keys: ProviderReport['keys'] = [];
  if (endpoints.jwks_uri) {
    const body = await http.getJson(endpoints.jwks_uri).then((response) => response.body, (error: unknown) => {
      throw new IdentityError('ERR_JWKS_UNAVAILABLE', `the key set at ${endpoints.jwks_uri} could not be fetched`, { cause: error });
    });
    const listed = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(listed)) throw new IdentityError('ERR_JWKS_INVALID', `${endpoints.jwks_uri} is not a JWK Set`);
    keys = listed.slice(0, 100).filter((key) => key && typeof key === 'object').map((key) => {
      const { kid, kty, alg, use } = key as Record<string, unknown>;
      return { kid: text(kid), kty: text(kty), alg: text(alg), use: text(use) };
    });
  }
  return {
    issuer: metadata.issuer,
    endpoints,
    grantTypes: strings(metadata.grant_types_supported),
    clientAuthMethods: strings(metadata.token_endpoint_auth_methods_supported),
    signingAlgorithms: strings(metadata.id_token_signing_alg_values_supported),
    keys,
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string').slice(0, 50) : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value.slice(0, 200) : undefined;
}
