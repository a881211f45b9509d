/**
 * The one way the core talks to an identity provider: GET a JSON document.
 *
 * Every call has a total deadline (not only an idle-socket timeout, so a provider that trickles
 * bytes cannot hold a request open), a response size limit, and follows redirects only within the
 * same origin (RFC 8414 §3 and OIDC Discovery §4 documents are served by the issuer itself; a
 * redirect elsewhere is how a metadata or key document gets swapped). Transport failures become
 * `IdentityError`s with `ERR_HTTP_*` codes here and nowhere else.
 */
import axios, { AxiosError, type AxiosInstance } from 'axios';
import type { Agent as HttpsAgent } from 'node:https';
import { IdentityError, type ErrorCode } from './errors';

export interface HttpOptions {
  /** Deadline for the whole exchange, redirects included, in ms. Default 5000. */
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Same-origin redirects followed at most. Default 3. */
  maxRedirects?: number;
  /** TLS settings (custom CA, client certificate) for https URLs. */
  httpsAgent?: HttpsAgent;
  /** Value of the User-Agent header. */
  userAgent?: string;
}

export interface JsonResponse {
  status: number;
  body: unknown;
  /** The URL that finally answered, after same-origin redirects. */
  url: string;
}

/** The answer to a POST: any status, and the body parsed as JSON when it is JSON. */
export interface FormResponse {
  status: number;
  /** The parsed body, or undefined when it is empty or not JSON (an HTML error page, say). */
  body: unknown;
  /** The media type of the answer, lower-cased, without parameters. */
  contentType: string;
}

export interface HttpClient {
  /** GET a URL and parse its body as JSON; any status other than 2xx is an `ERR_HTTP_STATUS`. */
  getJson(url: string, signal?: AbortSignal): Promise<JsonResponse>;
  /**
   * POST an `application/x-www-form-urlencoded` body and return whatever status comes back (OAuth
   * errors arrive as 400/401 with a JSON body). Redirects are not followed: a token endpoint that
   * redirects is answered as it is, and the caller decides.
   */
  postForm(url: string, form: URLSearchParams, headers: Record<string, string>, signal?: AbortSignal): Promise<FormResponse>;
}

export const HTTP_DEFAULTS = Object.freeze({
  timeoutMs: 5000,
  maxResponseBytes: 1024 * 1024,
  maxRedirects: 3,
  userAgent: 'node-red-contrib-identity',
});

const TLS_ERROR = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_OSSL|EPROTO/;

export function createHttpClient(options: HttpOptions = {}): HttpClient {
  const timeoutMs = options.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
  const maxResponseBytes = options.maxResponseBytes ?? HTTP_DEFAULTS.maxResponseBytes;
  const maxRedirects = options.maxRedirects ?? HTTP_DEFAULTS.maxRedirects;
  const instance: AxiosInstance = axios.create({
    timeout: timeoutMs,
    maxContentLength: maxResponseBytes,
    maxRedirects: 0, // redirects are followed below, where their origin is checked
    responseType: 'text',
    transformResponse: [(data: unknown) => data], // we parse, so a bad body gets our own code
    validateStatus: () => true,
    httpsAgent: options.httpsAgent,
    headers: { Accept: 'application/json', 'User-Agent': options.userAgent ?? HTTP_DEFAULTS.userAgent },
  });

  async function getJson(url: string, signal?: AbortSignal): Promise<JsonResponse> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let current = url;
    for (let hop = 0; ; hop += 1) {
      const response = await instance.get<string>(current, { signal: combined }).catch((error: unknown) => {
        throw transportError(error, current, timeoutMs, maxResponseBytes, deadline.aborted);
      });
      if (response.status >= 300 && response.status < 400 && response.headers.location) {
        const next = new URL(String(response.headers.location), current);
        if (next.origin !== new URL(current).origin) {
          throw new IdentityError('ERR_HTTP_REDIRECT', `${current} redirected to another origin (${next.origin}); not followed`);
        }
        if (hop >= maxRedirects) {
          throw new IdentityError('ERR_HTTP_REDIRECT', `${url} redirected more than ${maxRedirects} times`);
        }
        current = next.href;
        continue;
      }
      if (response.status < 200 || response.status >= 300) {
        throw new HttpStatusError(current, response.status);
      }
      return { status: response.status, body: parseJson(response.data, current), url: current };
    }
  }

  async function postForm(url: string, form: URLSearchParams, headers: Record<string, string>, signal?: AbortSignal): Promise<FormResponse> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    const response = await instance.post<string>(url, form.toString(), {
      signal: combined,
      headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' },
    }).catch((error: unknown) => {
      throw transportError(error, url, timeoutMs, maxResponseBytes, deadline.aborted);
    });
    const contentType = String(response.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    let body: unknown;
    if (typeof response.data === 'string' && response.data.length > 0) {
      try {
        body = JSON.parse(response.data);
      } catch {
        body = undefined;
      }
    }
    return { status: response.status, body, contentType };
  }

  return { getJson, postForm };
}

/** The provider answered, but not with 2xx; `status` lets callers tell 404 from 503. */
export class HttpStatusError extends IdentityError {
  override readonly name = 'HttpStatusError';
  readonly status: number;

  constructor(url: string, status: number) {
    super('ERR_HTTP_STATUS', `${url} answered HTTP ${status}`);
    this.status = status;
  }
}

function parseJson(text: unknown, url: string): unknown {
  if (typeof text !== 'string' || text.length === 0) {
    throw new IdentityError('ERR_HTTP_BODY', `${url} answered with an empty body`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new IdentityError('ERR_HTTP_BODY', `${url} did not answer with JSON`, { cause: error });
  }
}

function transportError(error: unknown, url: string, timeoutMs: number, maxBytes: number, timedOut: boolean): IdentityError {
  const axiosError = error instanceof AxiosError ? error : undefined;
  const code = axiosError?.code ?? '';
  const causeCode = String((axiosError?.cause as { code?: unknown } | undefined)?.code ?? '');
  let ours: ErrorCode = 'ERR_HTTP_UNREACHABLE';
  let message = `${url} could not be reached (${code || 'network error'})`;
  if (timedOut || code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
    ours = 'ERR_HTTP_TIMEOUT';
    message = `${url} did not answer within ${timeoutMs} ms`;
  } else if (code === 'ERR_CANCELED') {
    ours = 'ERR_HTTP_ABORTED';
    message = `request to ${url} was cancelled`;
  } else if (axiosError?.message.includes('maxContentLength')) {
    ours = 'ERR_HTTP_TOO_LARGE';
    message = `${url} answered with more than ${maxBytes} bytes`;
  } else if (TLS_ERROR.test(code) || TLS_ERROR.test(causeCode)) {
    ours = 'ERR_HTTP_TLS';
    message = `TLS connection to ${url} failed (${code || causeCode})`;
  }
  // The axios error holds the request config (headers included); keep only its code as the cause.
  return new IdentityError(ours, message, { cause: { code: code || causeCode || undefined } });
}
