/**
 * resource-metadata: answers `GET /.well-known/oauth-protected-resource` from `http in` with the
 * API's protected resource metadata (RFC 9728 §3): its resource identifier, the issuers of its
 * identity-configs as `authorization_servers`, its scopes and how to present a token. Output 1
 * carries a message ready for `http response`: 200 with the document, or 503 while the node is
 * misconfigured.
 */
import { rejectionFor } from './core/challenge';
import { IdentityError } from './core/errors';
import type { Identity } from './core/identity';
import { protectedResourceMetadata, RESOURCE_METADATA_MAX_AGE_SEC, type ProtectedResourceMetadata } from './core/resource-metadata';
import type { IdentityConfigNode } from './shared/config-node';
import { checkDistinctIssuers, checkMoreIdentities, moreIdentityConfigs, reportSetup, setupProblem } from './shared/setup';
import type { NodeAPI, NodeDefinition, NodeMessage, NodeStatus, RuntimeNode } from './shared/red';

interface ResourceMetadataDefinition extends NodeDefinition {
  identity: string;
  /** Further providers whose tokens the API accepts (as validate-token's): their issuers are listed too. */
  identity2?: string;
  identity3?: string;
  resource: string;
  scopes?: string;
  resourceName?: string;
  documentation?: string;
}

export = function register(RED: NodeAPI): void {
  function ResourceMetadata(this: RuntimeNode, definition: ResourceMetadataDefinition): void {
    RED.nodes.createNode(this, definition);
    const config = RED.nodes.getNode(definition.identity) as IdentityConfigNode | null;
    const more = moreIdentityConfigs(RED, definition);
    let metadata: ProtectedResourceMetadata | undefined;
    const setupError = setupProblem(config, () => checkMoreIdentities(more, () => undefined), (identity) => {
      checkDistinctIssuers(identity, more);
      const identities = [identity, ...more.map(({ config: other }) => other?.identity as Identity)];
      metadata = protectedResourceMetadata({
        resource: definition.resource,
        authorizationServers: identities.flatMap((each) => each.settings.issuers),
        scopes: definition.scopes,
        resourceName: definition.resourceName,
        documentation: definition.documentation,
      });
    });
    const ready: NodeStatus = { fill: 'green', shape: 'dot', text: RED._('resource-metadata.status.ready') };
    reportSetup(RED, this, config, setupError, (status) => this.status(status), ready);

    this.on('input', (msg, send, done) => {
      if (metadata) {
        msg.statusCode = 200;
        msg.headers = { 'Content-Type': 'application/json', 'Cache-Control': `public, max-age=${RESOURCE_METADATA_MAX_AGE_SEC}` };
        msg.payload = structuredClone(metadata); // a later node may edit its copy, never the next answer
        delete msg.authError;
      } else {
        unavailable(msg, setupError ?? new IdentityError('ERR_CONFIG_MISSING', 'the selected identity-config is not usable'));
      }
      send(msg);
      done();
    });
  }

  /** 503 with `Retry-After` until the node is reconfigured; `msg.authError.code` says why. */
  function unavailable(msg: NodeMessage, error: IdentityError): void {
    const rejection = rejectionFor(error, '');
    msg.statusCode = rejection.statusCode;
    msg.headers = rejection.headers;
    msg.payload = rejection.payload;
    msg.authError = { code: rejection.code };
  }

  RED.nodes.registerType('resource-metadata', ResourceMetadata);
};
