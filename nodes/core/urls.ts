/**
 * Which provider URLs we are willing to call.
 *
 * RFC 8414 §2 and OIDC Discovery §3 require `https` issuers; plain `http` is accepted only on a
 * loopback host (a provider on the same machine, as in the demo and in tests) or when the
 * integrator explicitly allows insecure HTTP.
 */
import { ConfigurationError, IdentityError } from './errors';

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Parses an option that must be an http(s) URL; throws a `ConfigurationError` naming the option. */
export function parseProviderUrl(value: string, option: string, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(invalidUrlCode(option), option, `${option} is not a URL: "${value}"`);
  }
  assertSecureUrl(url, option, allowInsecureHttp, true);
  return url;
}

/**
 * Refuses non-http(s) URLs, credentials in URLs, and plain http to a non-loopback host.
 * At deploy time (`atDeploy`) this is a `ConfigurationError`; for a URL the provider advertised it
 * is an `ERR_DISCOVERY_INVALID`, since the document, not the integrator, is at fault.
 */
export function assertSecureUrl(url: URL, option: string, allowInsecureHttp: boolean, atDeploy: boolean): void {
  const fail = (code: 'ERR_CONFIG_ISSUER_INVALID' | 'ERR_CONFIG_INVALID' | 'ERR_CONFIG_INSECURE_HTTP', message: string): never => {
    throw atDeploy ? new ConfigurationError(code, option, message) : new IdentityError('ERR_DISCOVERY_INVALID', message);
  };
  const invalid = invalidUrlCode(option);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    fail(invalid, `${option} must be an https URL, not ${url.protocol}`);
  }
  if (url.username || url.password) {
    fail(invalid, `${option} must not carry credentials in the URL`);
  }
  if (url.protocol === 'http:' && !allowInsecureHttp && !isLoopbackHost(url.hostname)) {
    fail('ERR_CONFIG_INSECURE_HTTP', `${option} uses plain http to ${url.hostname}; use https or allow insecure HTTP`);
  }
}

/** The issuer has a code of its own, since it is the one URL every identity-config needs. */
function invalidUrlCode(option: string): 'ERR_CONFIG_ISSUER_INVALID' | 'ERR_CONFIG_INVALID' {
  return option === 'issuer' ? 'ERR_CONFIG_ISSUER_INVALID' : 'ERR_CONFIG_INVALID';
}
