/// The bridge's schema, in order. Each issue that needs tables appends its migrations here;
/// a released migration is never edited, only followed by another. Times are milliseconds since
/// 1970 (UTC) in BIGINT columns, so both databases compare them the same way.
public enum Migrations {
    public static let all: [Migration] = [
        Migration(
            version: 1, name: "apps_users_tokens",
            both: [
                """
                CREATE TABLE apps (
                    app_id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    description TEXT,
                    secret_hash TEXT NOT NULL,
                    active BOOLEAN NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL,
                    secret_rotated_at_ms BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE users (
                    user_id TEXT PRIMARY KEY,
                    app_id TEXT NOT NULL REFERENCES apps (app_id),
                    active BOOLEAN NOT NULL,
                    daily_quota BIGINT NOT NULL,
                    monthly_quota BIGINT NOT NULL,
                    token_generation BIGINT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    updated_at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX users_by_app ON users (app_id, created_at_ms)",
                "CREATE INDEX users_by_creation ON users (created_at_ms, user_id)",
                """
                CREATE TABLE refresh_tokens (
                    token_hash TEXT PRIMARY KEY,
                    family_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    app_id TEXT NOT NULL,
                    generation BIGINT NOT NULL,
                    expires_at_ms BIGINT NOT NULL,
                    used_at_ms BIGINT,
                    revoked_at_ms BIGINT,
                    created_at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id)",
                "CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id)",
                """
                CREATE TABLE token_revocations (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    value TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    expires_at_ms BIGINT NOT NULL,
                    created_at_ms BIGINT NOT NULL
                )
                """,
                "CREATE INDEX token_revocations_by_expiry ON token_revocations (expires_at_ms)",
                """
                CREATE TABLE quota_counters (
                    user_id TEXT NOT NULL,
                    period TEXT NOT NULL,
                    requests BIGINT NOT NULL DEFAULT 0,
                    tokens BIGINT NOT NULL DEFAULT 0,
                    cost_micros BIGINT NOT NULL DEFAULT 0,
                    PRIMARY KEY (user_id, period)
                )
                """,
            ]),
        usageRecords,
        splitKeys,
        budgets,
        ipRules,
        auditLog,
        usageRollups,
        webhooks,
        identityProviders,
        guests,
        appCaps,
        appCounters,
        dpop,
        quotaLeases,
        analyticsAtScale,
        adminSessions,
    ]
}

extension Migrations {
    /// Usage records, one per proxied request (the proxy issue). Only the id column differs.
    static let usageRecords = Migration(
        version: 2, name: "usage_records",
        sqlite: usageRecordsTable(id: "id INTEGER PRIMARY KEY AUTOINCREMENT") + usageRecordsIndexes,
        postgres: usageRecordsTable(id: "id BIGSERIAL PRIMARY KEY") + usageRecordsIndexes
    )

    private static func usageRecordsTable(id: String) -> [String] {
        [
            """
            CREATE TABLE usage_records (
                \(id),
                request_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                app_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                endpoint TEXT NOT NULL,
                model TEXT,
                status BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cached_tokens BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                latency_ms BIGINT NOT NULL,
                ttfb_ms BIGINT,
                streamed BOOLEAN NOT NULL,
                cancelled BOOLEAN NOT NULL,
                key_source TEXT NOT NULL,
                split_key_id TEXT,
                client_ip TEXT NOT NULL,
                user_agent TEXT,
                created_at_ms BIGINT NOT NULL
            )
            """
        ]
    }

    private static let usageRecordsIndexes = [
        "CREATE INDEX usage_by_user_time ON usage_records (user_id, created_at_ms)",
        "CREATE INDEX usage_by_time ON usage_records (created_at_ms)",
    ]
}

extension Migrations {
    /// BYOK split keys (the split-key issue). The primary key is (owner, key id): ids are per user.
    static let splitKeys = Migration(
        version: 3, name: "split_keys",
        both: [
            """
            CREATE TABLE split_keys (
                user_id TEXT NOT NULL,
                key_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                version BIGINT NOT NULL,
                ciphertext TEXT,
                nonce TEXT,
                tag TEXT,
                description TEXT,
                use_count BIGINT NOT NULL DEFAULT 0,
                last_used_at_ms BIGINT,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                revoked_at_ms BIGINT,
                PRIMARY KEY (user_id, key_id)
            )
            """,
            "CREATE INDEX split_keys_by_provider ON split_keys (provider, created_at_ms)",
        ])
}

extension Migrations {
    /// Token and cost budgets (the quotas issue): per user and per split key, NULL for none. Split
    /// keys get their own counters; a user's live in `quota_counters` beside the request counts.
    static let budgets = Migration(
        version: 4, name: "budgets",
        both: [
            "ALTER TABLE users ADD COLUMN daily_token_budget BIGINT",
            "ALTER TABLE users ADD COLUMN monthly_token_budget BIGINT",
            "ALTER TABLE users ADD COLUMN daily_cost_budget_micros BIGINT",
            "ALTER TABLE users ADD COLUMN monthly_cost_budget_micros BIGINT",
            "ALTER TABLE split_keys ADD COLUMN daily_token_budget BIGINT",
            "ALTER TABLE split_keys ADD COLUMN monthly_token_budget BIGINT",
            "ALTER TABLE split_keys ADD COLUMN daily_cost_budget_micros BIGINT",
            "ALTER TABLE split_keys ADD COLUMN monthly_cost_budget_micros BIGINT",
            """
            CREATE TABLE split_key_counters (
                user_id TEXT NOT NULL,
                key_id TEXT NOT NULL,
                period TEXT NOT NULL,
                tokens BIGINT NOT NULL DEFAULT 0,
                cost_micros BIGINT NOT NULL DEFAULT 0,
                PRIMARY KEY (user_id, key_id, period)
            )
            """,
        ])
}

extension Migrations {
    /// IP allow and deny rules (the limits issue). `cidr` is stored normalised.
    static let ipRules = Migration(
        version: 5, name: "ip_rules",
        both: [
            """
            CREATE TABLE ip_rules (
                id TEXT PRIMARY KEY,
                cidr TEXT NOT NULL,
                type TEXT NOT NULL,
                reason TEXT,
                expires_at_ms BIGINT,
                created_by TEXT,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL
            )
            """
        ])
}

extension Migrations {
    /// The audit log (the analytics and audit issue): an append-only hash chain, `seq` from 1.
    static let auditLog = Migration(
        version: 6, name: "audit_log",
        both: [
            """
            CREATE TABLE audit_log (
                seq BIGINT PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                at_ms BIGINT NOT NULL,
                actor_type TEXT NOT NULL,
                actor_id TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT,
                before_json TEXT,
                after_json TEXT,
                ip TEXT,
                user_agent TEXT,
                request_id TEXT,
                success BOOLEAN NOT NULL,
                error TEXT,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_log_by_time ON audit_log (at_ms)",
            "CREATE INDEX audit_log_by_action ON audit_log (action, at_ms)",
        ])
}

extension Migrations {
    /// Usage rollups (the analytics issue), kept by the usage writer and filled here from the usage
    /// rows already written: per hour, user, provider and model (one user's figures); per hour, app,
    /// provider and model (the totals); per day and user (top users). Analytics read these, never
    /// the raw rows, except for lists.
    static let usageRollups = Migration(
        version: 7, name: "usage_rollups",
        both: [
            """
            CREATE TABLE usage_hourly (
                hour_ms BIGINT NOT NULL,
                user_id TEXT NOT NULL,
                app_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                requests BIGINT NOT NULL,
                failed BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                latency_ms BIGINT NOT NULL,
                PRIMARY KEY (hour_ms, user_id, provider, model)
            )
            """,
            "CREATE INDEX usage_hourly_by_user ON usage_hourly (user_id, hour_ms)",
            """
            CREATE TABLE usage_hourly_totals (
                hour_ms BIGINT NOT NULL,
                app_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                requests BIGINT NOT NULL,
                failed BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                latency_ms BIGINT NOT NULL,
                PRIMARY KEY (hour_ms, app_id, provider, model)
            )
            """,
            """
            CREATE TABLE usage_daily_users (
                day_ms BIGINT NOT NULL,
                user_id TEXT NOT NULL,
                app_id TEXT NOT NULL,
                requests BIGINT NOT NULL,
                failed BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                latency_ms BIGINT NOT NULL,
                PRIMARY KEY (day_ms, user_id)
            )
            """,
        ] + hourlyRollupFill)
}

extension Migrations {
    /// Webhooks and their outbox (the analytics issue). The signing secret is stored sealed
    /// (AES-GCM under a key derived from JWT_SECRET), never in clear.
    static let webhooks = Migration(
        version: 8, name: "webhooks",
        both: [
            """
            CREATE TABLE webhooks (
                id TEXT PRIMARY KEY,
                url TEXT NOT NULL,
                events TEXT NOT NULL,
                description TEXT,
                active BOOLEAN NOT NULL,
                secret_sealed TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                updated_at_ms BIGINT NOT NULL,
                secret_rotated_at_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE webhook_outbox (
                id TEXT NOT NULL,
                webhook_id TEXT NOT NULL,
                event TEXT NOT NULL,
                payload TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts BIGINT NOT NULL,
                next_attempt_ms BIGINT NOT NULL,
                locked_until_ms BIGINT NOT NULL,
                last_status BIGINT,
                last_error TEXT,
                created_at_ms BIGINT NOT NULL,
                delivered_at_ms BIGINT,
                PRIMARY KEY (id, webhook_id)
            )
            """,
            "CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_attempt_ms)",
            "CREATE INDEX webhook_outbox_by_webhook ON webhook_outbox (webhook_id, created_at_ms)",
        ])
}

extension Migrations {
    /// Fills the (empty) rollups from every usage row (after a migration, or an import): the
    /// hourly ones, then those derived from them.
    static let rollupRebuild = hourlyRollupFill + derivedRollupFill

    /// Fills the first three rollups (migration 7).
    static let hourlyRollupFill = [
        """
        INSERT INTO usage_hourly (hour_ms, user_id, app_id, provider, model, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
        SELECT created_at_ms - (created_at_ms % 3600000), user_id, MIN(app_id), provider, COALESCE(model, ''), COUNT(*),
               SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(input_tokens), SUM(output_tokens), SUM(cost_micros), SUM(latency_ms)
        FROM usage_records
        GROUP BY created_at_ms - (created_at_ms % 3600000), user_id, provider, COALESCE(model, '')
        """,
        """
        INSERT INTO usage_hourly_totals (hour_ms, app_id, provider, model, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
        SELECT hour_ms, app_id, provider, model, SUM(requests), SUM(failed), SUM(input_tokens), SUM(output_tokens), SUM(cost_micros), SUM(latency_ms)
        FROM usage_hourly GROUP BY hour_ms, app_id, provider, model
        """,
        """
        INSERT INTO usage_daily_users (day_ms, user_id, app_id, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
        SELECT hour_ms - (hour_ms % 86400000), user_id, MIN(app_id), SUM(requests), SUM(failed), SUM(input_tokens), SUM(output_tokens), SUM(cost_micros), SUM(latency_ms)
        FROM usage_hourly GROUP BY hour_ms - (hour_ms % 86400000), user_id
        """,
    ]
}

extension Migrations {
    /// The identity providers each app trusts for `POST /auth/exchange` (the apps-without-a-backend
    /// issue), as the JSON of the spec's `IdentityProvider` list: read with the app, replaced whole.
    static let identityProviders = Migration(
        version: 9, name: "identity_providers",
        both: ["ALTER TABLE apps ADD COLUMN identity_providers_json TEXT"]
    )
}

extension Migrations {
    /// Guest users per install: each app's settings, and the counters of new guests per address
    /// per hour, per app per hour and per app per day (one row per window, swept once it ends).
    static let guests = Migration(
        version: 10, name: "guests",
        both: [
            "ALTER TABLE apps ADD COLUMN guest_settings_json TEXT",
            """
            CREATE TABLE guest_counters (
                counter_key TEXT PRIMARY KEY,
                taken BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX guest_counters_expiry ON guest_counters (expires_at_ms)",
        ]
    )
}

extension Migrations {
    /// App-wide caps (the apps-without-a-backend issue): each app's caps, and the guests' counters
    /// renamed for what they now count (new users per window, guests or not).
    static let appCaps = Migration(
        version: 11, name: "app_caps",
        both: [
            "ALTER TABLE apps ADD COLUMN caps_json TEXT",
            "ALTER TABLE guest_counters RENAME TO new_user_counters",
        ]
    )
}

extension Migrations {
    /// The calls and cost of each app per UTC day and month, for its request and cost caps (one
    /// row per app and window, counted only while the app has such a cap).
    static let appCounters = Migration(
        version: 12, name: "app_counters",
        both: [
            """
            CREATE TABLE app_counters (
                app_id TEXT NOT NULL,
                period TEXT NOT NULL,
                requests BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                PRIMARY KEY (app_id, period)
            )
            """
        ]
    )
}

extension Migrations {
    /// Sender-constrained tokens (RFC 9449): whether an app requires them, the key a refresh
    /// token's family is bound to, and the proofs seen recently (their `jti` per key, until the
    /// proof could no longer pass the `iat` check), so none is accepted twice on any instance.
    static let dpop = Migration(
        version: 13, name: "dpop",
        both: [
            "ALTER TABLE apps ADD COLUMN require_dpop BOOLEAN NOT NULL DEFAULT FALSE",
            "ALTER TABLE refresh_tokens ADD COLUMN bound_key TEXT",
            """
            CREATE TABLE dpop_proofs (
                proof_key TEXT PRIMARY KEY,
                expires_at_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX dpop_proofs_expiry ON dpop_proofs (expires_at_ms)",
        ]
    )
}

extension Migrations {
    /// Quota leases (the performance issue): until when a block of a counter row's requests,
    /// leased by an instance, may still come back, so a refusal knows whether waiting for a
    /// give-back can still admit it.
    static let quotaLeases = Migration(
        version: 14, name: "quota_leases",
        both: ["ALTER TABLE quota_counters ADD COLUMN lease_until_ms BIGINT NOT NULL DEFAULT 0"]
    )
}

extension Migrations {
    /// Analytics at ten million rows (the analytics-at-scale issue).
    /// - Five more rollups, so that no route reads more rows as the usage table grows: per day, user,
    ///   provider and model (one user's figures); per day, app, provider and model (totals by
    ///   provider, daily series); per hour alone (totals, the hour-of-day profile, the hourly
    ///   series); per hour and user (the cut hours of a range's users, the hourly series per user);
    ///   per user over all time (how many users, and the top ones, when no range is asked).
    /// - The usage rows get an index per documented filter of the row list, each ending in
    ///   `(created_at_ms, id)`, the order and cursor of a page; failures get a partial index.
    static let analyticsAtScale = Migration(
        version: 15, name: "analytics_at_scale",
        both: [
            """
            CREATE TABLE usage_daily (
                day_ms BIGINT NOT NULL,
                user_id TEXT NOT NULL,
                app_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                requests BIGINT NOT NULL,
                failed BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                latency_ms BIGINT NOT NULL,
                PRIMARY KEY (day_ms, user_id, provider, model)
            )
            """,
            "CREATE INDEX usage_daily_by_user ON usage_daily (user_id, day_ms)",
            """
            CREATE TABLE usage_daily_totals (
                day_ms BIGINT NOT NULL,
                app_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                model TEXT NOT NULL,
                requests BIGINT NOT NULL,
                failed BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                latency_ms BIGINT NOT NULL,
                PRIMARY KEY (day_ms, app_id, provider, model)
            )
            """,
            """
            CREATE TABLE usage_hours (
                hour_ms BIGINT PRIMARY KEY,
                requests BIGINT NOT NULL,
                failed BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                latency_ms BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE usage_users (
                user_id TEXT PRIMARY KEY,
                app_id TEXT NOT NULL,
                requests BIGINT NOT NULL,
                failed BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                latency_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX usage_users_by_requests ON usage_users (requests DESC, user_id)",
            """
            CREATE TABLE usage_hourly_users (
                hour_ms BIGINT NOT NULL,
                user_id TEXT NOT NULL,
                app_id TEXT NOT NULL,
                requests BIGINT NOT NULL,
                failed BIGINT NOT NULL,
                input_tokens BIGINT NOT NULL,
                output_tokens BIGINT NOT NULL,
                cost_micros BIGINT NOT NULL,
                latency_ms BIGINT NOT NULL,
                PRIMARY KEY (hour_ms, user_id)
            )
            """,
            "CREATE INDEX usage_time ON usage_records (created_at_ms, id)",
            "CREATE INDEX usage_user ON usage_records (user_id, created_at_ms, id)",
            "CREATE INDEX usage_provider ON usage_records (provider, created_at_ms, id)",
            "CREATE INDEX usage_model ON usage_records (model, created_at_ms, id)",
            "CREATE INDEX usage_failed ON usage_records (created_at_ms, id) WHERE status >= 400",
            "DROP INDEX usage_by_user_time",
            "DROP INDEX usage_by_time",
        ] + derivedRollupFill
    )

    /// Fills the rollups of migration 15 from those of migration 7.
    static let derivedRollupFill = [
        """
        INSERT INTO usage_daily (day_ms, user_id, app_id, provider, model, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
        SELECT hour_ms - (hour_ms % 86400000), user_id, MIN(app_id), provider, model, SUM(requests), SUM(failed), SUM(input_tokens),
               SUM(output_tokens), SUM(cost_micros), SUM(latency_ms)
        FROM usage_hourly GROUP BY hour_ms - (hour_ms % 86400000), user_id, provider, model
        """,
        """
        INSERT INTO usage_daily_totals (day_ms, app_id, provider, model, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
        SELECT hour_ms - (hour_ms % 86400000), app_id, provider, model, SUM(requests), SUM(failed), SUM(input_tokens), SUM(output_tokens),
               SUM(cost_micros), SUM(latency_ms)
        FROM usage_hourly_totals GROUP BY hour_ms - (hour_ms % 86400000), app_id, provider, model
        """,
        """
        INSERT INTO usage_hours (hour_ms, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
        SELECT hour_ms, SUM(requests), SUM(failed), SUM(input_tokens), SUM(output_tokens), SUM(cost_micros), SUM(latency_ms)
        FROM usage_hourly_totals GROUP BY hour_ms
        """,
        """
        INSERT INTO usage_hourly_users (hour_ms, user_id, app_id, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
        SELECT hour_ms, user_id, MIN(app_id), SUM(requests), SUM(failed), SUM(input_tokens), SUM(output_tokens), SUM(cost_micros), SUM(latency_ms)
        FROM usage_hourly GROUP BY hour_ms, user_id
        """,
        """
        INSERT INTO usage_users (user_id, app_id, requests, failed, input_tokens, output_tokens, cost_micros, latency_ms)
        SELECT user_id, MIN(app_id), SUM(requests), SUM(failed), SUM(input_tokens), SUM(output_tokens), SUM(cost_micros), SUM(latency_ms)
        FROM usage_daily_users GROUP BY user_id
        """,
    ]
}

extension Migrations {
    /// The admin dashboard's sessions: a token's SHA-256 (never the token), the fingerprint of the
    /// admin key that opened it, and its expiry. In the database, so every instance knows a session
    /// and a sign-out ends it everywhere.
    static let adminSessions = Migration(
        version: 16, name: "admin_sessions",
        both: [
            """
            CREATE TABLE admin_sessions (
                id TEXT PRIMARY KEY,
                key_id TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                expires_at_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at_ms)",
        ]
    )
}
