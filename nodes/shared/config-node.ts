/** What an identity-config node offers the nodes that use it. */
import type { IdentityError } from '../core/errors';
import type { Identity } from '../core/identity';
import type { RuntimeNode } from './red';

export interface IdentityConfigNode extends RuntimeNode {
  /** Set when the options are valid. */
  identity?: Identity;
  /** Set when they are not: every request is then answered 503 with this code. */
  configError?: IdentityError;
  /** Settles when the first key set is loaded (or failed); used for the status of nodes. */
  ready?: Promise<number>;
  /** The deployed options, environment variables resolved, credentials left out (for the token doctor). */
  deployedOptions?: Readonly<Record<string, unknown>>;
}
