/**
 * The two outputs every token node shares (get-token, refresh-token): output 1 carries a token
 * response ready for `http response` (RFC 6749 §5.1: `Cache-Control: no-store`, `Pragma: no-cache`),
 * output 2 a failure ready for `http response` (§5.2), and the status and log that go with them.
 * Nothing here writes a token, a secret or a password into a status or a log line.
 */
import { tokenFailureFor } from '../core/challenge';
import { IdentityError, isIdentityError } from '../core/errors';
import type { TokenResponse } from '../core/token-client';
import { describeError, errorStatus } from './glue';
import type { NodeAPI, NodeMessage, NodeStatus, RuntimeNode, SendFunction } from './red';

export const NO_STORE = Object.freeze({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });

export interface TokenOutputs {
  /** Shows a status, only when it differs from the one shown. */
  show(status: NodeStatus): void;
  /** Output 1: `msg.payload` = the token response; `authHeader` adds `Authorization: Bearer …`. */
  succeed(msg: NodeMessage, response: TokenResponse, send: SendFunction, authHeader: boolean, statusText?: string): void;
  /** Output 2: status, headers, `{ error, error_description }`, `msg.authError`. Rethrows our own bugs. */
  fail(msg: NodeMessage, error: unknown, send: SendFunction): void;
}

/** The status texts of the node, from its own catalog. */
export interface TokenStatusTexts {
  ok: string;
  failed(status: number, code: string): string;
}

export function tokenOutputs(RED: NodeAPI, node: RuntimeNode, texts: TokenStatusTexts): TokenOutputs {
  let shown = '';
  let providerDown = false;
  const show = (status: NodeStatus): void => {
    const key = `${status.fill}${status.shape}${status.text}`;
    if (key === shown) return;
    shown = key;
    node.status(status);
  };

  return {
    show,
    succeed(msg, response, send, authHeader, statusText) {
      msg.payload = { ...response }; // a copy: a later node that edits it must not change a cached token
      msg.statusCode = 200;
      // With authHeader the message is on its way to an http request: keep the flow's own headers.
      msg.headers = authHeader
        ? { ...(msg.headers as Record<string, string> | undefined), ...NO_STORE, Authorization: `Bearer ${response.access_token}` }
        : { ...NO_STORE };
      delete msg.authError;
      providerDown = false;
      show({ fill: 'green', shape: 'dot', text: statusText ?? texts.ok });
      send([msg, null]);
    },
    fail(msg, error, send) {
      const known = isIdentityError(error) ? error : new IdentityError('ERR_INTERNAL', 'unexpected failure', { cause: error });
      const answer = tokenFailureFor(known);
      const unavailable = answer.statusCode >= 500;
      if (unavailable && !providerDown) node.warn(describeError(RED, known));
      providerDown = unavailable;
      show(unavailable ? errorStatus(known) : { fill: 'yellow', shape: 'ring', text: texts.failed(answer.statusCode, known.code) });
      msg.statusCode = answer.statusCode;
      msg.headers = answer.headers;
      msg.payload = answer.payload;
      msg.authError = { code: answer.code };
      send([null, msg]);
      if (known.code === 'ERR_INTERNAL') throw known;
    },
  };
}
