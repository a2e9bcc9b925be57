/*
 * The two-pass property writer: validates values (contract 2.3/2.4) and
 * writes them in the queue record format.
 *
 * Record value format (internal; chosen so that a record of an event is at
 * most P + 64 + 16·V bytes, contract 2.3): a key is uvarint 2·r for the
 * reserved property id r, or uvarint 2·len+1 followed by the text; a value is
 * its wire tag followed by: nothing (null/bool), uvarint (uint), zigzag uvarint
 * (int), 8 bytes little-endian (f64), uvarint length + bytes (str, bytes),
 * uvarint count + items (array), uvarint count + key/value pairs (map). It is
 * the wire encoding (W7.6) with strings inline instead of interned.
 */
#include "honch_internal.h"

static int fail(honch_writer_t *w, int st) {
    if (!w->status) w->status = st;
    return w->status;
}

/* Room for n more bytes at the writing position, or NULL (measuring, skipping, failed). */
static uint8_t *room(honch_writer_t *w, size_t n) {
    if (w->status || w->skipping) return NULL;
    if (n > HC_RING_MAX - w->pos) {
        fail(w, HONCH_STATUS_INVALID_ARGUMENT); /* far above any max_event_bytes */
        return NULL;
    }
    uint32_t at = w->pos;
    w->pos += (uint32_t)n;
    if (!w->out) return NULL;
    if (w->pos > w->cap) {
        fail(w, HONCH_STATUS_INTERNAL); /* the emitter wrote more than it measured */
        return NULL;
    }
    return w->out + at;
}

static void put(honch_writer_t *w, const void *p, size_t n) {
    uint8_t *d = room(w, n);
    if (d && n) memcpy(d, p, n);
}

static void put_byte(honch_writer_t *w, uint8_t b) {
    uint8_t *d = room(w, 1);
    if (d) *d = b;
}

static void put_uvarint(honch_writer_t *w, uint64_t v) {
    if (v < 0x80) {
        put_byte(w, (uint8_t)v);
        return;
    }
    uint8_t *d = room(w, hc_uvarint_len(v));
    if (d) hc_put_uvarint(d, v);
}

void hc_w_init(honch_writer_t *w, uint8_t *out, uint32_t cap) {
    memset(w, 0, sizeof *w);
    w->out = out;
    w->props = out;
    w->cap = cap;
    w->want_key = 1;
}

void hc_w_part(honch_writer_t *w, uint32_t flags, uint32_t max_count) {
    w->flags = flags;
    w->part_count = 0;
    w->part_max = max_count;
}

int hc_w_finish_part(honch_writer_t *w) {
    if (!w->status && (w->depth != 0 || !w->want_key)) fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    return w->status;
}

bool honch_w_measuring(const honch_writer_t *w) { return w->out == NULL; }

int honch_w_fail(honch_writer_t *w, int status) {
    return fail(w, status ? status : HONCH_STATUS_INVALID_ARGUMENT);
}

static bool in_map(const honch_writer_t *w) { return w->depth == 0 || (w->map_bits >> w->depth & 1u); }

static int begin_value(honch_writer_t *w, bool is_str) {
    if (w->status) return w->status;
    if (w->want_key || (w->str_only && !is_str)) return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    w->str_only = 0;
    if (!in_map(w)) {
        if (w->remaining[w->depth] == 0) return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
        w->remaining[w->depth]--;
    }
    return 0;
}

static int end_value(honch_writer_t *w) {
    if (in_map(w)) w->want_key = 1;
    if (w->depth == 0) w->skipping = 0;
    return w->status;
}

/* The 11 reserved keys of contract 2.4 (rid 0: refused) and the 5 reserved
 * names the API accepts (rid 3-7: sent as reserved references), by length. */
static const struct {
    const char *s;
    uint8_t n, rid;
} reserved[] = {
    {"state", 5, HC_RID_STATE},
    {"$device_id", 10, 0},
    {"$wifi_rssi", 10, 0},
    {"distinct_id", 11, 0},
    {"$session_id", 11, 0},
    {"new_version", 11, HC_RID_NEW_VERSION},
    {"$environment", 12, 0},
    {"$sdk_version", 12, 0},
    {"reset_reason", 12, HC_RID_RESET_REASON},
    {"session_name", 12, HC_RID_SESSION_NAME},
    {"$device_model", 13, 0},
    {"$sdk_platform", 13, 0},
    {"$battery_level", 14, 0},
    {"previous_version", 16, HC_RID_PREVIOUS_VERSION},
    {"$anon_distinct_id", 17, 0},
    {"$firmware_version", 17, 0},
};

/* The table entry a key spells, or -1. */
static int reserved_entry(const char *s, size_t n) {
    if (n < 5 || n > 17) return -1;
    for (unsigned i = 0; i < sizeof reserved / sizeof reserved[0] && reserved[i].n <= n; i++)
        if (reserved[i].n == n && reserved[i].s[1] == s[1] && memcmp(reserved[i].s, s, n) == 0) return (int)i;
    return -1;
}

/* Contract 2.3: not blank, no U+0000, well-formed UTF-8. */
static bool key_text_ok(const char *s, size_t n) {
    uint8_t nul = 0, high = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        nul |= (uint8_t)(c == 0);
        high |= c;
    }
    return !nul && !hc_blank(s, n) && (high < 0x80 || hc_utf8_valid(s, n));
}

const uint8_t *hc_rec_key(const uint8_t *p, unsigned *rid, const char **s, size_t *n) {
    uint64_t k;
    p = hc_get_uvarint(p, &k);
    if (!(k & 1)) {
        *rid = (unsigned)(k >> 1);
        *s = NULL;
        *n = 0;
        return p;
    }
    *rid = 0;
    *s = (const char *)p;
    *n = (size_t)(k >> 1);
    return p + *n;
}

const uint8_t *hc_rec_skip_value(const uint8_t *p) {
    uint64_t v;
    switch (*p++) {
    case HC_TAG_UINT:
    case HC_TAG_INT:
        return hc_get_uvarint(p, &v);
    case HC_TAG_F64:
        return p + 8;
    case HC_TAG_STRING:
    case HC_TAG_BYTES:
        p = hc_get_uvarint(p, &v);
        return p + v;
    case HC_TAG_ARRAY:
    case HC_TAG_MAP: {
        bool map = p[-1] == HC_TAG_MAP;
        p = hc_get_uvarint(p, &v);
        while (v--) {
            if (map) {
                unsigned rid;
                const char *s;
                size_t n;
                p = hc_rec_key(p, &rid, &s, &n);
            }
            p = hc_rec_skip_value(p);
        }
        return p;
    }
    default: /* null, false, true */
        return p;
    }
}

/* Writing pass: is this top-level key already among the written properties? */
static bool already_written(const honch_writer_t *w, unsigned rid, const char *s, size_t n) {
    const uint8_t *p = w->props, *end = w->props + w->pos;
    while (p < end) {
        unsigned r;
        const char *ks;
        size_t kn;
        p = hc_rec_key(p, &r, &ks, &kn);
        if (r == rid && (rid || hc_str_eq(ks, kn, s, n))) return true;
        p = hc_rec_skip_value(p);
    }
    return false;
}

static int key_common(honch_writer_t *w, unsigned rid, const char *s, size_t n) {
    if (w->status) return w->status;
    if (!w->want_key) return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    if (w->depth == 0) {
        if (w->out && (w->flags & HC_W_DEDUPE) && already_written(w, rid, s, n)) {
            w->skipping = 1; /* validated as usual, written not at all */
        } else {
            if (w->part_count >= w->part_max || w->top_count >= HONCH_MAX_PROPERTIES)
                return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
            w->part_count++;
            w->top_count++;
        }
    } else {
        if (w->remaining[w->depth] == 0) return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
        w->remaining[w->depth]--;
    }
    if (rid) {
        put_uvarint(w, 2u * rid);
    } else {
        put_uvarint(w, 2u * (uint64_t)n + 1);
        put(w, s, n);
    }
    w->want_key = 0;
    w->str_only = rid >= HC_RID_RESET_REASON;
    return w->status;
}

int honch_w_key(honch_writer_t *w, const char *s, size_t n) {
    if (w->status) return w->status;
    if (!s || !key_text_ok(s, n)) return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    int r = reserved_entry(s, n);
    if (r >= 0 && !reserved[r].rid && !(w->flags & HC_W_SDK)) return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    return key_common(w, r >= 0 ? reserved[r].rid : 0, s, n);
}

int hc_w_reserved_key(honch_writer_t *w, unsigned rid) { return key_common(w, rid, NULL, 0); }

static int scalar(honch_writer_t *w, uint8_t tag, uint64_t v, bool with_varint) {
    if (begin_value(w, false)) return w->status;
    put_byte(w, tag);
    if (with_varint) put_uvarint(w, v);
    return end_value(w);
}

int honch_w_null(honch_writer_t *w) { return scalar(w, HC_TAG_NULL, 0, false); }

int honch_w_bool(honch_writer_t *w, bool value) {
    return scalar(w, value ? HC_TAG_TRUE : HC_TAG_FALSE, 0, false);
}

int honch_w_uint(honch_writer_t *w, uint64_t value) { return scalar(w, HC_TAG_UINT, value, true); }

int honch_w_int(honch_writer_t *w, int64_t value) {
    if (value >= 0) return scalar(w, HC_TAG_UINT, (uint64_t)value, true);
    return scalar(w, HC_TAG_INT, hc_zigzag(value), true);
}

int hc_w_int_tag(honch_writer_t *w, int64_t value) { return scalar(w, HC_TAG_INT, hc_zigzag(value), true); }

int honch_w_f64(honch_writer_t *w, double value) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    if (((bits >> 52) & 0x7FF) == 0x7FF) return fail(w, HONCH_STATUS_INVALID_ARGUMENT); /* NaN, inf */
    if (begin_value(w, false)) return w->status;
    uint8_t *d = room(w, 9);
    if (d) {
        *d++ = HC_TAG_F64;
        for (int i = 0; i < 8; i++) d[i] = (uint8_t)(bits >> (8 * i)); /* little-endian on every host */
    }
    return end_value(w);
}

static int blob(honch_writer_t *w, uint8_t tag, const void *p, size_t n) {
    if (begin_value(w, tag == HC_TAG_STRING)) return w->status;
    if (!p && n) return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    if (tag == HC_TAG_STRING && !hc_utf8_valid((const char *)p, n))
        return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    put_byte(w, tag);
    put_uvarint(w, n);
    put(w, p, n);
    return end_value(w);
}

int honch_w_str(honch_writer_t *w, const char *s, size_t len) { return blob(w, HC_TAG_STRING, s, len); }

int honch_w_bytes(honch_writer_t *w, const void *data, size_t len) { return blob(w, HC_TAG_BYTES, data, len); }

static int begin_container(honch_writer_t *w, bool map, size_t count) {
    if (begin_value(w, false)) return w->status;
    if (w->depth >= HONCH_MAX_NESTING || count > HC_RING_MAX) return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    put_byte(w, map ? HC_TAG_MAP : HC_TAG_ARRAY);
    put_uvarint(w, count);
    w->depth++;
    w->remaining[w->depth] = (uint32_t)count;
    if (map)
        w->map_bits |= (uint16_t)(1u << w->depth);
    else
        w->map_bits &= (uint16_t)~(1u << w->depth);
    w->want_key = map;
    return w->status;
}

int honch_w_begin_array(honch_writer_t *w, size_t count) { return begin_container(w, false, count); }

int honch_w_begin_map(honch_writer_t *w, size_t count) { return begin_container(w, true, count); }

int honch_w_end(honch_writer_t *w) {
    if (w->status) return w->status;
    if (w->depth == 0 || w->remaining[w->depth] != 0 || (in_map(w) && !w->want_key))
        return fail(w, HONCH_STATUS_INVALID_ARGUMENT);
    w->map_bits &= (uint16_t)~(1u << w->depth);
    w->depth--;
    w->want_key = 0;
    return end_value(w);
}
