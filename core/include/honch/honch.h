/*
 * honch.h - the public C API of the Honch device analytics SDK core.
 *
 * The core implements every behaviour of docs/spec/contract.md ("C") and the
 * sender side of docs/spec/wire-v2.md ("W"). It is portable C99, allocates
 * nothing (no heap, no static state), and calls no OS or libc function other
 * than memcpy/memmove/memset/memcmp. Everything it needs from the outside
 * world comes through a small ops table (honch_platform_t) supplied by a port:
 * the CPython extension `_honch_core` (core/ports/host/) and the MicroPython
 * user module (usermod/honch/). Both expose the Python API of
 * docs/architecture.md; every method there is one call below.
 *
 * Memory: the caller owns all of it.
 *   - honch_client_t: the client state (fixed size, see HONCH_CLIENT_SIZE);
 *     the caller allocates it (static, stack, GC heap, anywhere aligned to 8).
 *   - the event buffer (config.event_buffer): the queue ring lives in it.
 *   - config strings (api_key, device_id, ...) are NOT copied: they must stay
 *     valid and unchanged for the life of the client (ports keep a reference
 *     to the Python str objects).
 *
 * Threading: a client is not thread-safe; call it from one thread (or lock
 * around every call). Re-entrance from callbacks is defined:
 *   - from inside platform->post (the transport), every API function may be
 *     called, except honch_tick/flush/reset/shutdown which return
 *     HONCH_STATUS_BUSY (C2.2);
 *   - from inside a honch_emit_fn, platform->battery_level or
 *     platform->auto_properties (i.e. while an event is being built) every
 *     API function returns HONCH_STATUS_BUSY.
 *
 * Every function returns a status of contract section 3 (HONCH_STATUS_*);
 * honch_status_text() gives its text. A function that fails leaves the queue
 * and the queue statistics unchanged unless its documentation says otherwise.
 *
 * Build: define HONCH_SDK_VERSION as a C string literal holding the content
 * of the top-level VERSION file, e.g. -DHONCH_SDK_VERSION='"0.1.0"'.
 * HONCH_MAX_FRAME may be defined (6 ... 4096) to build with a smaller frame
 * limit (tests use -DHONCH_MAX_FRAME=40, W5.4).
 */
#ifndef HONCH_HONCH_H
#define HONCH_HONCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Status codes (contract 3). Texts: honch_status_text().                    */
/* ------------------------------------------------------------------------ */

#define HONCH_STATUS_OK 0
#define HONCH_STATUS_INVALID_ARGUMENT 1
#define HONCH_STATUS_OUT_OF_MEMORY 2
#define HONCH_STATUS_IO 3
#define HONCH_STATUS_TRANSPORT 4
#define HONCH_STATUS_RATE_LIMITED 5
#define HONCH_STATUS_SERVER 6
#define HONCH_STATUS_REJECTED 7
#define HONCH_STATUS_NOT_INITIALIZED 8
#define HONCH_STATUS_ALREADY_INITIALIZED 9
#define HONCH_STATUS_QUEUE_FULL 10
#define HONCH_STATUS_TIMEOUT 11
#define HONCH_STATUS_INTERNAL 12
#define HONCH_STATUS_BUSY 13
#define HONCH_STATUS_NOT_SUPPORTED 14
#define HONCH_STATUS_OFFLINE 15
/* Number of defined statuses (0 ... HONCH_STATUS_COUNT - 1). */
#define HONCH_STATUS_COUNT 16

/* "ok", "invalid argument", ... exactly as contract 3; "unknown" otherwise. */
const char *honch_status_text(int status);

/* ------------------------------------------------------------------------ */
/* Protocol facts, limits and defaults. tests/test_protocol_facts.py checks  */
/* these against harness/protocol.py; this is their one place in C.          */
/* ------------------------------------------------------------------------ */

/* W3 */
#define HONCH_CAPTURE_PATH "/capture"
#define HONCH_CONTENT_TYPE "application/vnd.honch.chunk"
#define HONCH_HEADER_CONTENT_TYPE "Content-Type"
#define HONCH_HEADER_PROJECT_KEY "X-Honch-Project-Key"
#define HONCH_HEADER_STREAM_ID "X-Honch-Stream-Id"
#define HONCH_HEADER_VALUE_MIN_BYTE 0x21
#define HONCH_HEADER_VALUE_MAX_BYTE 0x7E
#define HONCH_STREAM_ID_CHARS 8

/* W5 */
#define HONCH_WIRE_VERSION 2
#define HONCH_FRAME_SINGLE 0x02
#define HONCH_FRAME_INIT 0x42
#define HONCH_FRAME_MIDDLE 0x62
#define HONCH_FRAME_FINAL 0x22
#define HONCH_MIN_MAX_FRAME 6

/* W7 */
#define HONCH_MESSAGE_KIND_EVENT_BATCH 1
#define HONCH_FLAG_CONTEXT_PROMOTES_PROPERTIES 0x01
#define HONCH_MAX_NESTING 8

/* W8: SDK column of the limits table. */
#define HONCH_MAX_FRAME_BYTES 4096
#define HONCH_MAX_MESSAGE_BYTES 4096
#define HONCH_MAX_EVENTS_PER_MESSAGE 50
#define HONCH_MAX_STRINGS 128
#define HONCH_MAX_STRING_BYTES 512
#define HONCH_MAX_ALL_STRING_BYTES 2048
#define HONCH_MAX_PROPERTIES 64

/* The frame limit F this build uses (W5.4); HONCH_MAX_FRAME_BYTES by default. */
#ifndef HONCH_MAX_FRAME
#define HONCH_MAX_FRAME HONCH_MAX_FRAME_BYTES
#endif
#if HONCH_MAX_FRAME < HONCH_MIN_MAX_FRAME || HONCH_MAX_FRAME > HONCH_MAX_FRAME_BYTES
#error "HONCH_MAX_FRAME must lie within 6 ... 4096 (wire-v2 W5.4)"
#endif

/* Contract 2 */
#define HONCH_MAX_NAME_BYTES 128
#define HONCH_MAX_DISTINCT_ID_BYTES 256
#define HONCH_MAX_DEVICE_ID_BYTES 256
#define HONCH_MAX_CONFIG_STRING_BYTES 512
#define HONCH_MAX_TRAITS 63
#define HONCH_DEFAULT_ENDPOINT_URL "https://i.honch.io"
#define HONCH_DEFAULT_ENVIRONMENT "production"

/* Contract 4: numeric options. 0 selects the default. */
#define HONCH_U32_MAX 0xFFFFFFFFu
#define HONCH_SPACING_DISABLED HONCH_U32_MAX /* flush_min_interval_ms value */
#define HONCH_DEFAULT_BATCH_SIZE 20
#define HONCH_MAX_BATCH_SIZE 50
#define HONCH_DEFAULT_MAX_QUEUED_EVENTS 1000
#define HONCH_DEFAULT_MAX_EVENT_BYTES 8192
#define HONCH_DEFAULT_TRANSPORT_TIMEOUT_MS 8000
#define HONCH_MICROPYTHON_MAX_TRANSPORT_TIMEOUT_MS 10000
#define HONCH_DEFAULT_FLUSH_INTERVAL_SECONDS 120
#define HONCH_DEFAULT_FLUSH_MIN_INTERVAL_MS 15000
#define HONCH_DEFAULT_FLUSH_EVENT_THRESHOLD 20
#define HONCH_DEFAULT_FLUSH_MAX_BATCHES 1
#define HONCH_DEFAULT_FLUSH_RETRY_INITIAL_MS 1000
#define HONCH_DEFAULT_FLUSH_RETRY_MAX_MS 300000
#define HONCH_DEFAULT_BATTERY_LOW_THRESHOLD 15
#define HONCH_MAX_BATTERY_LOW_THRESHOLD 100

/* Contract 5 and 9 */
#define HONCH_VALID_WALL_CLOCK_MS 1577836800000ull /* 2020-01-01T00:00:00Z */
#define HONCH_RETRY_AFTER_UNKNOWN_WALL_CLOCK_MS 60000

/* Contract 11 */
#define HONCH_ERROR_SLOTS 4
#define HONCH_ERROR_COMPONENT_CUT_BYTES 32
#define HONCH_ERROR_MESSAGE_CUT_BYTES 128
#define HONCH_CRASH_MESSAGE_MAX_BYTES 160
#define HONCH_CRASH_COMPONENT_MAX_BYTES 64
#define HONCH_CRASH_FIRMWARE_BUILD_ID_MAX_BYTES 64
#define HONCH_CRASH_EXCEPTION_CAUSE_MAX_BYTES 64
#define HONCH_CRASH_FAULT_ADDRESS_MAX_BYTES 18 /* fault_pc, fault_addr */
#define HONCH_CRASH_BACKTRACE_MAX_BYTES 192
#define HONCH_CRASH_TASK_NAME_MAX_BYTES 32
#define HONCH_CRASH_RESET_REASON_MAX_BYTES 64
#define HONCH_CRASH_ID_CHARS 32
#define HONCH_SESSION_ID_CHARS 37 /* "sess_" + 32 lowercase hex */
#define HONCH_SDK_PLATFORM_HOST "posix"
#define HONCH_SDK_PLATFORM_MICROPYTHON "micropython"

/* The project version ($sdk_version), from the HONCH_SDK_VERSION definition. */
const char *honch_sdk_version(void);

/* ------------------------------------------------------------------------ */
/* Property values: the two-pass writer.                                      */
/* ------------------------------------------------------------------------ */

/*
 * Properties, traits and property values are never handed over as a data
 * structure. Instead the port supplies an emit function that walks its own
 * objects (Python dicts and lists) and describes them to a writer. The core
 * calls it TWICE for one event: first to validate and measure (nothing is
 * stored), then, after room was made in the queue, to write the record. Both
 * calls must describe exactly the same content; honch_w_measuring() tells
 * them apart for a port that wants to fetch something once.
 *
 * At the top level of a properties emit (track, identify) the emitter writes
 * key/value pairs: honch_w_key() then one value, repeated. A value emit
 * (set_property) writes exactly one value. Containers state their item count
 * up front (len() of the list or dict) and are closed with honch_w_end();
 * inside a map, every item is honch_w_key() followed by one value.
 *
 * Every writer function returns the writer's status: HONCH_STATUS_OK while
 * everything is valid, else the first failure, which is sticky. An emitter
 * SHOULD stop walking as soon as a call returns non-zero (this also bounds
 * the recursion over self-referencing containers: the 9th nested container
 * fails). The emit function returns HONCH_STATUS_OK or a failure status of
 * its own (e.g. INVALID_ARGUMENT for a value of an unsupported type; or use
 * honch_w_fail()).
 *
 * Validation done by the writer (contract 2.3 / 2.4; all give
 * HONCH_STATUS_INVALID_ARGUMENT): keys must be well-formed UTF-8, not blank,
 * free of U+0000, not one of the 11 reserved keys (any depth); a key equal to
 * reset_reason / state / previous_version / new_version / session_name takes a
 * string value only; strings must be well-formed UTF-8; floats finite; at most
 * 8 nested containers; container item counts must match; at most 64 top-level
 * properties (63 traits) including the properties the SDK adds.
 */
typedef struct honch_writer honch_writer_t;

/* Returns HONCH_STATUS_OK or a failure status; see above. */
typedef int (*honch_emit_fn)(void *ctx, honch_writer_t *w);

int honch_w_null(honch_writer_t *w);
int honch_w_bool(honch_writer_t *w, bool value);
int honch_w_uint(honch_writer_t *w, uint64_t value);
/* Negative values use the int tag; non-negative ones the uint tag (W7.6). */
int honch_w_int(honch_writer_t *w, int64_t value);
/* Always sent as float64 (tag 06); NaN and infinities are refused. */
int honch_w_f64(honch_writer_t *w, double value);
/* UTF-8 text, may be empty. */
int honch_w_str(honch_writer_t *w, const char *s, size_t len);
int honch_w_bytes(honch_writer_t *w, const void *data, size_t len);
int honch_w_begin_array(honch_writer_t *w, size_t count);
int honch_w_begin_map(honch_writer_t *w, size_t count);
int honch_w_key(honch_writer_t *w, const char *s, size_t len);
int honch_w_end(honch_writer_t *w);
/* Mark the content invalid (status must be non-zero); returns it. */
int honch_w_fail(honch_writer_t *w, int status);
/* True during the first (measuring) call of an emit function. */
bool honch_w_measuring(const honch_writer_t *w);

/* ------------------------------------------------------------------------ */
/* Platform ops table (the port).                                             */
/* ------------------------------------------------------------------------ */

typedef struct honch_header {
    const char *name;  /* NUL-terminated, e.g. HONCH_HEADER_PROJECT_KEY */
    const char *value; /* not NUL-terminated; bytes 0x21-0x7E only */
    size_t value_len;
} honch_header_t;

#define HONCH_REQUEST_HEADERS 3

/* One HTTP request: POST <url_base><url_path> with the body. */
typedef struct honch_request {
    /* The configured endpoint URL with every trailing '/' removed (not
     * NUL-terminated), then the constant HONCH_CAPTURE_PATH (NUL-terminated):
     * the request URL is their concatenation (W3.1). */
    const char *url_base;
    size_t url_base_len;
    const char *url_path;
    /* Content-Type, X-Honch-Project-Key, X-Honch-Stream-Id, in this order. The
     * port adds Host, Content-Length and Connection: close, and nothing else
     * (optionally X-Connection-Type). */
    honch_header_t headers[HONCH_REQUEST_HEADERS];
    /* The frame is the concatenation of these parts (frame fields, payload
     * slice of the message, CRC); a part may be empty. */
    const uint8_t *body[3];
    size_t body_len[3];
    size_t body_total;
    uint32_t timeout_ms; /* whole-request deadline */
} honch_request_t;

/* honch_response_t.outcome */
#define HONCH_POST_HTTP 0      /* an HTTP answer arrived: http_status is set */
#define HONCH_POST_TIMEOUT 1   /* the deadline passed (-> TIMEOUT) */
#define HONCH_POST_TRANSPORT 2 /* any other failure: refused, reset, DNS,
                                  unreadable status line (-> TRANSPORT) */

typedef struct honch_response {
    int outcome;     /* preset by the core to HONCH_POST_TRANSPORT */
    int http_status; /* 100 ... 599 when outcome is HONCH_POST_HTTP */
    /* The raw Retry-After header value, or NULL when absent. The core parses
     * it (contract 9). It must stay valid after post() returns, until post()
     * is called again or the client is shut down (ports keep a reference to
     * the Python str). */
    const char *retry_after;
    size_t retry_after_len;
    /* The port's error number for a TIMEOUT or TRANSPORT outcome (errno of
     * the failing socket call), 0 when unknown. Preset to 0 by the core; only
     * reported through honch_last_error(). */
    int os_error;
} honch_response_t;

typedef struct honch_platform {
    /* Opaque pointer handed to every op. */
    void *ctx;
    /* Required. Milliseconds since the platform started; never decreasing,
     * never wrapping (ports extend wrapping tick counters to 64 bits). */
    uint64_t (*monotonic_ms)(void *ctx);
    /* Required. Unix-epoch milliseconds, or 0 when unknown. Values below
     * HONCH_VALID_WALL_CLOCK_MS count as "not valid" (contract 5). */
    uint64_t (*wall_ms)(void *ctx);
    /* Required. Fill out[0..n) with random bytes (stream id, session and
     * crash ids). */
    void (*random_bytes)(void *ctx, uint8_t *out, size_t n);
    /* Required. Perform one request; fill *resp. Called only from inside
     * honch_tick/flush/shutdown. Must honour req->timeout_ms. */
    void (*post)(void *ctx, const honch_request_t *req, honch_response_t *resp);

    /* Optional (NULL = no battery, contract 11.9): percent 0-100, or a
     * negative value when unknown. Values above 100 count as unknown. Called
     * once per queued event (not for $error). */
    int (*battery_level)(void *ctx);
    /* Optional (NULL = none; host hook `auto_properties_callback`): writes
     * extra top-level key/value pairs onto every event except $error, like a
     * properties emit (called twice per event, see honch_w_measuring). A key
     * the caller's properties already hold is skipped (the caller wins). */
    int (*auto_properties)(void *ctx, honch_writer_t *w);
    /* Optional persistent state (NULL = RAM only, as on MicroPython).
     * Keys used: "firmware_version" ($firmware_update, contract 11.3) and
     * "distinct_id" (identity survives a restart).
     * state_load: copy the stored value into buf[0..cap), set *len and return
     * HONCH_STATUS_OK; set *len = 0 when nothing is stored; return
     * HONCH_STATUS_IO when it cannot be read or is longer than cap (the core
     * then treats it as absent).
     * state_store: store value[0..len) (len 0 = delete); HONCH_STATUS_OK or
     * HONCH_STATUS_IO. */
    int (*state_load)(void *ctx, const char *key, char *buf, size_t cap, size_t *len);
    int (*state_store)(void *ctx, const char *key, const char *value, size_t len);
    /* Optional diagnostics (NULL = silent). msg is a NUL-terminated constant
     * sentence; it never holds the project key. */
    void (*log)(void *ctx, const char *msg);
} honch_platform_t;

/* ------------------------------------------------------------------------ */
/* Configuration                                                              */
/* ------------------------------------------------------------------------ */

/* A UTF-8 string by pointer and byte length; ptr == NULL means "absent". */
typedef struct honch_str {
    const char *ptr;
    size_t len;
} honch_str_t;

/*
 * The crash report of contract 11.4 (from the previous boot on the host, or
 * from the wrapper's run()/error hook via honch_report_crash). Absent fields
 * have ptr == NULL. The core applies the table of 11.4: string fields that are
 * blank, longer than their limit or not well-formed UTF-8 are left out (whole
 * or not at all); `source` outside the allowed list becomes "unknown";
 * `severity` outside info/warning/fatal becomes "fatal"; `crash_id` is used
 * only when it is 32 lowercase hex characters, else 16 random bytes are drawn.
 */
typedef struct honch_crash_report {
    honch_str_t source;
    honch_str_t severity;
    honch_str_t reset_reason;
    honch_str_t message;
    honch_str_t component;
    honch_str_t firmware_build_id;
    honch_str_t exception_cause;
    honch_str_t fault_pc;
    honch_str_t fault_addr;
    honch_str_t backtrace;
    honch_str_t task_name;
    honch_str_t crash_id;
    uint64_t summary_version; /* sent only when > 0 */
    bool coredump_available;  /* sent (as true) only when set */
} honch_crash_report_t;

/* For ports that fill a report from a dict: the string field called
 * key[0..len) (e.g. "exception_cause"; "type", the published wrapper's name,
 * is exception_cause too), or NULL for any other name
 * (summary_version and coredump_available are not string fields). */
honch_str_t *honch_crash_report_field(honch_crash_report_t *report, const char *key, size_t len);

typedef struct honch_config {
    /* Required strings (contract 2.1). */
    honch_str_t api_key;          /* non-blank, bytes 0x21-0x7E only */
    honch_str_t device_id;        /* non-blank, <= 256 bytes */
    honch_str_t device_model;     /* non-blank, <= 512 bytes */
    honch_str_t firmware_version; /* non-blank, <= 512 bytes */
    /* Optional strings (ptr NULL = default). */
    honch_str_t endpoint_url; /* W3.1 URL; default HONCH_DEFAULT_ENDPOINT_URL */
    honch_str_t environment;  /* non-blank, <= 512 bytes; default "production" */
    /* Port-supplied. */
    honch_str_t sdk_platform; /* required: HONCH_SDK_PLATFORM_HOST / _MICROPYTHON */
    honch_str_t reset_reason; /* $device_boot reset_reason; absent, blank or
                                 > 64 bytes -> "unknown" (contract 11.2) */
    /* The queue store (required, len >= 1). Used in place for the client's
     * life; its previous content is ignored. At most 0xFFFFFFF0 bytes are
     * used. */
    uint8_t *event_buffer;
    size_t event_buffer_len;

    /* Numeric options of contract 4; 0 = default. The port rejects values
     * that are negative, above 0xFFFFFFFF or not ints before calling. */
    uint32_t batch_size;
    uint32_t max_queued_events;
    uint32_t max_event_bytes;
    uint32_t transport_timeout_ms;
    uint32_t flush_interval_seconds;
    uint32_t flush_min_interval_ms; /* HONCH_SPACING_DISABLED disables spacing */
    uint32_t flush_event_threshold;
    uint32_t flush_max_batches;
    uint32_t flush_retry_initial_ms;
    uint32_t flush_retry_max_ms;
    uint32_t battery_low_threshold; /* > 100 -> INVALID_ARGUMENT */
    /* Port clamp for transport_timeout_ms (0 = none); the MicroPython port
     * passes HONCH_MICROPYTHON_MAX_TRANSPORT_TIMEOUT_MS. */
    uint32_t max_transport_timeout_ms;

    /* Host: the crash report of the previous boot (NULL = none). Queues
     * $crash at construction and supplies $device_boot's reset_reason when
     * it holds a non-blank one of at most 64 bytes. Only read during
     * honch_init. */
    const honch_crash_report_t *crash_report;

    /* Required. Copied into the client during honch_init. */
    const honch_platform_t *platform;
} honch_config_t;

/* ------------------------------------------------------------------------ */
/* The client                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Client state, allocated by the caller; treat it as opaque. Its size is
 * HONCH_CLIENT_SIZE bytes, most of it the buffer that keeps an encoded
 * message until it is delivered or rejected (W5.6). Zeroed memory (or memory
 * on which honch_init failed) is a closed client: every function except
 * honch_init and honch_shutdown returns HONCH_STATUS_NOT_INITIALIZED.
 */
#define HONCH_CLIENT_SIZE (HONCH_MAX_MESSAGE_BYTES + 1408 + 32 * sizeof(void *))

typedef union honch_client {
    uint64_t align_;
    void *align_ptr_;
    unsigned char opaque_[HONCH_CLIENT_SIZE];
} honch_client_t;

/*
 * Construction (contract 2.1): validates the configuration
 * (INVALID_ARGUMENT, nothing else happens), sets up the queue in
 * event_buffer, draws the stream id and message-id seed (W3.4), queues
 * $firmware_update (when state holds a different firmware version),
 * $device_boot and $crash (with a crash report; skipped if it cannot be
 * queued), stores the firmware version, and starts the scheduler. No request
 * is made. On failure the client is left closed and the failing status is
 * returned (QUEUE_FULL when event_buffer cannot hold $device_boot, IO when
 * the state cannot be stored).
 */
int honch_init(honch_client_t *client, const honch_config_t *config);

/* Queue an event (contract 2.2). name: non-blank, <= 128 bytes. props may be
 * NULL (no properties). INVALID_ARGUMENT also when the queue record would
 * exceed max_event_bytes (C14); QUEUE_FULL when it exceeds the whole event
 * buffer (oversized_rejected_events + 1, C39). */
int honch_track(honch_client_t *client, const char *name, size_t name_len, honch_emit_fn props,
                void *props_ctx);

/* $identify with $anon_distinct_id (contract 11.6). distinct_id: non-blank,
 * <= 256 bytes. traits may be NULL; at most 63 of them. */
int honch_identify(honch_client_t *client, const char *distinct_id, size_t distinct_id_len,
                   honch_emit_fn traits, void *traits_ctx);

/* $set_property {key: value}. value_emit writes exactly one value. */
int honch_set_property(honch_client_t *client, const char *key, size_t key_len, honch_emit_fn value_emit,
                       void *value_ctx);

/* Sessions (contract 11.7). name == NULL means no name; a blank name is sent
 * as none. */
int honch_session_start(honch_client_t *client, const char *name, size_t name_len);
int honch_session_end(honch_client_t *client);

/* Coalesced $error (contract 11.5). message: non-blank. component: NULL or
 * blank for none; "honch" is ignored silently. */
int honch_report_log_error(honch_client_t *client, const char *message, size_t message_len,
                           const char *component, size_t component_len);

/* Queue $crash (contract 11.4) for a Python exception (the wrapper's run() and
 * error hook): `message` is cut to the longest prefix of at most 160 bytes
 * ending on a character boundary, and `source` defaults to "exception" when
 * `exception_cause` is given. At most one per client life: later reports
 * return HONCH_STATUS_OK and queue nothing. A $crash that cannot be queued
 * returns the enqueue status and leaves the once-flag clear. */
int honch_report_crash(honch_client_t *client, const honch_crash_report_t *report);

/* $connectivity_change (contract 10.2). */
int honch_connectivity_changed(honch_client_t *client, bool connected);

/*
 * The scheduler (contract 7). `online` is the port's connectivity decision
 * (the wrapper's connectivity_callback; true without one).
 * honch_tick: returns OK, NOT_INITIALIZED or BUSY only; delivery outcomes
 *   are recorded, never returned (at most one request per call).
 * honch_flush: OK, or OFFLINE, RATE_LIMITED (spacing or 429), TRANSPORT,
 *   TIMEOUT, SERVER, REJECTED per contract 7.3 and 8.
 * honch_shutdown: queues $device_shutdown, sends at most one message when
 *   online, closes the client (always); OK on a closed client.
 * honch_reset: contract 11.8; BUSY while an upload is in progress.
 */
int honch_tick(honch_client_t *client, bool online);
int honch_flush(honch_client_t *client, bool online);
int honch_shutdown(honch_client_t *client, bool online);
int honch_reset(honch_client_t *client);

/* The configured device_id (not NUL-terminated). */
int honch_get_device_id(const honch_client_t *client, const char **id, size_t *len);

/* Contract 6.5; the fields are the nine keys of queue_stats(). */
typedef struct honch_queue_stats {
    uint64_t queued_events;
    uint64_t queued_bytes;
    uint64_t buffer_bytes;
    uint64_t high_water_events;
    uint64_t high_water_bytes;
    uint64_t capacity_dropped_events;
    uint64_t oversized_rejected_events;
    uint64_t enqueue_failures;
    uint64_t dead_lettered_events;
} honch_queue_stats_t;

int honch_queue_stats(const honch_client_t *client, honch_queue_stats_t *out);

/* The stream id: 8 lowercase hex characters, NUL-terminated (W3.4). Valid
 * for the client's life, also after shutdown; "" before a successful init. */
const char *honch_stream_id(const honch_client_t *client);

/* Scheduler state of contract 7.1, for tests and diagnostics. */
typedef struct honch_scheduler_state {
    bool flush_requested;
    bool closed;
    bool message_pending;      /* an encoded message awaits delivery */
    uint32_t backoff_ms;       /* the current delay b */
    uint64_t next_interval_at; /* monotonic ms */
    uint64_t next_retry_at;    /* 0 = none */
    uint64_t next_outbound_at; /* 0 = none */
    uint32_t pending_message_id;
    uint32_t pending_offset;      /* next frame offset in the message */
    uint32_t pending_length;      /* message length in bytes */
    uint32_t pending_events;      /* events in the message */
} honch_scheduler_state_t;

int honch_scheduler_state(const honch_client_t *client, honch_scheduler_state_t *out);

/* ------------------------------------------------------------------------ */
/* The most recent failure (the wrapper's last_error(), honch-micropython    */
/* 0.3.1; contract clause C51).                                              */
/* ------------------------------------------------------------------------ */

/* Reasons: what exactly failed. A delivery outcome has the reason of its HTTP
 * answer or transport failure; a failure returned by an API call that has no
 * more specific reason has the reason of its status. harness/protocol.py
 * (LAST_ERROR_REASONS) lists the same strings. */
#define HONCH_REASON_NONE "none"
#define HONCH_REASON_OFFLINE "offline"                 /* flush() while offline */
#define HONCH_REASON_MIN_INTERVAL "min_interval"       /* flush() inside the spacing window */
#define HONCH_REASON_TIMEOUT "timeout"                 /* no answer within transport_timeout_ms */
#define HONCH_REASON_CONNECTION_FAILED "connection_failed" /* refused, reset, DNS, unreadable answer */
#define HONCH_REASON_AUTH_INVALID_KEY "auth_invalid_key"   /* 401 */
#define HONCH_REASON_FORBIDDEN "forbidden"             /* 403 */
#define HONCH_REASON_BAD_REQUEST "bad_request"         /* 400 */
#define HONCH_REASON_NOT_FOUND "not_found"             /* 404 */
#define HONCH_REASON_PAYLOAD_TOO_LARGE "payload_too_large" /* 413 */
#define HONCH_REASON_UNSUPPORTED_MEDIA_TYPE "unsupported_media_type" /* 415 */
#define HONCH_REASON_UNPROCESSABLE "unprocessable"     /* 422 */
#define HONCH_REASON_REJECTED "rejected"               /* any other refusing 4xx */
#define HONCH_REASON_REQUEST_TIMEOUT "request_timeout" /* 408 */
#define HONCH_REASON_CONFLICT "conflict"               /* 409 */
#define HONCH_REASON_RATE_LIMITED "rate_limited"       /* 429 */
#define HONCH_REASON_SERVER_ERROR "server_error"       /* 5xx */
#define HONCH_REASON_UNEXPECTED_STATUS "unexpected_status" /* 202 on a final frame, 204 on another, 1xx, 3xx */
#define HONCH_REASON_UNDELIVERABLE "undeliverable_event"   /* dead-lettered without a request (6.3 step 4) */

/* Components: where it failed. */
#define HONCH_COMPONENT_API "api"             /* an argument or the client's state */
#define HONCH_COMPONENT_SCHEDULER "scheduler" /* offline, spacing */
#define HONCH_COMPONENT_TRANSPORT "transport" /* the request did not get an answer */
#define HONCH_COMPONENT_SERVER "server"       /* the answer refused or deferred it */
#define HONCH_COMPONENT_QUEUE "queue"         /* the queue could not hold or encode it */

#define HONCH_LAST_ERROR_MESSAGE_BYTES 95

typedef struct honch_last_error {
    int status;            /* HONCH_STATUS_OK until something failed */
    const char *reason;    /* a HONCH_REASON_* string, or the snake_case name of
                              the status (e.g. "invalid_argument"); "none" until
                              something failed */
    const char *component; /* a HONCH_COMPONENT_* string; NULL until something failed */
    int http_status;       /* the HTTP answer involved, 0 when none */
    int os_error;          /* honch_response_t.os_error of the failed request, 0 when none */
    char message[HONCH_LAST_ERROR_MESSAGE_BYTES + 1]; /* NUL-terminated; never the project key */
} honch_last_error_t;

/* The most recent failure of this client: a delivery outcome recorded by
 * honch_tick/flush/shutdown (even though tick returns OK), or a failure a port
 * returned to its caller and noted with honch_note_error. It is never cleared
 * by a later success; reset() keeps it. Valid also after shutdown. */
int honch_last_error(const honch_client_t *client, honch_last_error_t *out);

/* A port reports a failure it returns to its caller (every non-OK status it
 * raises, including its own argument checks before calling the core).
 * message[0..len) (UTF-8, cut to HONCH_LAST_ERROR_MESSAGE_BYTES on a character
 * boundary) says what was wrong; NULL keeps the status text. When the core
 * has just recorded a more specific failure with the same status during the
 * call (a delivery outcome of flush), that record is kept. */
void honch_note_error(honch_client_t *client, int status, const char *message, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* HONCH_HONCH_H */
