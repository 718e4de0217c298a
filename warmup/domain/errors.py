"""The domain error hierarchy. Each error has a stable `code`; the API, the admin and the
commands turn them into JSON, messages and skipped-item reports respectively."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Why an action left an item as it was: a stable code on every refusal, from which each
    edge chooses its words (`refusal_words` for a summary of many items). Never match a
    message's text."""

    NOT_IN_REVIEW = "not_in_review"
    ACCOUNT_NOT_ACTIVE = "account_not_active"
    NO_CONTENT = "no_content"
    BUSY = "busy"
    MISSING = "missing"
    NOT_ALLOWED = "not_allowed"
    RACED = "raced"
    ACCOUNT_STATUS = "account_status"  # an account's move its status does not allow
    # An undo leaves a phase where it is when:
    CLAIMED_SINCE = "claimed_since"
    ACTED_SINCE = "acted_since"
    MOVED_ON = "moved_on"
    IN_REVIEW_AGAIN = "in_review_again"
    NOT_IN_BATCH = "not_in_batch"
    NEXT_CLAIMED = "next_claimed"
    NEXT_MOVED_ON = "next_moved_on"
    NEXT_BUSY = "next_busy"


class DomainError(Exception):
    """`code`: the error's kind, as the API names it; `refusal`: why, finer (a Refusal), for
    the edges' words; `context`: the values the words and the API's body may show."""

    code = "domain_error"
    http_status = 400

    def __init__(self, message: str, *, refusal: str = "", **context):
        super().__init__(message)
        self.message = message
        self.refusal = refusal or self.code
        self.context = context


class InvalidTransition(DomainError):
    code = "invalid_transition"
    http_status = 409

    def __init__(self, message: str, *, current_status: str, target_status: str = "", **context):
        super().__init__(
            message, current_status=current_status, target_status=target_status, **context
        )
        self.current_status = current_status
        self.target_status = target_status


class LeaseLost(DomainError):
    code = "lease_lost"
    http_status = 409


class NotClaimable(DomainError):
    code = "account_not_active"
    http_status = 409


class InvalidInput(DomainError):
    code = "validation_error"
    http_status = 400

    def __init__(self, message: str, *, field: str = "", **context):
        super().__init__(message, field=field, **context)
        self.field = field


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Busy(DomainError):
    """A bulk run skipped a row someone holds right now (SKIP LOCKED): run again."""

    code = "busy"
    http_status = 409


class CannotUndo(DomainError):
    """An undo leaves a phase where it is (its refusal says why)."""

    code = "cannot_undo"
    http_status = 409


class NotPermitted(DomainError):
    """The acting user's role does not allow the action."""

    code = "permission_denied"
    http_status = 403


# --- Messages ------------------------------------------------------------------------------
# Every message a service raises, in one place: tests import and assert on them, the API, the
# admin and the commands show them as they are.

# Phases and the status machine
TRANSITION_NOT_ALLOWED = "A phase in status {current!r} cannot move to {target!r}."
TRANSITION_RACED = "The phase changed while you acted: it is now {current!r}."
PHASE_NOT_FOUND = "Phase {phase_id} does not exist."
PHASE_NOT_VISIBLE = "Phase {phase_id} not found among the phases this bot has attempted."
LEASE_STALE = "This lease is no longer valid: the phase was expired, resolved or claimed again."
LEASE_EXPIRED = "This lease expired at {expires_at}; the phase will be retried."
UNKNOWN_CATEGORY = "Unknown failure category {value!r}; valid categories are: {choices}."

# Accounts and plans
ACCOUNT_NOT_FOUND = "Account {account_id} does not exist."
ACCOUNT_NOT_VISIBLE = "Account {account_id} not found among the accounts this bot has worked on."
ACCOUNT_NOT_ACTIVE = "Account {account} is {status}; reactivate it before resuming its phases."
ACCOUNT_ALREADY_ACTIVE = "Account {account} is already active."
ACCOUNT_NOT_PAUSABLE = "Account {account} is {status}; only an active account can be paused."
ACCOUNT_MOVE_NOT_ALLOWED = "Account {account} is {status}; it cannot become {target}."
UNKNOWN_PLATFORM = "Unknown platform {value!r}; valid platforms are: {choices}."
USERNAME_REQUIRED = "A username is required."
USERNAME_TAKEN = "Account {platform}:{username} is already enrolled."
PLAN_INACTIVE = "Plan {slug!r} is not active."
PLAN_EMPTY = "Plan {slug!r} has no phases."

# Content and bots
TITLE_REQUIRED = "A title is required."
PHASE_TYPE_UNKNOWN = "Unknown phase type {value!r}; phase types that take content: {choices}."
MEDIA_URL_INVALID = "media_url {value!r} is not a valid http(s) URL."
BOT_NAME_REQUIRED = "A bot name is required."
BOT_NAME_TAKEN = "A bot named {name!r} already exists."
BOT_NOT_FOUND = "No bot named {name!r}."
API_TOKEN_EXISTS = "{user} already has an API token; revoke it to make another."
# JSON written from input (warmup.domain.validation.validate_json_document)
JSON_TOO_DEEP = "This JSON is nested deeper than {depth} levels; keep it flatter."
JSON_TOO_BIG = "This JSON is longer than {chars:,} characters; keep it shorter."
# The review queue's filters (warmup.selectors.filters): the API, the admin and resolve_reviews say
# these.
FILTER_WAITING_INVALID = "{value!r} is not a time in review such as 90m, 4h or 3d."
FILTER_ACCOUNT_INVALID = "{value!r} is not platform:username (platforms: {platforms})."
INCIDENT_NOT_FOUND = "No incident with signature {signature!r}."
FILTER_SIGNATURE_INVALID = (
    "{value!r} is not a failure signature: 16 characters 0-9 and a-f, as the incidents list them."
)
BOT_DEACTIVATED_LEASE_ENDED = (
    "Bot {bot} was deactivated while it held this phase; its lease ended at once."
)

# Simulated bots (simulate_bots)
SIMULATION_PLAN_MISSING = (
    "No plan {slug!r} to simulate on; seed_demo makes the demo's {demo!r}, or name one with "
    "--plan SLUG."
)
SIMULATION_PLAN_REAL = (
    "Plan {slug!r} is not marked for simulation: its accounts may be real, and simulated bots "
    "would fake-complete their warmup. Name a simulation plan with --plan (tick 'for "
    "simulation' on a plan of test accounts), or add --allow-real-plan if you mean it."
)
SIMULATION_ON_REAL_PLAN = (
    "Warning: plan {slug!r} is not marked for simulation; its phases will be fake-completed "
    "(--allow-real-plan)."
)
SIMULATION_BOT_NOT_OURS = (
    "Bot {name!r} exists but was not made by simulate_bots (it may be a real bot), so its "
    "token will not be touched; choose another --prefix."
)

# Reviews
NOTE_REQUIRED = "A note is required."
BREAKER_NOT_FOUND = "Breaker {breaker_id} does not exist."
BREAKER_ALREADY_CLOSED = "Breaker {breaker_id} is already closed."
BREAKER_CLOSE_NOT_PERMITTED = "{user} may not close breakers; that is for review leads."
REASON_CODE_REQUIRED = "A reason code is required; valid codes are: {codes}."
ASSIGNEE_CANNOT_RESOLVE = "{user} cannot act on the review queue; assign the item to a reviewer."
NOTHING_TO_HOLD = "Account {account} has no phase to hold: {why}."
BATCH_ITEM_BUSY = "a bot or a reviewer holds it right now; run again to retry it"
BATCH_ITEM_MISSING = "no such phase"
UNDO_CLAIMED_SINCE = "a bot has claimed it since"
UNDO_NEXT_CLAIMED = "its plan went on: a bot has claimed the account's next phase since"
UNDO_NEXT_MOVED_ON = "its plan went on: the account's next phase is {status}"
UNDO_NEXT_BUSY = "a bot or a reviewer holds the account's next phase right now; run again"
UNDO_ACTED_SINCE = "someone has acted on it since (see its review history)"
UNDO_MOVED_ON = "it has moved on since: it is {status}"
UNDO_IN_REVIEW = "it is in review again already"
UNDO_NOT_IN_BATCH = "that batch did not resolve it"
NOT_IN_REVIEW = "Phase {phase_id} is {status!r}, not in review."
UNKNOWN_RESOLUTION = "Unknown action {value!r}; valid actions are: {choices}."
RETRY_NEEDS_CONTENT = (
    "Phase {phase_id} has no content to retry with; resume automation so content is assigned."
)

# Integrity checks (manage.py check_warmup_integrity): one line per broken promise
INTEGRITY_REVIEW_WITHOUT_ENTRY = (
    "Phase {phase_id} is in review, but its last status-moving log row ({row}) did not put it "
    "there (an escalation, a hold or an undone resolution into review_required)."
)
INTEGRITY_RESOLUTION_INCOMPLETE = (
    "Log row {row_id} ({action} of phase {phase_id}) is a resolution without {missing}."
)
INTEGRITY_PLATFORM_MISMATCH = (
    "Phase {phase_id} says platform {phase_platform!r}, but its account {account_id} is on "
    "{platform!r}."
)
INTEGRITY_IN_PROGRESS_WITHOUT_LEASE = (
    "Phase {phase_id} is in progress without a lease (bot, token and expiry)."
)
INTEGRITY_LEASE_OUTSIDE_IN_PROGRESS = "Phase {phase_id} is {status} but still holds a lease."
INTEGRITY_SEVERAL_ACTIVE = (
    "Account {account_id} has several active phases: phase {phase_id} is {status}."
)
INTEGRITY_RETRY_COUNT = "Phase {phase_id} has retry_count {retry_count}, but {expected}."
INTEGRITY_OPEN_ATTEMPT_OUTSIDE = (
    "Attempt {attempt_id} (number {number}) of phase {phase_id} is still open, but the phase "
    "is {status}."
)
INTEGRITY_DEFAULT_PARTITION = (
    "{rows} row(s) of {table} sit in its DEFAULT partition: their months have no partition of "
    "their own (manage.py history_partitions --adopt makes them)."
)
INTEGRITY_SEVERAL_OPEN = (
    "Attempt {attempt_id} (number {number}) of phase {phase_id} is open beside another open "
    "attempt of the same phase."
)
INTEGRITY_CHAIN_CONTENT = (
    "Log row {row_id} ({chain}) does not match its hash: its content was changed after it was "
    "written."
)
INTEGRITY_CHAIN_LINK = (
    "Log row {row_id} ({chain}) does not follow the row before it (expected previous hash "
    "{expected}, found {found}): a row before it was removed, changed or reordered."
)
# Review log checkpoints (warmup.services.checkpoints)
CHECKPOINT_NO_KEY = (
    "Checkpoints: not checked. REVIEW_LOG_CHECKPOINT_KEY is not set, so the scheduler writes "
    "none and a chain cut or rewritten at its end would not show."
)
CHECKPOINT_NONE_YET = (
    "Checkpoints: none written yet (the scheduler writes one every {seconds} s); a chain cut "
    "or rewritten at its end would not show."
)
CHECKPOINT_CHECKED = (
    "Checkpoints: the log was checked against checkpoint {numbers} ({count} in the database)."
)
CHECKPOINT_GIVEN_NEEDS_KEY = (
    "--checkpoint needs REVIEW_LOG_CHECKPOINT_KEY: without it no checkpoint can be verified."
)
CHECKPOINT_BAD_VALUE = (
    "--checkpoint {value!r} is neither a checkpoint number nor a checkpoint's JSON line: {why}."
)
INTEGRITY_CHECKPOINT_MAC = (
    "Checkpoint {number} does not verify with REVIEW_LOG_CHECKPOINT_KEY: it was changed or "
    "written without the key (or the key changed)."
)
INTEGRITY_CHECKPOINT_GAP = (
    "Checkpoint {number} is missing (the numbers go from {before} to {after}): it was deleted."
)
INTEGRITY_CHECKPOINT_MISSING = (
    "Checkpoint {number} is not in the database ({where}): it was deleted."
)
INTEGRITY_CHECKPOINT_REWRITTEN = (
    "Checkpoint {number} in the database is not the one given (its {fields} differ): the "
    "checkpoint table was rewritten."
)
INTEGRITY_CHECKPOINT_HEADS = (
    "Checkpoint {number}'s recorded chain heads do not give its signed root: the heads table "
    "was changed."
)
INTEGRITY_CHECKPOINT_UNNAMED = (
    "The log's chains up to row {last_row} no longer give checkpoint {number}'s signed root: a "
    "chain was cut or rewritten, and as its recorded heads were changed too, which one cannot "
    "be named."
)
INTEGRITY_CHECKPOINT_ROWS = (
    "Checkpoint {number} counted {rows} log rows up to row {last_row}; the log has {now} "
    "there now: rows were removed or added below it."
)
INTEGRITY_CHECKPOINT_CUT = (
    "The chain of {chain} was cut: log row {row_id}, its last row at checkpoint {number}, is "
    "gone (its last row up to then is now {now})."
)
INTEGRITY_CHECKPOINT_HEAD_REWRITTEN = (
    "The chain of {chain} was rewritten: log row {row_id}, its last row at checkpoint "
    "{number}, has another hash now."
)
INTEGRITY_CHECKPOINT_ADDED = (
    "The chain of {chain} has log row {row_id} below checkpoint {number}'s last row that the "
    "checkpoint did not see: it was added afterwards."
)
INTEGRITY_CLEAN = "{phases} phases, {rows} log rows checked: no violations"
INTEGRITY_FOUND = "{count} integrity violation(s) found."


# --- Refusals in a few words --------------------------------------------------------------
# For summaries of many items at once (no ids): the admin's bulk report, resolve_reviews.

REFUSAL_WORDS = {
    Refusal.NOT_IN_REVIEW: "no longer in review: it is {status_label}",
    Refusal.ACCOUNT_NOT_ACTIVE: "the account is {account_status}: reactivate it first",
    Refusal.NO_CONTENT: "it has no content to retry with: resume automation instead",
    Refusal.BUSY: BATCH_ITEM_BUSY,
    Refusal.MISSING: BATCH_ITEM_MISSING,
    Refusal.CLAIMED_SINCE: UNDO_CLAIMED_SINCE,
    Refusal.ACTED_SINCE: UNDO_ACTED_SINCE,
    Refusal.MOVED_ON: UNDO_MOVED_ON,
    Refusal.IN_REVIEW_AGAIN: UNDO_IN_REVIEW,
    Refusal.NOT_IN_BATCH: UNDO_NOT_IN_BATCH,
    Refusal.NEXT_CLAIMED: UNDO_NEXT_CLAIMED,
    Refusal.NEXT_MOVED_ON: UNDO_NEXT_MOVED_ON,
    Refusal.NEXT_BUSY: UNDO_NEXT_BUSY,
    Refusal.ACCOUNT_STATUS: "it is {status}",
}


# The same refusals said of a group of items, for a count ("12: the account is not active"),
# where no one item's context fills the words above.
REFUSAL_GROUP_WORDS = {
    Refusal.NOT_IN_REVIEW: "no longer in review",
    Refusal.ACCOUNT_NOT_ACTIVE: "the account is suspended or paused: reactivate it first",
    Refusal.NO_CONTENT: "no content to retry with: resume instead",
    Refusal.BUSY: "busy: a bot or another reviewer held it at that moment",
    Refusal.MISSING: "no such item",
    Refusal.CLAIMED_SINCE: "a bot has claimed it since",
    Refusal.ACTED_SINCE: "someone acted on it since",
    Refusal.MOVED_ON: "it moved on since",
    Refusal.IN_REVIEW_AGAIN: "it is in review again",
    Refusal.NOT_IN_BATCH: "not resolved by this batch",
    Refusal.NEXT_CLAIMED: "the account's next phase was claimed since",
    Refusal.NEXT_MOVED_ON: "the account's next phase moved on since",
    Refusal.NEXT_BUSY: "the account's next phase was busy",
}


def refusal_group_words(code: str) -> str:
    """Why a group of items was refused, from the refusal code they share."""
    try:
        return REFUSAL_GROUP_WORDS[Refusal(code)]
    except (ValueError, KeyError):
        return code.replace("_", " ")


def refusal_words(exc: DomainError) -> str:
    """`exc` in the words of its refusal code, filled from its context; its message when the
    code has no words of its own."""
    words = REFUSAL_WORDS.get(exc.refusal)
    if words is None:
        return exc.message
    try:
        return words.format(**exc.context)
    except (KeyError, IndexError):
        return exc.message


# --- Archived history (warmup.services.history) ------------------------------------------------


class HistoryRefused(DomainError):
    """`archive_history` or `restore_history` left the history as it was (the message says
    why; nothing was written or dropped)."""

    code = "history_refused"
    http_status = 409


HISTORY_NEEDS_POSTGRES = (
    "Archiving history needs PostgreSQL's partitioned tables; on SQLite the history tables are "
    "plain and there is no month to archive."
)
HISTORY_NOT_BEFORE_NOW = (
    "--before {before}: months from {current} on are still being written; give {current} or an "
    "earlier month."
)
HISTORY_INSIDE_RETENTION = (
    "--before {before} would archive months inside the retention (HISTORY_RETENTION_MONTHS="
    "{retention}: months from {kept} on are kept); give --before {kept} or earlier, or --force."
)
HISTORY_IN_REVIEW = (
    "{month} of {table} holds rows of {count} item(s) still in review (phase {phases}): "
    "resolve them first; nothing was archived."
)
HISTORY_IN_DEFAULT = (
    "{table} has rows of months before {before} in its DEFAULT partition: run manage.py "
    "history_partitions --adopt first; nothing was archived."
)
HISTORY_FILE_EXISTS = "{path} already exists: archive to another --to or move it away."
HISTORY_RUNNING = (
    "Another archive or restore is running (it holds the history's advisory lock): wait for it "
    "to end, then run this again; nothing was done."
)
HISTORY_NOT_OWNER = (
    "Only the owner of {table} may detach and drop its partitions: run this as the role that "
    "runs migrations."
)
RESTORE_NO_MANIFEST = "{path}: no manifest (expected {manifest} beside the archive)."
RESTORE_BAD_MANIFEST = "{path} is not an archive manifest: {why}."
RESTORE_AGAINST_RECORD = "the database's record of the archive"
RESTORE_AGAINST_MANIFEST = "its manifest"
RESTORE_HASH_MISMATCH = (
    "{path} does not match {against} (sha256 {found}, expected {expected}): the file was "
    "changed or damaged; nothing was restored."
)
RESTORE_ROWS_MISMATCH = (
    "{path} holds {found} row(s), {against} says {expected}; nothing was restored."
)
RESTORE_NOT_ARCHIVED = (
    "{table} {month} is not recorded as archived in this database (no ArchivedMonth row): "
    "restore only a month this database archived; if the database lost the record (restored "
    "from a backup older than the archive), give --force to check the file against its "
    "manifest only; nothing was restored."
)
RESTORE_FORCED = (
    "warning: {table} {month} has no archive record in this database; the file was checked "
    "only against the manifest beside it (--force). Run check_warmup_integrity now."
)
RESTORE_COLUMNS_CHANGED = (
    "{path} was archived with other columns than {table} has now (archived, gone since: "
    "{gone}; added since: {new}): restore it with the release that archived it, or convert "
    "the file; nothing was restored."
)
RESTORE_UNREADABLE = "{path} could not be loaded ({why}); nothing was restored."
ARCHIVE_BUSY = (
    "{table} is busy: another session's query or transaction held it through {tries} tries of "
    "{timeout} each, so {partition} was not archived (its files removed, the month still in the "
    "database; months reported archived above stay archived). Run it again."
)
RESTORE_BUSY = (
    "{table} is busy: another session's query or transaction held it through {tries} tries of "
    "{timeout} each, so {month} was not restored; nothing changed. Run it again."
)
RESTORE_MONTH_PRESENT = (
    "{table} already has a partition for {month}: restore only a month that was archived."
)
