/**
 * get-token: obtains a token from the identity provider with the configured grant, for a token
 * endpoint built in a flow (`http in` → get-token → `http response`) or for outgoing calls.
 */
import { ConfigurationError, IdentityError, isIdentityError } from './core/errors';
import type { Identity } from './core/identity';
import { TOKEN_DEFAULTS, TOKEN_EXCHANGE_GRANT, ACCESS_TOKEN_TYPE, type ExtraParameters } from './core/tokens';
import type { TokenResponse } from './core/token-client';
import type { IdentityConfigNode } from './shared/config-node';
import { evaluateProperty, removeFromRequestBody, runAsync } from './shared/glue';
import { checkMoreIdentities, moreIdentityConfigs, reportSetup, setupProblem } from './shared/setup';
import type { NodeAPI, NodeDefinition, NodeMessage, RuntimeNode } from './shared/red';
import { NO_STORE, tokenOutputs } from './shared/token-output';

interface GetTokenDefinition extends NodeDefinition {
  identity: string;
  /** Further providers the password grant tries in order (a provider chain). */
  identity2?: string;
  identity3?: string;
  grantType?: string;
  scope?: string;
  params?: string;
  paramsType?: string;
  authHeader?: boolean;
  cache?: boolean;
  redirectUri?: string;
}

const GRANT_TYPES = ['client_credentials', 'password', 'authorization_code', TOKEN_EXCHANGE_GRANT];
/** The cookie holding the value that binds a pending login to the browser that started it. */
const LOGIN_COOKIE = 'identity_login';

export = function register(RED: NodeAPI): void {
  function GetToken(this: RuntimeNode, definition: GetTokenDefinition): void {
    RED.nodes.createNode(this, definition);
    const config = RED.nodes.getNode(definition.identity) as IdentityConfigNode | null;
    const grantType = definition.grantType || 'client_credentials';
    const scope = (definition.scope ?? '').trim().split(/\s+/).filter(Boolean).join(' ');
    const redirectUri = definition.redirectUri ?? '';
    // The cookie that binds a login to its browser: sent back on the callback (SameSite=Lax lets a
    // top-level redirect from the provider carry it), never readable by scripts, Secure over https.
    const loginCookie = {
      httpOnly: true, sameSite: 'lax', path: '/', maxAge: TOKEN_DEFAULTS.loginTtlMs, secure: redirectUri.startsWith('https:'),
    };
    const outputs = tokenOutputs(RED, this, {
      ok: RED._('get-token.status.ok'),
      failed: (status, code) => RED._('get-token.status.failed', { status, code }),
    });

    const more = moreIdentityConfigs(RED, definition);
    const setupError = setupProblem(config, () => {
      if (more.length > 0 && grantType !== 'password') {
        throw new ConfigurationError('ERR_CONFIG_INVALID', more[0].option, 'only the password grant tries several providers');
      }
      checkMoreIdentities(more, (identity) => identity.assertCanRequestTokens());
      if (!GRANT_TYPES.includes(grantType)) {
        throw new ConfigurationError('ERR_CONFIG_INVALID', 'grantType', `grantType must be one of ${GRANT_TYPES.join(' ')}`);
      }
      if (grantType === 'authorization_code' && !/^https?:\/\//.test(redirectUri)) {
        throw new ConfigurationError('ERR_CONFIG_INVALID', 'redirectUri', 'redirectUri must be the full URL of the flow\'s callback endpoint');
      }
    }, (identity) => identity.assertCanRequestTokens());
    reportSetup(RED, this, config, setupError, outputs.show, { fill: 'grey', shape: 'dot', text: RED._('get-token.status.ready') });

    const extraParameters = async (msg: NodeMessage): Promise<ExtraParameters> => {
      const value = definition.params ? await evaluateProperty(RED, this, definition.params, definition.paramsType || 'json', msg) : {};
      if (value === undefined || value === null || value === '') return {};
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new IdentityError('ERR_INPUT_PARAMS_INVALID', 'the extra parameters must be an object of name/value pairs');
      }
      return value as ExtraParameters;
    };

    this.on('input', (msg, send, done) => {
      runAsync(async () => {
        try {
          if (setupError || !config?.identity) throw setupError;
          const tokens = config.identity.tokens;
          const extra = await extraParameters(msg);
          const useCache = definition.cache !== false;
          const cached = grantType === 'client_credentials' && useCache ? tokens.cachedClientCredentials(scope, extra) : undefined;
          if (cached) {
            outputs.succeed(msg, cached, send, definition.authHeader === true, RED._('get-token.status.cached'));
            return;
          }
          outputs.show({ fill: 'blue', shape: 'ring', text: RED._('get-token.status.requesting') });
          let response: TokenResponse;
          switch (grantType) {
            case 'password': {
              const { username, password } = takeCredentials(msg);
              const chain = [config.identity, ...more.map(({ config: other }) => other?.identity as Identity)];
              response = await passwordAlongChain(chain, username, password, scope, extra);
              break;
            }
            case TOKEN_EXCHANGE_GRANT: {
              const payload = msg.payload as { subject_token?: unknown; subject_token_type?: unknown } | undefined;
              if (typeof payload?.subject_token !== 'string' || !payload.subject_token) {
                throw new IdentityError('ERR_INPUT_SUBJECT_TOKEN_MISSING', 'msg.payload.subject_token is missing');
              }
              const type = typeof payload.subject_token_type === 'string' ? payload.subject_token_type : ACCESS_TOKEN_TYPE;
              const subjectToken = payload.subject_token;
              removeFromRequestBody(msg, 'subject_token');
              response = await tokens.exchange(subjectToken, type, scope, extra);
              break;
            }
            case 'authorization_code': {
              const req = msg.req as { query?: Record<string, unknown>; cookies?: Record<string, unknown> } | undefined;
              const query = req?.query ?? {};
              if (query.code === undefined && query.error === undefined && query.state === undefined) {
                // The /login endpoint: send the browser to the provider, bound to it by a cookie.
                const login = await tokens.startLogin(redirectUri, scope, extra);
                msg.statusCode = 302;
                msg.headers = { ...NO_STORE, Location: login.url };
                msg.cookies = { [LOGIN_COOKIE]: { value: login.binding, ...loginCookie } };
                msg.payload = '';
                send([msg, null]);
                return;
              }
              const binding = req?.cookies?.[LOGIN_COOKIE];
              msg.cookies = { [LOGIN_COOKIE]: null }; // single use, whatever the outcome
              response = await tokens.finishLogin(query, typeof binding === 'string' ? binding : undefined, extra);
              break;
            }
            default:
              response = await tokens.clientCredentials(scope, extra, useCache);
          }
          outputs.succeed(msg, response, send, definition.authHeader === true);
        } catch (error) {
          outputs.fail(msg, error, send);
        }
      }, done);
    });
  }

  /**
   * The password grant at each provider in turn (Sensedia's API Identity calls it a chain): the
   * first that accepts the password answers. Only `invalid_grant` (unknown user, wrong password)
   * hands over to the next; any other failure ends the chain at once, so that a provider outage or
   * a misconfigured client never turns into a login at another provider.
   */
  async function passwordAlongChain(chain: Identity[], username: string, password: string, scope: string,
    extra: ExtraParameters): Promise<TokenResponse> {
    for (let index = 0; ; index += 1) {
      try {
        return await chain[index].tokens.password(username, password, scope, extra);
      } catch (error) {
        const last = index === chain.length - 1;
        if (last || !isIdentityError(error) || error.code !== 'ERR_GRANT_INVALID') throw error;
      }
    }
  }

  /**
   * The password grant's username and password from `msg.payload` (JSON or form body); the
   * password is then removed from the message, so no later node, log or debug view sees it.
   */
  function takeCredentials(msg: NodeMessage): { username: string; password: string } {
    const payload = msg.payload as Record<string, unknown> | undefined;
    const username = payload?.username;
    const password = payload?.password;
    if (payload && typeof payload === 'object') delete payload.password;
    removeFromRequestBody(msg, 'password');
    if (typeof username !== 'string' || !username || typeof password !== 'string' || !password) {
      throw new IdentityError('ERR_INPUT_CREDENTIALS_MISSING', 'msg.payload.username and msg.payload.password are required');
    }
    return { username, password };
  }

  RED.nodes.registerType('get-token', GetToken);
};
