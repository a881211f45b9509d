/**
 * validate-token: lets a request from `http in` through only with a valid access token (RFC 6750).
 * Output 1 carries `msg.auth`; output 2 carries a message ready for `http response`: status,
 * `WWW-Authenticate` challenge and `{ error, error_description }`. Sender-constrained tokens
 * (DPoP, RFC 9449; mTLS, RFC 8705) are checked when the node's `dpop` or `mtls` is on.
 */
import { extractAccessToken, presentedScheme } from './core/bearer';
import { rejectionFor } from './core/challenge';
import { DpopPolicy } from './core/dpop';
import { IdentityError, isIdentityError } from './core/errors';
import { parseAccessRules, type Identity, type TokenBinding } from './core/identity';
import { MtlsPolicy } from './core/mtls';
import { chooseByIssuer } from './core/issuer-choice';
import { checkDistinctIssuers, checkMoreIdentities, moreIdentityConfigs, reportSetup, setupProblem } from './shared/setup';
import type { AccessRules } from './core/claims';
import type { IdentityConfigNode } from './shared/config-node';
import { describeError, errorStatus, runAsync } from './shared/glue';
import type { NodeAPI, NodeDefinition, NodeMessage, NodeStatus, RuntimeNode } from './shared/red';

interface ValidateTokenDefinition extends NodeDefinition {
  identity: string;
  /** Further providers whose tokens are accepted too; a token's iss picks the one that verifies it. */
  identity2?: string;
  identity3?: string;
  scope?: string;
  roles?: string;
  /** DPoP (RFC 9449): off, allowed or required; publicUrl is the external base URL that proofs name in htu. */
  dpop?: string;
  publicUrl?: string;
  /** Certificate-bound tokens (RFC 8705): off or required; the certificate comes from the TLS socket or this proxy header. */
  mtls?: string;
  clientCertHeader?: string;
}


export = function register(RED: NodeAPI): void {
  function ValidateToken(this: RuntimeNode, definition: ValidateTokenDefinition): void {
    RED.nodes.createNode(this, definition);
    const config = RED.nodes.getNode(definition.identity) as IdentityConfigNode | null;
    let rules: AccessRules = { scopes: [], roles: [] };
    let dpop: DpopPolicy | undefined;
    let binding: TokenBinding = {};
    const more = moreIdentityConfigs(RED, definition);
    const setupError = setupProblem(config, () => {
      rules = parseAccessRules(definition.scope, definition.roles);
      dpop = new DpopPolicy({
        mode: definition.dpop, publicUrl: definition.publicUrl, clockToleranceSec: config?.identity?.settings.clockToleranceSec ?? 0, now: Date.now,
      });
      const mtls = new MtlsPolicy({ mode: definition.mtls, clientCertHeader: definition.clientCertHeader });
      binding = { schemes: dpop.schemes, constraints: [dpop, mtls] };
      checkMoreIdentities(more, (identity) => identity.assertCanValidate());
    }, (identity) => {
      identity.assertCanValidate();
      checkDistinctIssuers(identity, more);
    });
    const identities = setupError || !config?.identity ? [] : [config.identity, ...more.map(({ config: other }) => other?.identity as Identity)];
    const realm = identities[0]?.settings.realm ?? 'node-red';

    let shown = '';
    const show = (status: NodeStatus): void => {
      const key = `${status.fill}${status.text}`;
      if (key === shown) return; // every request may call this; the editor hears only changes
      shown = key;
      this.status(status);
    };
    const ready: NodeStatus = { fill: 'green', shape: 'dot', text: RED._('validate-token.status.ready') };
    let providerDown = false;

    reportSetup(RED, this, config, setupError, show, { fill: 'yellow', shape: 'ring', text: RED._('validate-token.status.connecting') });
    if (!setupError) {
      Promise.all([config, ...more.map(({ config: other }) => other)].map((each) => each?.ready)).then(() => show(ready), (error: unknown) => {
        if (isIdentityError(error)) show(errorStatus(error));
      });
    }
    if (!definition.wires?.[1]?.length) this.warn(RED._('validate-token.warnings.rejectionsNotWired'));

    this.on('input', (msg, send, done) => {
      runAsync(async () => {
        try {
          if (setupError || identities.length === 0) throw setupError;
          const request = msg.req as Parameters<Identity['authenticate']>[0] | undefined;
          if (!request || typeof request !== 'object') {
            throw new IdentityError('ERR_REQUEST_MISSING', 'msg.req is missing: validate-token takes messages from an http in node');
          }
          const identity = identities.length === 1 ? identities[0]
            : chooseByIssuer(extractAccessToken(request, identities[0].settings.maxTokenLength, binding.schemes).token, identities);
          msg.auth = await identity.authenticate(request, rules, binding);
          delete msg.authError;
          providerDown = false;
          show(ready);
          send([msg, null]);
        } catch (error) {
          const known = isIdentityError(error) ? error : new IdentityError('ERR_INTERNAL', 'unexpected failure', { cause: error });
          reject(msg, known, send);
          if (known.code === 'ERR_REQUEST_MISSING' || known.code === 'ERR_INTERNAL') throw known;
        }
      }, done);
    });

    this.on('close', (_removed, done) => {
      dpop?.clear();
      done();
    });

    const reject = (msg: NodeMessage, error: IdentityError, send: (msgs: (NodeMessage | null)[]) => void): void => {
      const rejection = rejectionFor(error, realm, { dpop: dpop?.challenge, scheme: presentedScheme(msg.req as Parameters<typeof presentedScheme>[0]) });
      const unavailable = rejection.statusCode === 503;
      if (unavailable && !providerDown && !setupError) {
        // The provider refusing our own client (introspection) is the configuration at fault, not an outage.
        if (error.rejectionClass === 'configuration') this.error(describeError(RED, error));
        else this.warn(describeError(RED, error));
      }
      providerDown = unavailable;
      show(unavailable ? errorStatus(error) : {
        fill: 'yellow', shape: 'ring', text: RED._('validate-token.status.rejected', { status: rejection.statusCode, code: error.code }),
      });
      if (error.code === 'ERR_REQUEST_MISSING') return; // nothing to answer: there is no HTTP request
      delete msg.auth; // never let an earlier node's msg.auth pass with a rejected request
      msg.statusCode = rejection.statusCode;
      msg.headers = rejection.headers;
      msg.payload = rejection.payload;
      msg.authError = { code: rejection.code };
      send([null, msg]);
    };
  }

  RED.nodes.registerType('validate-token', ValidateToken);
};
