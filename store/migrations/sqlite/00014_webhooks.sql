-- Webhooks: operators' endpoints, the event types each subscribes to, and
-- one delivery per (event, endpoint), queued in the transaction that
-- records the event and sent by the webhook dispatcher with retries.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id                   INTEGER PRIMARY KEY,
    url                  TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    -- The signing secret (whsec_…), sealed with the server's key.
    secret_enc           BLOB NOT NULL,
    paused_at            TIMESTAMP,
    pause_reason         TEXT NOT NULL DEFAULT '',
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since        TIMESTAMP,
    last_success_at      TIMESTAMP,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);
CREATE TABLE webhook_subscriptions (
    event_type  TEXT NOT NULL,
    endpoint_id INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    PRIMARY KEY (event_type, endpoint_id)
);
CREATE INDEX webhook_subscriptions_endpoint ON webhook_subscriptions (endpoint_id);
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type      TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until     TIMESTAMP,
    last_attempt_at TIMESTAMP,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_response   TEXT NOT NULL DEFAULT '',
    last_error      TEXT NOT NULL DEFAULT '',
    delivered_at    TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TABLE webhook_endpoints;
