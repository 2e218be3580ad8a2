// pg's own reading of a connection string and the PG* environment variables
// (a public path of the pg package, without types of its own).
declare module 'pg/lib/connection-parameters.js' {
  export default class ConnectionParameters {
    constructor(config: { connectionString: string });
    user?: string;
    database?: string;
    port: number;
    host: string;
    password?: string;
    options?: string;
    ssl: boolean | Record<string, unknown>;
    isDomainSocket: boolean;
    application_name?: string;
    fallback_application_name?: string;
    statement_timeout?: number | string | false;
    lock_timeout?: number | string | false;
    idle_in_transaction_session_timeout?: number | string | false;
  }
}
