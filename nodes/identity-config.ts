/**
 * identity-config: one identity provider (issuer, audience, client), shared by every node that
 * points at it. It validates its options at deploy time and owns the core `Identity`: discovery,
 * keys and their caches live here and die with it.
 */
import { Identity } from './core/identity';
import { IdentityError, isIdentityError } from './core/errors';
import { describeError } from './shared/glue';
import type { IdentityConfigNode } from './shared/config-node';
import type { NodeAPI, NodeDefinition } from './shared/red';

interface IdentityConfigDefinition extends NodeDefinition {
  issuer: string;
  clientId?: string;
  audience?: string;
  rfc9068?: boolean;
  realm?: string;
  jwksUri?: string;
  algorithms?: string;
  clockToleranceSec?: number | string;
  timeoutMs?: number | string;
  allowInsecureHttp?: boolean;
  backoffMinMs?: number | string;
}

export = function register(RED: NodeAPI): void {
  function IdentityConfig(this: IdentityConfigNode, definition: IdentityConfigDefinition): void {
    RED.nodes.createNode(this, definition);
    try {
      this.identity = new Identity({
        issuer: definition.issuer,
        clientId: definition.clientId,
        audience: definition.audience,
        rfc9068: definition.rfc9068 === true,
        realm: definition.realm,
        jwksUri: definition.jwksUri,
        algorithms: definition.algorithms,
        clockToleranceSec: definition.clockToleranceSec,
        timeoutMs: definition.timeoutMs,
        allowInsecureHttp: definition.allowInsecureHttp === true,
        backoffMinMs: definition.backoffMinMs,
      });
    } catch (error) {
      this.configError = isIdentityError(error) ? error : new IdentityError('ERR_CONFIG_INVALID', String(error));
      this.error(describeError(RED, this.configError));
    }
    const identity = this.identity;
    let closed = false;
    if (identity) {
      this.ready = identity.warmUp();
      this.ready.catch((error: unknown) => {
        if (!closed) this.warn(RED._('identity-config.warnings.warmUpFailed', { reason: describeError(RED, error) }));
      });
    }
    this.on('close', (_removed, done) => {
      closed = true; // a warm-up cut short by a redeploy is not worth a warning
      identity?.close();
      done();
    });
  }

  RED.nodes.registerType('identity-config', IdentityConfig, {
    credentials: { clientSecret: { type: 'password' } },
  });
};
