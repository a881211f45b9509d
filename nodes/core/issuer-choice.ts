/**
 * One route, several identity providers (two Keycloak realms, an old and a new provider): the
 * token's `iss` names the provider that verifies it.
 *
 * Reading `iss` before the signature is checked is safe because it only chooses: the chosen
 * provider then verifies the token with its own keys and checks `iss` again, exactly. What is never
 * done is trying each provider's keys until one fits, which would let the weakest provider's
 * rules decide for all (and cost a verification per provider for every forged token).
 */
import { IdentityError } from './errors';

export interface IssuerCandidate {
  /** Whether tokens with this `iss` are this provider's to verify. */
  acceptsIssuer(issuer: string): boolean;
}

/**
 * The candidate whose issuer the token names. A token that is not a JWS, or whose payload carries
 * no readable `iss`, goes to the first candidate, which refuses it with the precise reason (or, for
 * an opaque token, asks its introspection endpoint).
 * @throws IdentityError `ERR_TOKEN_ISSUER` when the token names an issuer no candidate accepts
 */
export function chooseByIssuer<T extends IssuerCandidate>(token: string, candidates: readonly T[]): T {
  if (candidates.length === 0) throw new IdentityError('ERR_INTERNAL', 'no provider to choose from');
  if (candidates.length === 1) return candidates[0];
  const issuer = unverifiedIssuer(token);
  if (issuer === undefined) return candidates[0];
  const chosen = candidates.find((candidate) => candidate.acceptsIssuer(issuer));
  if (!chosen) {
    throw new IdentityError('ERR_TOKEN_ISSUER', `the token's issuer is none of the ${candidates.length} configured issuers`);
  }
  return chosen;
}

/** The `iss` of a compact JWS payload, undecoded trust aside; undefined when there is none to read. */
function unverifiedIssuer(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[1])) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    const issuer = payload && typeof payload === 'object' ? (payload as { iss?: unknown }).iss : undefined;
    return typeof issuer === 'string' ? issuer : undefined;
  } catch {
    return undefined;
  }
}
