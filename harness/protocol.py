"""The facts of the Honch wire protocol and behavioural contract, in one place.

Everything here is transcribed from ``docs/spec/wire-v2.md`` (sections "W…")
and ``docs/spec/contract.md``. The codec, the capture server, the harness and
the conformance suite import these names; nothing else in ``harness/`` spells
a limit, a status code or a clause id on its own. The C core cannot import
Python, so ``tests/test_protocol_facts.py`` checks its header against this file.
"""

from __future__ import annotations

# --- W3: HTTP ---------------------------------------------------------------

CAPTURE_PATH = "/capture"
CONTENT_TYPE = "application/vnd.honch.chunk"
HEADER_PROJECT_KEY = "X-Honch-Project-Key"
HEADER_STREAM_ID = "X-Honch-Stream-Id"
HEADER_CONNECTION_TYPE = "X-Connection-Type"
RELAY_HEADERS = ("X-Honch-Relay-Id", "X-Honch-Relay-SDK-Platform", "X-Honch-Relay-SDK-Version")
STREAM_ID_MAX_LEN = 64
#: W3.2: every header value a sender puts on the wire is made of these bytes.
HEADER_VALUE_MIN_BYTE = 0x21
HEADER_VALUE_MAX_BYTE = 0x7E

# --- W5: frames ----------------------------------------------------------------

WIRE_VERSION = 2
SOURCE_TYPE_COMPACT_EVENTS = 0
FRAME_SINGLE = 0x02
FRAME_INIT = 0x42
FRAME_MIDDLE = 0x62
FRAME_FINAL = 0x22
FRAME_KIND_BY_HEADER = {FRAME_SINGLE: "single", FRAME_INIT: "init", FRAME_MIDDLE: "middle", FRAME_FINAL: "final"}
MIN_MAX_FRAME = 6

# --- W7: compact event message ---------------------------------------------------

MESSAGE_KIND_EVENT_BATCH = 1
FLAG_CONTEXT_PROMOTES_PROPERTIES = 0x01

CONTEXT_IDS = {
    1: "distinct_id",
    2: "$device_id",
    3: "$device_model",
    4: "$firmware_version",
    5: "$sdk_platform",
    6: "$sdk_version",
    7: "$environment",
    8: "$session_id",
    9: "device_time_source",
    10: "capabilities",
}
REQUIRED_CONTEXT_IDS = (1, 2, 3, 4, 5, 6, 7)
#: context ids that expand into event properties (W9).
PROMOTED_CONTEXT_IDS = (2, 3, 4, 5, 6, 7, 8)
PROMOTED_NAMES = tuple(CONTEXT_IDS[i] for i in (1,) + PROMOTED_CONTEXT_IDS)
CONTEXT_EXTENSION_MIN = 128
DEVICE_TIME_SOURCE_MAX = 3

#: W7.5.1 reserved property ids -> (name, expected kind: "int" or "str").
RESERVED_PROPERTIES = {
    1: ("$battery_level", "int"),
    2: ("$wifi_rssi", "int"),
    3: ("reset_reason", "str"),
    4: ("state", "str"),
    5: ("previous_version", "str"),
    6: ("new_version", "str"),
    7: ("session_name", "str"),
}
RESERVED_PROPERTY_ID_BY_NAME = {name: rid for rid, (name, _) in RESERVED_PROPERTIES.items()}

TAG_NULL = 0x00
TAG_FALSE = 0x01
TAG_TRUE = 0x02
TAG_UINT = 0x03
TAG_INT = 0x04
TAG_F32 = 0x05
TAG_F64 = 0x06
TAG_STRING = 0x07
TAG_BYTES = 0x08
TAG_ARRAY = 0x09
TAG_MAP = 0x0A

MAX_NESTING = 8

# --- W8: limits ------------------------------------------------------------------


class Limits:
    """One column of the W8 limits table."""

    __slots__ = ("frame", "message", "events", "strings", "string_bytes", "all_string_bytes", "properties")

    def __init__(self, frame, message, events, strings, string_bytes, all_string_bytes, properties):
        self.frame = frame
        self.message = message
        self.events = events
        self.strings = strings
        self.string_bytes = string_bytes
        self.all_string_bytes = all_string_bytes
        self.properties = properties

    def __repr__(self):
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"Limits({fields})"


#: What a conforming SDK MUST NOT exceed (checked from recorded requests).
SDK_LIMITS = Limits(frame=4096, message=4096, events=50, strings=128, string_bytes=512,
                    all_string_bytes=2048, properties=64)
#: The capture service's hard limits; the mock's defaults. ``properties`` has no hard limit.
CAPTURE_LIMITS = Limits(frame=65536, message=1048576, events=500, strings=4096, string_bytes=4096,
                        all_string_bytes=262144, properties=None)
PARTIAL_TTL_SECONDS = 24 * 3600

# --- W10 / contract 8: responses ----------------------------------------------------

#: HTTP reason phrases the mock uses.
HTTP_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

# --- contract 3: SDK status codes -------------------------------------------------

#: value -> (NAME, text, Python exception class name)
STATUSES = {
    0: ("OK", "ok", None),
    1: ("INVALID_ARGUMENT", "invalid argument", "InvalidArgumentError"),
    2: ("OUT_OF_MEMORY", "out of memory", "HonchError"),
    3: ("IO", "io error", "StorageError"),
    4: ("TRANSPORT", "transport error", "TransportError"),
    5: ("RATE_LIMITED", "rate limited", "RateLimitedError"),
    6: ("SERVER", "server error", "ServerError"),
    7: ("REJECTED", "rejected", "RejectedError"),
    8: ("NOT_INITIALIZED", "not initialized", "NotInitializedError"),
    9: ("ALREADY_INITIALIZED", "already initialized", "HonchError"),
    10: ("QUEUE_FULL", "queue full", "StorageError"),
    11: ("TIMEOUT", "timeout", "TransportError"),
    12: ("INTERNAL", "internal error", "HonchError"),
    13: ("BUSY", "busy", "HonchError"),
    14: ("NOT_SUPPORTED", "not supported", "HonchError"),
    15: ("OFFLINE", "offline", "OfflineError"),
}
STATUS = {name: value for value, (name, _, _) in STATUSES.items()}

#: contract 3: the exception hierarchy (class -> parent).
EXCEPTION_PARENTS = {
    "HonchError": "Exception",
    "InvalidArgumentError": "HonchError",
    "StorageError": "HonchError",
    "TransportError": "HonchError",
    "OfflineError": "TransportError",
    "RateLimitedError": "TransportError",
    "ServerError": "TransportError",
    "RejectedError": "HonchError",
    "NotInitializedError": "HonchError",
    "CompressionUnavailableError": "HonchError",
}

REJECTING_STATUSES = (400, 401, 404, 413, 415, 422)


def sdk_status_for_http(http_status: int, final_frame: bool) -> str:
    """Contract 8: the status name an SDK reports for one HTTP answer.

    ``http_status`` 0 means no answer (connection failure). Timeouts are not an
    HTTP status; the caller maps them to TIMEOUT itself.
    """
    s = http_status
    if s == 0:
        return "TRANSPORT"
    if 200 <= s < 300:
        if final_frame:
            return "TRANSPORT" if s == 202 else "OK"
        return "OK" if s == 202 else "TRANSPORT"
    if s == 408:
        return "TIMEOUT"
    if s == 409:
        return "TRANSPORT"
    if s == 429:
        return "RATE_LIMITED"
    if 500 <= s < 600:
        return "SERVER"
    if 400 <= s < 500:
        return "REJECTED"
    return "TRANSPORT"


RETRYABLE_STATUSES = ("TRANSPORT", "TIMEOUT", "RATE_LIMITED", "SERVER")

# --- contract 2 and 4: API ----------------------------------------------------------

RESERVED_KEYS = (
    "$anon_distinct_id", "$battery_level", "distinct_id", "$device_id", "$device_model",
    "$environment", "$firmware_version", "$sdk_platform", "$sdk_version", "$session_id",
    "$wifi_rssi",
)
HOST_ONLY_CONFIG_KEYS = ("platform", "transport", "battery_callback", "auto_properties_callback")
MAX_NAME_BYTES = 128
MAX_DISTINCT_ID_BYTES = 256
MAX_DEVICE_ID_BYTES = 256
MAX_CONFIG_STRING_BYTES = 512
MAX_PROPERTIES = 64
MAX_TRAITS = 63
U32_MAX = 0xFFFFFFFF
SPACING_DISABLED = U32_MAX
MICROPYTHON_MAX_TRANSPORT_TIMEOUT_MS = 10000

CONFIG_DEFAULTS = {
    "batch_size": 20,
    "max_queued_events": 1000,
    "max_event_bytes": 8192,
    "transport_timeout_ms": 8000,
    "flush_interval_seconds": 120,
    "flush_min_interval_ms": 15000,
    "flush_event_threshold": 20,
    "flush_max_batches": 1,
    "flush_retry_initial_ms": 1000,
    "flush_retry_max_ms": 300000,
    "battery_low_threshold": 15,
}
MAX_BATCH_SIZE = 50
DEFAULT_ENDPOINT_URL = "https://i.honch.io"
DEFAULT_ENVIRONMENT = "production"

# --- contract 5 / 9 / 11 -------------------------------------------------------------

VALID_WALL_CLOCK_MS = 1577836800000  # 2020-01-01T00:00:00Z
RETRY_AFTER_UNKNOWN_WALL_CLOCK_MS = 60000
BACKOFF_JITTER_FRACTION = 0.25  # q = b // 4: the wait lies within b ± 25 %

ERROR_SLOTS = 4
ERROR_COMPONENT_CUT_BYTES = 32
ERROR_MESSAGE_CUT_BYTES = 128
CRASH_BACKTRACE_MAX_BYTES = 192
CRASH_MESSAGE_MAX_BYTES = 160
CRASH_EXCEPTION_CAUSE_MAX_BYTES = 64
CRASH_BACKTRACE_SEPARATOR = " <- "
#: contract 11.4: the string fields of a $crash and their byte limits (kept whole or left out)
CRASH_FIELD_MAX_BYTES = {
    "message": CRASH_MESSAGE_MAX_BYTES, "component": 64, "firmware_build_id": 64,
    "exception_cause": CRASH_EXCEPTION_CAUSE_MAX_BYTES, "fault_pc": 18, "fault_addr": 18,
    "backtrace": CRASH_BACKTRACE_MAX_BYTES, "task_name": 32,
}
CRASH_SOURCES = ("none", "panic", "watchdog", "assert", "brownout", "stack_overflow", "hardfault", "lockup",
                 "exception", "signal", "unknown")
CRASH_SEVERITIES = ("info", "warning", "fatal")
CRASH_ID_HEX_CHARS = 32
SDK_PLATFORM_HOST = "posix"
SDK_PLATFORM_MICROPYTHON = "micropython"

RESET_REASONS = ("power_on", "software", "panic", "watchdog", "interrupt_wdt", "task_wdt",
                 "deep_sleep", "brownout", "external", "sdio", "unknown")

# --- contract 13: clauses -------------------------------------------------------------

#: clause id -> (area, short title). ``tests/test_protocol_facts.py`` checks the ids
#: against docs/spec/contract.md; conformance tests cite them with
#: ``@pytest.mark.clause("C17")`` and the matrix groups them by area.
CLAUSES = {
    "C1": ("wire", "POST <path>/capture, one frame, content type, project key, Connection: close"),
    "C2": ("wire", "stream id: 8 lowercase hex, stable per client, new per client"),
    "C3": ("wire", "message id = seed + first sequence"),
    "C4": ("wire", "frames <= 4096 B, strict decode within SDK limits, context ids"),
    "C5": ("wire", "multi-frame messages chunked per W5.5, in order, after 202"),
    "C6": ("wire", "upstream vectors yield their response codes and events"),
    "C7": ("wire", "timestamps from a valid wall clock, device_time_source 1"),
    "C8": ("lifecycle", "construction queues $device_boot only, no request"),
    "C9": ("lifecycle", "shutdown queues $device_shutdown, sends once, then closed"),
    "C10": ("lifecycle", "reset empties the queue and restores identity"),
    "C11": ("api", "constructor validation"),
    "C12": ("api", "track() validation"),
    "C13": ("api", "reserved keys refused at any depth"),
    "C14": ("api", "oversized record refused, stats unchanged"),
    "C15": ("api", "configuration clamps"),
    "C16": ("scheduling", "tick() makes at most one request, never raises"),
    "C17": ("scheduling", "tick() idle while no flush is due"),
    "C18": ("scheduling", "threshold and interval trigger tick() uploads"),
    "C19": ("scheduling", "flush() sends a whole message, ignores backoff; empty flush is silent"),
    "C20": ("scheduling", "multi-frame: consumed after final 204, one frame per tick"),
    "C21": ("rate-limit", "min spacing: flush() RateLimitedError inside the window"),
    "C22": ("rate-limit", "429 raises RateLimitedError and schedules the retry"),
    "C23": ("backoff", "backoff formula, growth and reset"),
    "C24": ("backoff", "Retry-After as seconds and HTTP-date honoured"),
    "C25": ("backoff", "status mapping of 5xx, 408/timeout, 409/refused"),
    "C26": ("backoff", "202 on final / 204 on non-final are retryable"),
    "C27": ("backoff", "retries are byte-identical from offset 0"),
    "C28": ("offline", "offline: tick() silent, flush() OfflineError"),
    "C29": ("offline", "offline checked before spacing"),
    "C30": ("offline", "offline track() queues; online tick() sends"),
    "C31": ("offline", "connectivity_changed() events and deferred flush"),
    "C32": ("crash", "run() reports $crash, flushes and re-raises"),
    "C33": ("crash", "one $crash per client life"),
    "C34": ("crash", "backtrace format and 192-byte budget"),
    "C35": ("crash", "excepthook install/uninstall"),
    "C36": ("errors", "report_log_error coalescing and dropped count"),
    "C37": ("errors", "status to exception class and status text"),
    "C38": ("queue", "FIFO order, drop-oldest at capacity"),
    "C39": ("queue", "event larger than the buffer refused"),
    "C40": ("queue", "message formation: identity, batch size, longest prefix"),
    "C41": ("queue", "unencodable event dead-lettered without a request"),
    "C42": ("queue", "rejections dead-letter, backoff unchanged"),
    "C43": ("queue", "queue_stats keys and monotonic high-water marks"),
    "C44": ("queue", "MicroPython queue lives in event_buffer"),
    "C45": ("identity", "identify() and $anon_distinct_id"),
    "C46": ("identity", "session ids and session_start during a session"),
    "C47": ("identity", "set_property() and get_device_id()"),
    "C48": ("identity", "$battery_low latch (host)"),
    "C49": ("errors", "exceptions carry the int status attribute"),
    "C50": ("scheduling", "flush() sends up to flush_max_batches messages"),
    "C51": ("errors", "last_error() describes the most recent failure"),
    "C52": ("wire", "no valid wall clock: monotonic stamps, rebasing, device_time_source (host)"),
    "C53": ("crash", "the previous boot's crash report: $crash after $device_boot, field rules (host)"),
    "C54": ("offline", "tick/flush/reset/shutdown from inside connectivity_callback: BUSY, nothing changed"),
    "C55": ("api", "auto properties on every event but $error, the caller's keys win, counted once (host)"),
}
HOST_ONLY_CLAUSES = ("C48", "C52", "C53", "C55")

#: What a port may offer beyond the published API (honch-micropython 0.3.1), detected
#: by the agent's info() through the public API and given to the board as tags
#: (docs/porting.md). name -> what it means.
CAPABILITIES = {
    "status_attr": "exceptions carry the contract-3 status as an int `status` attribute",
    "flush_max_batches": "the flush_max_batches option (more than one message per flush())",
    "last_error": "Honch.last_error() (honch-micropython 0.3.1)",
    "stream_id": "Honch.stream_id() (the harness takes stream ids from the server's records)",
    "host_hooks": "host hooks of the C core (battery, persistent state, crash report of the previous boot, "
                  "a settable wall clock, auto properties)",
    "excepthook": "sys.excepthook exists and install_error_hook() chains onto it",
}
#: Extension clauses: only ports with the capability must meet them (contract section 13).
CLAUSE_CAPABILITY = {
    "C35": "excepthook",
    "C48": "host_hooks",
    "C49": "status_attr",
    "C50": "flush_max_batches",
    "C51": "last_error",
    "C52": "host_hooks",
    "C53": "host_hooks",
    "C55": "host_hooks",
}
#: Keys of last_error() (C51) and its reasons (core/include/honch/honch.h HONCH_REASON_*;
#: other failures carry the snake_case name of their status).
LAST_ERROR_KEYS = ("status", "reason", "http", "os_error", "message", "component")
LAST_ERROR_REASONS_BY_HTTP = {
    400: "bad_request", 401: "auth_invalid_key", 403: "forbidden", 404: "not_found",
    408: "request_timeout", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "unprocessable", 429: "rate_limited",
}
LAST_ERROR_COMPONENTS = ("api", "scheduler", "transport", "server", "queue")
QUEUE_STATS_KEYS = (
    "queued_events", "queued_bytes", "buffer_bytes", "high_water_events", "high_water_bytes",
    "capacity_dropped_events", "oversized_rejected_events", "enqueue_failures", "dead_lettered_events",
)
