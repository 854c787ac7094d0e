-- Up Migration
-- Operators: people with a role, their refresh-token families, the failed-login counters that lock a username
-- out across every control-plane process, and the JWT signing keys those processes share.

-- A username is the user's id: derived, stable, and what the audit log names. Users are disabled, never
-- deleted, so an audit row always points at someone.
CREATE TABLE users (
  username text PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
  role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  -- PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz
);

-- Keyed by the username as typed (lower-cased), not a foreign key: an unknown username locks out exactly like
-- a known one, so lockout does not tell an attacker which usernames exist.
CREATE TABLE login_failures (
  username text PRIMARY KEY,
  failures integer NOT NULL,
  window_started_at timestamptz NOT NULL,
  locked_until timestamptz
);

-- One family per login; each refresh rotates the token within it. A token used twice means it was copied:
-- the whole family is revoked (refresh-tokens.ts).
CREATE TABLE refresh_families (
  id text PRIMARY KEY,
  username text NOT NULL REFERENCES users (username),
  client text NOT NULL CHECK (client IN ('browser', 'token')),
  -- sha256 of the browser family's CSRF token; NULL for bearer clients, which send no cookie.
  csrf_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text
);
CREATE INDEX refresh_families_user ON refresh_families (username) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
  token_hash text PRIMARY KEY,
  family_id text NOT NULL REFERENCES refresh_families (id),
  issued_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  -- Set when the token is exchanged; a second exchange is reuse.
  used_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- kid is the RFC 7638 thumbprint of the public key: derived, so two processes can never disagree about it.
CREATE TABLE jwt_signing_keys (
  kid text PRIMARY KEY,
  public_jwk jsonb NOT NULL,
  -- PKCS#8 PEM, or `enc:v1:…` (AES-256-GCM under a key derived from SLUICE_JWT_SECRET) when that is set.
  private_key text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- No longer signs from then on; its public key stays in the JWKS until the last token it signed expired.
  retired_at timestamptz
);

-- Down Migration
DROP TABLE jwt_signing_keys;
DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE login_failures;
DROP TABLE users;
