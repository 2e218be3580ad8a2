// Migrations are listed here in order, rather than found by scanning a
// folder, so they run the same from TypeScript sources and from dist/.
import type { Knex } from 'knex';
import * as createUsersAndSessions from './001_create_users_and_sessions.js';
import * as rateLimitsAndSecurityEvents from './002_rate_limits_and_security_events.js';
import * as userPositionsAndCounters from './003_user_positions_and_counters.js';
import * as credentialGenerations from './004_credential_generations.js';
import * as mailOutbox from './005_mail_outbox.js';
import * as passwordResetTokens from './006_password_reset_tokens.js';
import * as emailVerification from './007_email_verification.js';
import * as resetTokenAddresses from './008_reset_token_addresses.js';
import * as sessionOrigins from './009_session_origins.js';
import * as userBlocks from './010_user_blocks.js';
import * as disabledAccounts from './011_disabled_accounts.js';
import * as signingKeysAndRefreshTokens from './012_signing_keys_and_refresh_tokens.js';
import * as outboxCreatedAtIndex from './013_outbox_created_at_index.js';
import * as signingKeyStandby from './014_signing_key_standby.js';
import * as secondFactor from './015_second_factor.js';
import * as emailRevertTokens from './016_email_revert_tokens.js';

interface Migration {
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

const migrations: Record<string, Migration> = {
  '001_create_users_and_sessions': createUsersAndSessions,
  '002_rate_limits_and_security_events': rateLimitsAndSecurityEvents,
  '003_user_positions_and_counters': userPositionsAndCounters,
  '004_credential_generations': credentialGenerations,
  '005_mail_outbox': mailOutbox,
  '006_password_reset_tokens': passwordResetTokens,
  '007_email_verification': emailVerification,
  '008_reset_token_addresses': resetTokenAddresses,
  '009_session_origins': sessionOrigins,
  '010_user_blocks': userBlocks,
  '011_disabled_accounts': disabledAccounts,
  '012_signing_keys_and_refresh_tokens': signingKeysAndRefreshTokens,
  '013_outbox_created_at_index': outboxCreatedAtIndex,
  '014_signing_key_standby': signingKeyStandby,
  '015_second_factor': secondFactor,
  '016_email_revert_tokens': emailRevertTokens,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name],
};
