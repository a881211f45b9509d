/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): the JSON document an API publishes at
 * `/.well-known/oauth-protected-resource` (§2, §3), which tells a client the resource's identifier,
 * the authorization servers that issue its tokens and how to present them, and the URL of that
 * document that validate-token's challenges carry (`resource_metadata`, §5.1).
 *
 * Everything in it is known at deploy time, so it is built and checked once.
 */
import { words } from './claims';
import { ConfigurationError } from './errors';
import { parseProviderUrl } from './urls';

/** The members of RFC 9728 §2 that a Node-RED API can state. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  /** Only the `Authorization` header: validate-token refuses tokens in the query or the body. */
  bearer_methods_supported: ['header'];
  scopes_supported?: string[];
  resource_name?: string;
  resource_documentation?: string;
}

export interface ResourceMetadataOptions {
  /** The resource identifier: an https URL (http on a loopback host) without a fragment. Required. */
  resource: unknown;
  /** The issuers of the identity-configs whose tokens the resource accepts. */
  authorizationServers: readonly string[];
  /** `scopes_supported`, space-separated. */
  scopes?: unknown;
  /** `resource_name`: a name for people. */
  resourceName?: unknown;
  /** `resource_documentation`: the URL of the API's documentation for developers. */
  documentation?: unknown;
}

/**
 * How long clients may keep the document, in seconds: it changes only with a deploy, and it names
 * the authorization servers, whose own metadata identity-config keeps for the same hour.
 */
export const RESOURCE_METADATA_MAX_AGE_SEC = 3600;

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const MAX_NAME_LENGTH = 200;

/** Builds the metadata document; throws a `ConfigurationError` naming the option that is wrong. */
export function protectedResourceMetadata(options: ResourceMetadataOptions): ProtectedResourceMetadata {
  const resource = metadataUrl(options.resource, 'resource');
  if (!resource) throw new ConfigurationError('ERR_CONFIG_INVALID', 'resource', 'resource is required: the URL that identifies this API');
  if (resource.includes('#')) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', 'resource', 'resource must not have a fragment (RFC 9728 §1.2)');
  }
  const scopes = textOption(options.scopes, 'scopes');
  const scopeList = words(scopes);
  if (!scopeList.every((scope) => SCOPE_TOKEN.test(scope))) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', 'scopes', 'scopes are space-separated and may not contain quotes, backslashes or non-ASCII characters');
  }
  const name = textOption(options.resourceName, 'resourceName').trim();
  if (name.length > MAX_NAME_LENGTH) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', 'resourceName', `resourceName must be at most ${MAX_NAME_LENGTH} characters`);
  }
  const documentation = metadataUrl(options.documentation, 'documentation');
  return {
    resource,
    authorization_servers: [...new Set(options.authorizationServers)],
    bearer_methods_supported: ['header'],
    ...(scopeList.length > 0 ? { scopes_supported: scopeList } : {}),
    ...(name ? { resource_name: name } : {}),
    ...(documentation ? { resource_documentation: documentation } : {}),
  };
}

/**
 * An optional URL option of the metadata (`resource`, `documentation`) or of validate-token
 * (`resourceMetadata`): https, or http on a loopback host; undefined when blank. It is kept as
 * written, since a client compares the resource identifier character by character (RFC 9728 §3.3),
 * so it must be written in printable ASCII (other characters percent-encoded).
 */
export function metadataUrl(value: unknown, option: string): string | undefined {
  const text = textOption(value, option).trim();
  if (!text) return undefined;
  parseProviderUrl(text, option, false);
  if (!/^[\x21-\x7E]+$/.test(text)) {
    throw new ConfigurationError('ERR_CONFIG_INVALID', option, `${option} must be written without spaces or non-ASCII characters (percent-encode them)`);
  }
  return text;
}

function textOption(value: unknown, option: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ConfigurationError('ERR_CONFIG_INVALID', option, `${option} must be text`);
  return value;
}
