/**
 * refresh-token: trades a refresh token for new tokens (RFC 6749 §6), passing on a rotated refresh
 * token; or, in session mode, keeps a token set in a context store and makes sure every message
 * leaves with an access token valid for a while longer in `msg.headers.Authorization`.
 */
import { ConfigurationError, IdentityError } from './core/errors';
import { needsRefresh, refreshExpired, toSession, type SessionTokens } from './core/tokens';
import type { TokenResponse } from './core/token-client';
import type { IdentityConfigNode } from './shared/config-node';
import { contextGet, contextSet, evaluateProperty, removeFromRequestBody, runAsync } from './shared/glue';
import { reportSetup, setupProblem } from './shared/setup';
import type { ContextScope, NodeAPI, NodeDefinition, NodeMessage, RuntimeNode } from './shared/red';
import { tokenOutputs } from './shared/token-output';

interface RefreshTokenDefinition extends NodeDefinition {
  identity: string;
  refreshToken?: string;
  refreshTokenType?: string;
  session?: boolean;
  /** Session mode: `keep` (authorise the message) or `start` (store the token response in msg.payload). */
  sessionAction?: string;
  store?: string;
  sessionKey?: string;
  sessionScope?: string;
  minValiditySec?: number | string;
}

export = function register(RED: NodeAPI): void {
  function RefreshToken(this: RuntimeNode, definition: RefreshTokenDefinition): void {
    RED.nodes.createNode(this, definition);
    const config = RED.nodes.getNode(definition.identity) as IdentityConfigNode | null;
    const outputs = tokenOutputs(RED, this, {
      ok: RED._('refresh-token.status.ok'),
      failed: (status, code) => RED._('refresh-token.status.failed', { status, code }),
    });
    const sessionKey = definition.sessionKey?.trim() || 'identity-session';
    const store = definition.store?.trim() ?? '';
    const minValiditySec = Number(definition.minValiditySec ?? 60);

    const setupError = setupProblem(config, () => {
      if (!Number.isFinite(minValiditySec) || minValiditySec < 0 || minValiditySec > 3600) {
        throw new ConfigurationError('ERR_CONFIG_INVALID', 'minValiditySec', 'minValiditySec must be a number from 0 to 3600');
      }
    }, (identity) => identity.assertCanRequestTokens());
    reportSetup(RED, this, config, setupError, outputs.show, { fill: 'grey', shape: 'dot', text: RED._('refresh-token.status.ready') });
    const scope = (): ContextScope => (definition.sessionScope === 'global' ? this.context().global : this.context().flow);

    const forget = (): Promise<void> => contextSet(scope(), sessionKey, undefined, store);

    /**
     * Session mode, `start`: the token response in msg.payload becomes the session. Only a node set
     * to start a session does this, and it sits behind get-token: a message from an HTTP client
     * can never replace a session. The tokens are then taken off the message.
     */
    const startSession = async (msg: NodeMessage): Promise<void> => {
      const incoming = msg.payload as Partial<TokenResponse> | undefined;
      if (!incoming || typeof incoming !== 'object' || typeof incoming.access_token !== 'string' || !incoming.access_token) {
        throw new IdentityError('ERR_INPUT_TOKENS_MISSING', 'msg.payload is not a token response: wire this node after get-token');
      }
      await contextSet(scope(), sessionKey, toSession(incoming as TokenResponse, Date.now()), store);
      const { access_token: _a, refresh_token: _r, id_token: _i, ...rest } = incoming;
      msg.payload = rest;
      outputs.show({ fill: 'green', shape: 'dot', text: RED._('refresh-token.status.session') });
    };

    /**
     * Session mode, `keep`: makes sure the stored access token is valid for minValiditySec more
     * seconds (refreshing it if not), and puts it on msg.headers.Authorization for the outgoing call.
     */
    const keepSession = async (msg: NodeMessage): Promise<void> => {
      const identity = config?.identity;
      if (!identity) throw setupError;
      const now = Date.now();
      let session = (await contextGet(scope(), sessionKey, store)) as SessionTokens | undefined;
      if (!session || typeof session.access_token !== 'string') {
        throw new IdentityError('ERR_SESSION_MISSING', 'there is no session: log in first');
      }
      if (needsRefresh(session, now, minValiditySec)) session = await refreshSession(identity, session, now);
      msg.headers = { ...(msg.headers as Record<string, string> | undefined), Authorization: `Bearer ${session.access_token}` };
      outputs.show({ fill: 'green', shape: 'dot', text: RED._('refresh-token.status.session') });
    };

    const refreshSession = async (identity: NonNullable<IdentityConfigNode['identity']>, session: SessionTokens, now: number): Promise<SessionTokens> => {
      const used = session.refresh_token;
      if (typeof used !== 'string' || refreshExpired(session, now)) {
        await forget();
        throw new IdentityError('ERR_SESSION_MISSING', 'the session has ended: log in again');
      }
      try {
        const refreshed = toSession(await identity.tokens.refresh(used), Date.now());
        await contextSet(scope(), sessionKey, refreshed, store);
        return refreshed;
      } catch (error) {
        const code = (error as IdentityError).code;
        // Another instance (a shared context store) or a new login may have replaced the session
        // meanwhile: only the session whose refresh token was refused is ended.
        const stored = (await contextGet(scope(), sessionKey, store)) as SessionTokens | undefined;
        if (stored && stored.refresh_token !== used && typeof stored.access_token === 'string') return stored;
        if (code === 'ERR_GRANT_INVALID') await forget();
        // The provider is down, but the access token still works: let the call go with it.
        if (code === 'ERR_TOKEN_ENDPOINT_UNAVAILABLE' && typeof session.expires_at === 'number' && session.expires_at > Date.now()) {
          return session;
        }
        throw error;
      }
    };

    this.on('input', (msg, send, done) => {
      runAsync(async () => {
        try {
          if (setupError || !config?.identity) throw setupError;
          if (definition.session === true) {
            await (definition.sessionAction === 'start' ? startSession(msg) : keepSession(msg));
            send([msg, null]);
            return;
          }
          const token = await evaluateProperty(RED, this, definition.refreshToken || 'payload.refresh_token',
            definition.refreshTokenType || 'msg', msg);
          removeFromRequestBody(msg, 'refresh_token');
          if (typeof token !== 'string' || !token) {
            throw new IdentityError('ERR_INPUT_REFRESH_TOKEN_MISSING', 'the refresh token is missing');
          }
          outputs.show({ fill: 'blue', shape: 'ring', text: RED._('refresh-token.status.requesting') });
          outputs.succeed(msg, await config.identity.tokens.refresh(token), send, false);
        } catch (error) {
          outputs.fail(msg, error, send);
        }
      }, done);
    });
  }

  RED.nodes.registerType('refresh-token', RefreshToken);
};
