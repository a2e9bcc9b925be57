/*
 * honch_internal.h - private declarations shared by the core's translation
 * units and its unit tests (core/tests). Not part of the public API.
 */
#ifndef HONCH_INTERNAL_H
#define HONCH_INTERNAL_H

#include "honch/honch.h"

#include <string.h>

#ifndef HONCH_SDK_VERSION
#error "define HONCH_SDK_VERSION as a C string literal, e.g. -DHONCH_SDK_VERSION='\"0.1.0\"'"
#endif

#define HC_MAGIC 0x48434f52u /* "HCOR": set by a successful honch_init */
#define HC_RING_MAX 0xFFFFFFF0u

/* Record kinds in the ring (first byte of each record). */
#define HC_REC_EVENT 0x45  /* 'E' */
#define HC_REC_MARKER 0x4D /* 'M': identity (distinct_id, session) of the events after it */
#define HC_REC_HEADER 5    /* kind byte + 32-bit little-endian record length */

/* Reserved property ids (W7.5.1). */
#define HC_RID_BATTERY_LEVEL 1
#define HC_RID_RESET_REASON 3
#define HC_RID_STATE 4
#define HC_RID_PREVIOUS_VERSION 5
#define HC_RID_NEW_VERSION 6
#define HC_RID_SESSION_NAME 7

/* Wire tags (W7.6). */
#define HC_TAG_NULL 0x00
#define HC_TAG_FALSE 0x01
#define HC_TAG_TRUE 0x02
#define HC_TAG_UINT 0x03
#define HC_TAG_INT 0x04
#define HC_TAG_F64 0x06
#define HC_TAG_STRING 0x07
#define HC_TAG_BYTES 0x08
#define HC_TAG_ARRAY 0x09
#define HC_TAG_MAP 0x0A

/* --- util ---------------------------------------------------------------- */

unsigned hc_uvarint_len(uint64_t v);
uint8_t *hc_put_uvarint(uint8_t *p, uint64_t v);
/* Reads a varint the core wrote itself (records are trusted). */
const uint8_t *hc_get_uvarint(const uint8_t *p, uint64_t *v);
uint64_t hc_zigzag(int64_t v);
uint16_t hc_crc16(uint16_t crc, const uint8_t *p, size_t n);
#define HC_CRC_INIT 0xFFFFu
bool hc_utf8_valid(const char *s, size_t n);
bool hc_blank(const char *s, size_t n);
/* Longest prefix of s[0..n) of at most max bytes ending on a character boundary. */
size_t hc_utf8_cut(const char *s, size_t n, size_t max);
void hc_hex(char *out, const uint8_t *in, size_t n);
bool hc_str_eq(const char *a, size_t an, const char *b, size_t bn);
uint64_t hc_add_sat(uint64_t a, uint64_t b);
size_t hc_cstr_len(const char *s);

/* --- writer (two-pass record writer) -------------------------------------- */

#define HC_W_PROPS 0x01    /* top level holds key/value pairs */
#define HC_W_SDK 0x02      /* reserved keys allowed (SDK-generated properties) */
#define HC_W_DEDUPE 0x04   /* skip a top-level key already present (auto properties) */

struct honch_writer {
    uint8_t *out;        /* NULL while measuring */
    uint8_t *props;      /* writing: start of the record's properties (dedupe scan) */
    uint32_t pos;        /* bytes produced */
    uint32_t cap;        /* writing: bytes available at out */
    uint32_t skip_from;  /* writing: pos where a skipped (duplicate) property began */
    int status;
    uint32_t flags;
    uint32_t top_count;  /* top-level properties written (all parts) */
    uint32_t part_count; /* ... by the current part */
    uint32_t part_max;   /* limit for the current part */
    uint8_t depth;       /* open containers */
    uint8_t want_key;    /* the next item at this level is a key */
    uint8_t str_only;    /* the next value must be a string (reserved-name key) */
    uint8_t skipping;    /* writing: the current top-level property is a duplicate */
    uint16_t map_bits;   /* bit d: container at depth d is a map */
    uint32_t remaining[HONCH_MAX_NESTING + 1];
};

void hc_w_init(honch_writer_t *w, uint8_t *out, uint32_t cap);
/* Start a part of the top-level properties (user, SDK or auto). */
void hc_w_part(honch_writer_t *w, uint32_t flags, uint32_t max_count);
/* Top-level properties complete and consistent? Returns the writer status. */
int hc_w_finish_part(honch_writer_t *w);
/* SDK-side writes (bypass the reserved-key rule). */
int hc_w_reserved_key(honch_writer_t *w, unsigned rid);
int hc_w_int_tag(honch_writer_t *w, int64_t v); /* always tag 04 ($battery_level) */

/* Record reading (encoder, dedupe): skip one value / read one key. */
const uint8_t *hc_rec_skip_value(const uint8_t *p);
/* Key at p: *rid = reserved id (custom: 0, then *s and *n give the text). */
const uint8_t *hc_rec_key(const uint8_t *p, unsigned *rid, const char **s, size_t *n);

/* --- identity -------------------------------------------------------------- */

typedef struct hc_ident {
    const char *distinct;
    size_t distinct_len;
    const char *session; /* NULL = none; else HONCH_SESSION_ID_CHARS bytes */
} hc_ident_t;

/* --- the client ------------------------------------------------------------ */

typedef struct hc_ring {
    uint32_t head, tail, end; /* data: [head, tail) or, wrapped, [head, end) + [0, tail) */
    uint32_t nrec;            /* records (events and markers) */
    uint8_t wrapped;
} hc_ring_t;

typedef struct hc_err_slot {
    uint32_t count;
    uint8_t comp_len; /* 0 = no component */
    uint8_t msg_len;
    char comp[HONCH_ERROR_COMPONENT_CUT_BYTES];
    char msg[HONCH_ERROR_MESSAGE_CUT_BYTES];
} hc_err_slot_t;

typedef struct hc_client {
    uint32_t magic;
    uint8_t closed;
    uint8_t busy;       /* inside tick/flush/shutdown/reset */
    uint8_t building;   /* inside an emit/battery/auto-properties callback */
    uint8_t flush_requested;
    uint8_t conn_state; /* 0 unknown, 1 connected, 2 disconnected */
    uint8_t battery_latch;
    uint8_t crash_done;
    uint8_t session_active;
    uint8_t lm_valid;   /* lm_off holds the newest marker in the ring */
    uint8_t msg_active; /* an encoded message is pending */
    uint8_t err_used;
    uint8_t head_session_len; /* 0 or HONCH_SESSION_ID_CHARS */
    uint16_t head_distinct_len;

    /* configuration (strings are the caller's) */
    honch_str_t api_key, device_id, device_model, firmware_version, environment, sdk_platform, url_base;
    uint32_t batch_size, max_queued_events, max_event_bytes, timeout_ms, min_interval_ms, threshold,
        max_batches, retry_initial_ms, retry_max_ms, battery_threshold;
    uint64_t interval_ms;
    honch_platform_t plat;
    uint32_t seed;
    char stream_id[HONCH_STREAM_ID_CHARS + 1];

    /* scheduler (contract 7.1) */
    uint64_t next_interval_at, next_retry_at, next_outbound_at;
    uint32_t backoff_ms;

    /* queue */
    uint8_t *buf;
    uint32_t cap;
    hc_ring_t ring;
    uint32_t lm_off;
    uint32_t queued_events;
    uint64_t queued_bytes;
    uint64_t head_seq; /* sequence of the oldest queued event */
    uint64_t next_seq;
    uint64_t high_water_events, high_water_bytes, capacity_dropped, oversized_rejected, enqueue_failures,
        dead_lettered;

    /* error slots (contract 11.5) */
    uint32_t err_dropped;
    hc_err_slot_t err[HONCH_ERROR_SLOTS];

    /* identity of the oldest queued event (or the current one when empty) */
    char head_distinct[HONCH_MAX_DISTINCT_ID_BYTES];
    char head_session[HONCH_SESSION_ID_CHARS];

    /* the most recent failure (honch_last_error) */
    uint8_t le_fresh; /* recorded by the scheduler since the port last noted a failure */
    int16_t le_status;
    uint16_t le_http;
    int32_t le_os_error;
    const char *le_reason, *le_component;
    char le_message[HONCH_LAST_ERROR_MESSAGE_BYTES + 1];

    /* the pending message (W5.6) */
    uint32_t msg_start, msg_len, msg_next, msg_id, msg_events;
    uint64_t msg_first_seq, msg_last_seq;
    uint8_t frame_fields[1 + 3 * 10];
    uint8_t crc_le[2];
    uint8_t msg[HONCH_MAX_MESSAGE_BYTES + 1];

} hc_client_t;

#define HC(c) ((hc_client_t *)(void *)(c))
#define HCC(c) ((const hc_client_t *)(const void *)(c))

/* Record the most recent failure (honch_last_error); message[0..message_len) or NULL for the status text. */
void hc_note(hc_client_t *c, int status, const char *reason, const char *component, int http, int os_error,
             const char *message, size_t message_len);

/* --- queue (honch_queue.c) -------------------------------------------------- */

void hc_q_init(hc_client_t *c, uint8_t *buf, size_t len);
void hc_q_clear(hc_client_t *c);
/* Drop the oldest record; an event counts in capacity_dropped when `count`. */
void hc_q_pop(hc_client_t *c, bool count_drop);
/* Identity of the next event to be written without a marker. */
void hc_q_tail_ident(const hc_client_t *c, hc_ident_t *id);
void hc_q_set_head_ident(hc_client_t *c, const hc_ident_t *id);
void hc_q_head_ident(const hc_client_t *c, hc_ident_t *id);
bool hc_ident_eq(const hc_ident_t *a, const hc_ident_t *b);
uint32_t hc_marker_size(const hc_ident_t *id);
/* Parse a marker record body. */
void hc_marker_read(const uint8_t *rec, hc_ident_t *id);
/* Records in order: first record offset, then the next one. */
uint32_t hc_q_next(const hc_client_t *c, uint32_t off);
static inline uint32_t hc_rec_len(const uint8_t *r) {
    return (uint32_t)r[1] | (uint32_t)r[2] << 8 | (uint32_t)r[3] << 16 | (uint32_t)r[4] << 24;
}
/* Plan room for an optional marker (msize, 0 = none) and a record of esize
 * bytes, dropping the oldest records as needed (the record always fits:
 * esize <= cap). Returns the record's offset. *marker_off gets the marker's
 * offset, or UINT32_MAX when no marker is needed any more (queue emptied: the
 * identity then went to the head cache). Nothing is committed. */
uint32_t hc_q_make_room(hc_client_t *c, uint32_t msize, uint32_t esize, uint32_t *marker_off,
                        hc_ring_t *planned);
/* Commit a planned write: marker (if any) + event record of final size. */
void hc_q_commit(hc_client_t *c, const hc_ring_t *planned, uint32_t marker_off, const hc_ident_t *id,
                 uint32_t event_off, uint32_t event_size);
/* Consume (delivered) or dead-letter queued events with sequence <= last. */
uint32_t hc_q_remove_through(hc_client_t *c, uint64_t last_seq);

/* --- encoder (honch_encode.c) ----------------------------------------------- */

#define HC_TS_AUTO (-1) /* compute device_time_source (the SDK always does) */
#define HC_TS_OMIT (-2) /* leave context id 9 out (tests against upstream vectors) */

typedef struct hc_msg_ctx {
    honch_str_t strings[8]; /* context ids 1..8 (8: ptr NULL = no session) */
    int time_source;        /* HC_TS_AUTO, HC_TS_OMIT, or a fixed value 0-3 */
    uint64_t base_time;     /* 0: the first event's timestamp (contract 5; the SDK always);
                               tests set the base of an upstream vector whose first delta is not 0 */
    uint64_t now;           /* rebasing (contract 5) */
    uint64_t wall;
    uint32_t max_events;
} hc_msg_ctx_t;

/* Encode the longest fitting prefix of the event records recs[0..n) into
 * out (HONCH_MAX_MESSAGE_BYTES + 1 bytes). Returns the number of events
 * encoded (0: the first alone does not fit); *start and *len locate the message. */
uint32_t hc_encode(const hc_msg_ctx_t *ctx, const uint8_t *const *recs, uint32_t n, uint8_t *out,
                   uint32_t *start, uint32_t *len);

/* W5.5: the frame at offset *o of message m[0..t) with id, limit F. Writes the
 * frame fields (header byte, id, total/offset) to fields (<= 16 bytes) and
 * returns their length; *payload = bytes of the message in the frame;
 * *final = the frame carries the CRC; *o advances. Returns 0 when F is too
 * small (final_cap or cap < 1). */
uint32_t hc_frame(uint32_t t, uint32_t id, uint32_t *o, uint32_t max_frame, uint8_t *fields,
                  uint32_t *payload, bool *final);
/* W5.5: every step of the chunking of a message of t bytes with this id works
 * (checked before the first frame goes out: a failing step makes the message
 * unsendable as a whole, not after some of its frames). */
bool hc_frames_fit(uint32_t t, uint32_t id, uint32_t max_frame);

/* --- scheduler helpers (honch_sched.c) --------------------------------------- */

/* Contract 9: Retry-After in ms (0 when absent or not understood). */
uint32_t hc_retry_after_ms(const char *v, size_t n, uint64_t wall_ms);
/* Contract 8: the status for one HTTP answer / failure. OK means "go on"
 * (202 on a non-final frame) or "delivered" (2xx except 202 on the final). */
int hc_classify(const honch_response_t *r, bool final_frame);
/* Contract 9: wait for a retryable outcome at now; grows *b. */
uint64_t hc_backoff(uint32_t *b, uint32_t max_ms, uint64_t now, uint32_t retry_after_ms);

/* Form the next message from the queue head (OK, or REJECTED when the first
 * event was dead-lettered because it cannot be encoded alone, or when the
 * frame limit cannot carry the message: it is then pending and the caller's
 * record(REJECTED) dead-letters it, in both cases without a request). */
int hc_form_message(hc_client_t *c);

/* --- client (honch_client.c) -------------------------------------------------- */

/* Contract 11.5: turn the coalesced log errors into $error events. */
void hc_drain_errors(hc_client_t *c);
/* Queue an SDK event without properties (e.g. $device_shutdown). */
int hc_enqueue_named(hc_client_t *c, const char *name);

#endif /* HONCH_INTERNAL_H */
