"""Tables. Plain SQLAlchemy Core so that SQLite and PostgreSQL share one definition.

Invariants the database keeps itself: one live attempt per call (partial unique index), one
row per token hash, and dialer ids as primary keys.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)

from voxcall.domain.projects import DEFAULT_STORAGE_QUOTA

metadata = MetaData()

projects = Table(
    "projects",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("rate_limit", Integer, nullable=False),
    Column("default_dialer_id", String(32), nullable=True),
    Column("allowed_regions", String(200), nullable=False),
    # Money in milli-Toman. balance = sum of the project's ledger; reserved = sum of the
    # reservations of its calls that are not final. Both change only with a ledger row or a
    # call's reservation, in the same transaction.
    Column("balance_milli", BigInteger, nullable=False),
    Column("reserved_milli", BigInteger, nullable=False),
    Column("webhook_url", String(2000), nullable=True),
    Column("webhook_secret", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # bytes the project's voice files may take (voices.stored_bytes of its live voices)
    Column(
        "storage_quota",
        BigInteger,
        nullable=False,
        server_default=text(str(DEFAULT_STORAGE_QUOTA)),
    ),
    Column("window", Text, nullable=True),  # the default calling window, JSON (§10)
    CheckConstraint("balance_milli >= 0", name="ck_projects_balance"),
    CheckConstraint("reserved_milli >= 0", name="ck_projects_reserved"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("prefix", String(16), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

# One row: its version grows with every change that cached settings depend on (tokens,
# projects, dialers, voices; see settings_cache.py), in the transaction of the change.
settings_version = Table(
    "settings_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
)

dialers = Table(
    "dialers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("driver", String(32), nullable=False),
    Column("options", Text, nullable=False),  # driver options as JSON
    Column("channels", Integer, nullable=False),
    Column("cps", Float, nullable=False),
    Column("retry_interval", Integer, nullable=False),
    Column("ring_timeout", Integer, nullable=False),
    Column("price_per_minute_milli", BigInteger, nullable=False),
    Column("billing_increment", Integer, nullable=False),
    Column("connect_fee_milli", BigInteger, nullable=False),
    Column("reserve_margin", Integer, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

voices = Table(
    "voices",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("format", String(16), nullable=False),
    Column("size", Integer, nullable=False),
    Column("duration", Float, nullable=False),
    # upload | tts | otp; otp voices hold a code and are never listed
    Column("kind", String(8), nullable=False),
    # tts: the hash of language + text, so that a text is synthesized once per project
    Column("source_hash", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
    # the original and the 8 kHz WAV on disk, counted against the project's storage quota
    Column("stored_bytes", BigInteger, nullable=False, server_default=text("0")),
    Index("ix_voices_source", "project_id", "source_hash"),
)

# what the overview sums over a project's day (store/reports.py, Reports.activity)
OVERVIEW_SUMS = ("status", "attempts", "bill_sec", "price_milli")

calls = Table(
    "calls",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("campaign_id", String(32), nullable=True, index=True),
    Column("campaign_index", Integer, nullable=True),  # position in the batch request
    Column("voice_id", String(32), ForeignKey("voices.id"), nullable=False, index=True),
    Column("national_number", String(32), nullable=False),
    Column("e164", String(32), nullable=False),
    # The dialer this call must use; NULL lets the least-loaded enabled dialer take it.
    Column("dialer_id", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    # queued (waiting for its next attempt), dialing (an attempt is live), final
    Column("phase", String(8), nullable=False),
    Column("retry_count", Integer, nullable=False),
    Column("retry_interval", Integer, nullable=True),  # NULL: the dialer's
    Column("request_date", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    # set while a calling window holds the call past when it was otherwise due (then): a
    # window widened or a holiday removed lets it go from then on (calls/call_windows.py)
    Column("window_held_from", Float, nullable=True),
    Column("execution_date", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("bill_sec", Integer, nullable=False),
    Column("price_milli", BigInteger, nullable=False),  # debited, milli-Toman
    Column("reserved_milli", BigInteger, nullable=False),  # open reservation; 0 once final
    Column("cause", String(200), nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("call_class", SmallInteger, nullable=False),  # CallClass: the claim's order
    # the calls the claim shares round-robin: "<class>:<project>:<campaign or ''>" (lane_of)
    Column("lane", String(80), nullable=False),
    # api.md §11. gather: {"max_digits", "timeout", "finish_on_key", "repeat_key"}, NULL when
    # the request collects no keys; digits and answered_by: what the last answered attempt
    # found (answered_by NULL while machine detection is off).
    Column("gather", JSON, nullable=True),
    Column("machine_detection", String(10), nullable=False, server_default="off"),
    Column("digits", String(16), nullable=False, server_default=""),
    Column("answered_by", String(8), nullable=True),
    Index("ix_calls_due", "phase", "next_attempt_at"),
    # the claim walks the lanes that hold queued calls and takes each lane's oldest due
    Index("ix_calls_lane", "phase", "lane", "next_attempt_at"),
    # a project's calls by request date; it also carries what the overview sums, so that
    # the day's activity is read from the index alone (no visit to 30,000 rows a day)
    Index("ix_calls_project", "project_id", "request_date", *OVERVIEW_SUMS),
    # a campaign's calls in list order (keyset pages), and those not final yet (its release)
    Index("ix_calls_campaign_order", "campaign_id", "campaign_index"),
    Index("ix_calls_campaign_phase", "campaign_id", "phase"),
    # the console: a project's calls in progress newest first, and its calls to a number
    Index("ix_calls_project_phase", "project_id", "phase", "request_date"),
    Index("ix_calls_project_number", "project_id", "national_number", "request_date"),
    # a project's queued calls held by a window, in id order (batches of a recomputation)
    Index(
        "ix_calls_window_held",
        "project_id",
        "id",
        sqlite_where=text("phase = 'queued' AND window_held_from IS NOT NULL"),
        postgresql_where=text("phase = 'queued' AND window_held_from IS NOT NULL"),
    ),
)

# The overview's counters of final calls (store/overview_counts.py): per project, per
# BUCKET of request_date (its first second) and per final status; added to by the
# transaction that makes calls final.
overview_counts = Table(
    "overview_counts",
    metadata,
    Column("project_id", String(32), ForeignKey("projects.id"), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("calls", BigInteger, nullable=False),
    Column("attempted", BigInteger, nullable=False),
    Column("billed_sec", BigInteger, nullable=False),  # of the answered calls
    Column("spend_milli", BigInteger, nullable=False),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("call_id", String(32), ForeignKey("calls.id"), nullable=False),
    Column("number", Integer, nullable=False),  # 1 for the first attempt of a call
    Column("dialer_id", String(32), nullable=False),
    Column("worker_id", String(32), nullable=True),  # the worker placing it
    # dialing -> done | unknown; "dialing" rows are the channels in use
    Column("state", String(8), nullable=False),
    Column("result", String(16), nullable=True),
    Column("started_at", Float, nullable=False),
    Column("answered_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    Column("bill_sec", Integer, nullable=False),
    Column("cause", String(200), nullable=False),
    Index("ix_attempts_call", "call_id", "number", unique=True),
    Index(
        "ux_attempts_live",
        "call_id",
        unique=True,
        sqlite_where=text("state = 'dialing'"),
        postgresql_where=text("state = 'dialing'"),
    ),
    # state first: counting the live attempts of every dialer reads only the live ones
    Index("ix_attempts_live_dialer", "state", "dialer_id"),
    # the attempts a dialer started within the last second: its calls-per-second budget
    Index("ix_attempts_dialer_started", "dialer_id", "started_at"),
)

ledger = Table(
    "ledger",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(32), nullable=False, unique=True),  # the transaction id
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("kind", String(12), nullable=False),  # topup | debit | adjustment
    Column("amount_milli", BigInteger, nullable=False),  # signed: a debit is negative
    Column("balance_after_milli", BigInteger, nullable=False),
    Column("call_id", String(32), ForeignKey("calls.id"), nullable=True),
    Column("note", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_ledger_project", "project_id", "seq"),
    # No call is ever debited twice.
    Index(
        "ux_ledger_debit_call",
        "call_id",
        unique=True,
        sqlite_where=text("kind = 'debit'"),
        postgresql_where=text("kind = 'debit'"),
    ),
)

# The webhook outbox: one event per call, written with its final status. Its body is rendered
# from the final call at each delivery (voxcall.webhooks.event).
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("call_id", String(32), ForeignKey("calls.id"), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("next_attempt_at", Float, nullable=False),  # also the lease while in flight
    Column("attempts", Integer, nullable=False),
    Column("delivered_at", Float, nullable=True),
    Column("failed_at", Float, nullable=True),  # gave up after the retry window
    Column("last_error", String(300), nullable=False),
    # its requests deleted from webhook_attempts (KEPT_FIRST_REQUESTS, KEPT_LAST_REQUESTS)
    Column("requests_not_kept", Integer, nullable=False, server_default=text("0")),
    Index("ix_webhook_events_due", "delivered_at", "failed_at", "next_attempt_at"),
    # Each project's oldest pending events, for the lease (one seek per project).
    Index(
        "ix_webhook_events_lane",
        "project_id",
        "next_attempt_at",
        sqlite_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
    ),
)

# Every recorded request of a webhook event: what its receiver answered, or why nothing came.
# Written with the event's outcome; a resend adds to it. History begins with migration 0021.
# Only an event's first and latest requests are kept (voxcall.domain.webhooks).
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("event_id", String(32), ForeignKey("webhook_events.id"), nullable=False),
    Column("sent_at", Float, nullable=False),
    Column("duration", Float, nullable=False),  # seconds
    Column("status_code", Integer, nullable=True),  # NULL: no answer, see error
    Column("error", String(300), nullable=True),  # the transport error, when no answer came
    Index("ix_webhook_attempts_event", "event_id", "seq"),
)

# Idempotency-Key: the first response to a (project, key), kept 24 h.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("project_id", String(32), ForeignKey("projects.id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),  # NULL while the first request runs
    Column("response", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)

# Processes that place calls. A worker whose heartbeat is older than its lease is dead: its
# live attempts become UNKNOWN and its work is taken by the others.
workers = Table(
    "workers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)

# Campaigns (api.md §8). `seq` keys its list: a million rows repeat an integer, not an id.
campaigns = Table(
    "campaigns",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("id", String(32), nullable=False, unique=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("voice_id", String(32), ForeignKey("voices.id"), nullable=False),
    Column("dialer_id", String(32), nullable=True),
    Column("retry_count", Integer, nullable=False),
    Column("retry_interval", Integer, nullable=True),
    Column("start_at", BigInteger, nullable=False),
    Column("end_at", BigInteger, nullable=False),
    Column("window", Text, nullable=True),  # JSON (§10); NULL: the project's default
    Column("max_channels", Integer, nullable=True),
    Column("calls_per_minute", Integer, nullable=True),
    Column("reservation_milli", BigInteger, nullable=False),  # per call, taken at release
    # api.md §11, copied onto each call released: as calls.gather and machine_detection
    Column("gather", JSON, nullable=True),
    Column("machine_detection", String(10), nullable=False, server_default="off"),
    Column("state", String(12), nullable=False),  # active | paused | cancelled
    Column("total", Integer, nullable=False),
    # The list's first `released` numbers are in the call queue: moved there, and this
    # count raised, in one transaction, so no number is ever released twice.
    Column("released", Integer, nullable=False),
    Column("next_release_at", Float, nullable=False),  # callsPerMinute pacing
    Column("no_balance", Boolean, nullable=False),
    Column("skipped", Text, nullable=False),  # JSON {invalid, notAllowed, ...}
    Column("rejected", Text, nullable=False),  # JSON [{line, value, reason}], first 100
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    Index("ix_campaigns_project", "project_id", "seq"),
    # the campaigns the releaser looks at
    Index("ix_campaigns_open", "finished_at", "state"),
)

# A campaign's final calls by status, with what they were debited: kept by the transaction
# that makes a call final (call_queue._close), so that a campaign's counts are read, not
# counted. Its calls not final are its `released` less these.
campaign_counts = Table(
    "campaign_counts",
    metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("calls", BigInteger, nullable=False),
    Column("price_milli", BigInteger, nullable=False),
)

# A campaign's numbers in list order, stored in bulk at import; `position` from 0.
campaign_numbers = Table(
    "campaign_numbers",
    metadata,
    Column("campaign_seq", BigInteger, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("line", Integer, nullable=False),  # of the uploaded file (JSON: index + 1)
    Column("national_number", String(32), nullable=False),
    Column("e164", String(32), nullable=False),
)

# Console sign-ins (console.md): operators, project users and their sessions. Passwords are
# Argon2id hashes; a session row is keyed by the hash of its cookie's token.
operators = Table(
    "operators",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # their latest console request (written with their session's, at most once a minute)
    Column("last_seen_at", Float, nullable=True),
)

project_users = Table(
    "project_users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(32), ForeignKey("projects.id"), nullable=False, index=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(8), nullable=False),  # owner | member
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", Float, nullable=True),  # as the operators'
)

# Failed console sign-ins per key ("a:<account>" or "i:<address>"), shared by every API
# process so that the throttle (calls/sign_in_throttle.py) holds across them.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("last_at", Float, nullable=False, index=True),  # the oldest are dropped
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 of the cookie's token
    Column("operator_id", String(32), ForeignKey("operators.id"), nullable=True, index=True),
    Column("user_id", String(32), ForeignKey("project_users.id"), nullable=True, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
)

# The claim that last served each lane (and each project within a class: "<class>:<project>"),
# numbered in order, so that the next claims serve the others first: round-robin that holds
# across claims and processes.
call_lanes = Table(
    "call_lanes",
    metadata,
    Column("lane", String(80), primary_key=True),
    Column("served_turn", BigInteger, nullable=False, index=True),
)

# Do-not-call lists (api.md §9), in E.164: each project's, and the operator's for every project.
dnc_numbers = Table(
    "dnc_numbers",
    metadata,
    Column("project_id", String(32), ForeignKey("projects.id"), primary_key=True),
    Column("e164", String(32), primary_key=True),
    Column("added_at", BigInteger, nullable=False),
)

operator_dnc_numbers = Table(
    "operator_dnc_numbers",
    metadata,
    Column("e164", String(32), primary_key=True),
    Column("added_at", BigInteger, nullable=False),
)

# The operator's public holidays (§10): each closes every calling window for that local date.
holidays = Table(
    "holidays",
    metadata,
    Column("day", String(10), primary_key=True),  # ISO date, 2026-03-21
    Column("added_at", BigInteger, nullable=False),
)
