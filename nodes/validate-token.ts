/**
 * validate-token: lets a request from `http in` through only with a valid access token (RFC 6750),
 * authorized by the route's scope and role rules and, when it has them, authenticated as its
 * step-up rules require (RFC 9470). Output 1 carries `msg.auth`; output 2 carries a message ready
 * for `http response`: status, `WWW-Authenticate` challenge (naming the resource's metadata,
 * RFC 9728 §5.1, when set) and `{ error, error_description }`. Sender-constrained tokens (DPoP,
 * RFC 9449; mTLS, RFC 8705) are checked when the node's `dpop` or `mtls` is on.
 */
import { extractAccessToken, presentedScheme } from './core/bearer';
import { rejectionFor } from './core/challenge';
import { DpopPolicy } from './core/dpop';
import { IdentityError, isIdentityError } from './core/errors';
import { DecisionTrace, type Decision } from './core/decision';
import { parseAccessRules, type Identity, type TokenBinding } from './core/identity';
import { MtlsPolicy } from './core/mtls';
import { chooseByIssuer } from './core/issuer-choice';
import { metadataUrl } from './core/resource-metadata';
import { checkStepUp, parseStepUpRules, type StepUpRules } from './core/step-up';
import { checkDistinctIssuers, checkMoreIdentities, moreIdentityConfigs, reportSetup, setupProblem } from './shared/setup';
import type { AccessRules, AuthInfo } from './core/claims';
import type { IdentityConfigNode } from './shared/config-node';
import { describeError, errorStatus, runAsync } from './shared/glue';
import type { AuditRequest, NodeAPI, NodeDefinition, NodeMessage, NodeStatus, RuntimeNode } from './shared/red';

interface ValidateTokenDefinition extends NodeDefinition {
  identity: string;
  /** Further providers whose tokens are accepted too; a token's iss picks the one that verifies it. */
  identity2?: string;
  identity3?: string;
  scope?: string;
  roles?: string;
  /** Step-up (RFC 9470): the acceptable acr values, space-separated; and the longest time since the user authenticated. */
  acr?: string;
  maxAge?: number | string;
  /** The URL of the resource's metadata document (RFC 9728), named in every challenge. */
  resourceMetadata?: string;
  /** DPoP (RFC 9449): off, allowed or required; publicUrl is the external base URL that proofs name in htu. */
  dpop?: string;
  publicUrl?: string;
  /** Certificate-bound tokens (RFC 8705): off or required; the certificate comes from the TLS socket or this proxy header. */
  mtls?: string;
  clientCertHeader?: string;
}


/** How many rejection codes the status counts, most frequent first. */
const MAX_CODES_SHOWN = 3;

export = function register(RED: NodeAPI): void {
  function ValidateToken(this: RuntimeNode, definition: ValidateTokenDefinition): void {
    RED.nodes.createNode(this, definition);
    const config = RED.nodes.getNode(definition.identity) as IdentityConfigNode | null;
    let rules: AccessRules = { scopes: [], roles: [] };
    let stepUp: StepUpRules = { acrValues: [], maxAgeSec: undefined };
    let resourceMetadata: string | undefined;
    let dpop: DpopPolicy | undefined;
    let binding: TokenBinding = {};
    const more = moreIdentityConfigs(RED, definition);
    const setupError = setupProblem(config, () => {
      rules = parseAccessRules(definition.scope, definition.roles);
      stepUp = parseStepUpRules(definition.acr, definition.maxAge);
      resourceMetadata = metadataUrl(definition.resourceMetadata, 'resourceMetadata');
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
        const trace = new DecisionTrace();
        try {
          if (setupError || identities.length === 0) throw setupError;
          const request = msg.req as Parameters<Identity['authenticate']>[0] | undefined;
          if (!request || typeof request !== 'object') {
            throw new IdentityError('ERR_REQUEST_MISSING', 'msg.req is missing: validate-token takes messages from an http in node');
          }
          const identity = identities.length === 1 ? identities[0] : chooseIdentity(request, trace);
          // Validity, then sender constraint, scope and roles (403), then step-up (401): see core/step-up.ts.
          const auth = await identity.authenticate(request, rules, binding, trace);
          checkStepUpRecorded(auth, identity, trace);
          msg.auth = { ...auth, decision: trace.authorized() };
          delete msg.authError;
          providerDown = false;
          show(ready);
          send([msg, null]);
        } catch (error) {
          const known = isIdentityError(error) ? error : new IdentityError('ERR_INTERNAL', 'unexpected failure', { cause: error });
          reject(msg, known, trace.rejected(known.code), send);
          if (known.code === 'ERR_REQUEST_MISSING' || known.code === 'ERR_INTERNAL') throw known;
        }
      }, done);
    });

    this.on('close', (_removed, done) => {
      dpop?.clear();
      done();
    });

    /** The step-up rules (RFC 9470), recorded in the decision trace. */
    const checkStepUpRecorded = (auth: AuthInfo, identity: Identity, trace: DecisionTrace): void => {
      try {
        checkStepUp(auth, stepUp, Date.now(), identity.settings.clockToleranceSec);
      } catch (error) {
        if (isIdentityError(error) && error.code === 'ERR_AUTH_TOO_OLD' && stepUp.acrValues.length > 0) trace.pass('authentication level');
        if (isIdentityError(error)) trace.fail(error.code);
        throw error;
      }
      if (stepUp.acrValues.length > 0) trace.pass('authentication level');
      if (stepUp.maxAgeSec !== undefined) trace.pass('authentication age');
    };

    /** Several providers: the token's iss picks one (recorded as the check "issuer choice"). */
    const chooseIdentity = (request: Parameters<Identity['authenticate']>[0], trace: DecisionTrace): Identity => {
      const { token } = extractAccessToken(request, identities[0].settings.maxTokenLength, binding.schemes);
      trace.pass('credentials');
      try {
        const chosen = chooseByIssuer(token, identities);
        trace.pass('issuer choice');
        return chosen;
      } catch (error) {
        if (isIdentityError(error)) trace.fail(error.code, 'issuer choice');
        throw error;
      }
    };

    // Rejections since the deploy, by code: the status shows the most frequent ones.
    const refused = new Map<string, number>();
    const countsText = (): string => [...refused].sort((a, b) => b[1] - a[1]).slice(0, MAX_CODES_SHOWN)
      .map(([code, count]) => `${code} ×${count}`).join(', ');

    const reject = (msg: NodeMessage, error: IdentityError, decision: Decision, send: (msgs: (NodeMessage | null)[]) => void): void => {
      const rejection = rejectionFor(error, realm, {
        resourceMetadata, dpop: dpop?.challenge, scheme: presentedScheme(msg.req as Parameters<typeof presentedScheme>[0]),
      });
      const unavailable = rejection.statusCode === 503;
      if (unavailable && !providerDown && !setupError) {
        // The provider refusing our own client (introspection) is the configuration at fault, not an outage.
        if (error.rejectionClass === 'configuration') this.error(describeError(RED, error));
        else this.warn(describeError(RED, error));
      }
      providerDown = unavailable;
      refused.set(error.code, (refused.get(error.code) ?? 0) + 1);
      show(unavailable ? errorStatus(error) : {
        fill: 'yellow', shape: 'ring', text: RED._('validate-token.status.rejected', { status: rejection.statusCode, code: error.code, counts: countsText() }),
      });
      // One audit event per refused request, for compliance: node, code, status, route; never the token.
      RED.log.audit({
        event: 'identity.validate-token.rejected', node: this.id, code: error.code, status: rejection.statusCode,
      }, msg.req as AuditRequest | undefined);
      if (error.code === 'ERR_REQUEST_MISSING') return; // nothing to answer: there is no HTTP request
      // An earlier node's msg.auth never passes with a rejected request: only the decision does.
      msg.auth = { decision };
      msg.statusCode = rejection.statusCode;
      msg.headers = rejection.headers;
      msg.payload = rejection.payload;
      msg.authError = { code: rejection.code };
      send([null, msg]);
    };
  }

  RED.nodes.registerType('validate-token', ValidateToken);
};
